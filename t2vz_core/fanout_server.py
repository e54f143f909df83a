"""What runs inside the fan-out's Ray tasks: a small ComfyUI HTTP client, the pool that hands
free servers to parts, and one part's run. Standard library only (plus ray, inside the
functions), and sent to Ray workers by value, so a worker needs neither this pack nor ComfyUI.

Failures are of three kinds:
- ServerGone: the server does not answer, died, or forgot the prompt. The server is marked
  dead and the part is retried (by Ray) on another server.
- PartFailed: the server ran the prompt and reported an error (out of memory, say). The part
  is retried, preferring a server that has not failed it.
- a rejected prompt (HTTP 400, a validation error) would be rejected everywhere: the part
  ends with that message, without retries.
"""
from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

CLIENT_ID = "t2vz-fanout-" + uuid.uuid4().hex[:8]


class ServerGone(RuntimeError):
    pass


class PartFailed(RuntimeError):
    pass


class PromptRejected(RuntimeError):
    pass


class Comfy:
    """The few ComfyUI routes a part needs: POST /prompt, GET /history, /queue, /view, /object_info."""

    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
        except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as err:
            reason = getattr(err, "reason", err)
            raise ServerGone(f"{self.url} does not answer ({reason})") from None

    def get_json(self, path: str):
        status, raw = self.request("GET", path)
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        if status != 200 or data is None:
            raise ServerGone(f"{self.url}{path} answered HTTP {status}, not ComfyUI's JSON: {raw[:200]!r}")
        return data

    def object_info(self, class_type: str) -> dict:
        return self.get_json("/object_info/" + urllib.parse.quote(class_type)).get(class_type, {})

    def queue(self, prompt: dict) -> str:
        status, raw = self.request("POST", "/prompt", {"prompt": prompt, "client_id": CLIENT_ID})
        try:
            reply = json.loads(raw) if raw else {}
        except ValueError:
            reply = {}
        if status == 200 and reply.get("prompt_id"):
            if reply.get("node_errors"):
                raise PromptRejected(f"{self.url} rejected nodes of the prompt: {_node_errors(reply)}")
            return reply["prompt_id"]
        if status == 400:
            err = (reply.get("error") or {}).get("message", "")
            raise PromptRejected(f"{self.url} rejected the prompt: {err} {_node_errors(reply)}".strip())
        raise ServerGone(f"{self.url} POST /prompt answered HTTP {status}: {raw[:200]!r}")

    def wait(self, prompt_id: str, timeout: float, poll: float = 0.3) -> dict:
        """The finished /history entry; PartFailed on an execution error, ServerGone when the
        server dies, forgets the prompt, or does not finish within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        pid = urllib.parse.quote(prompt_id)
        while True:
            entry = self.get_json(f"/history/{pid}").get(prompt_id)
            if entry is not None:
                status = entry.get("status", {})
                if status.get("status_str") == "success":
                    return entry
                if status.get("status_str") == "error":
                    raise PartFailed(f"{self.url} failed the part: {_execution_error(status)}")
            elif not self._queued(prompt_id) and self.get_json(f"/history/{pid}").get(prompt_id) is None:
                raise ServerGone(f"{self.url} forgot the prompt (restarted?)")
            if time.monotonic() > deadline:
                raise ServerGone(f"{self.url} did not finish the part within {timeout:.0f} s")
            time.sleep(poll)

    def _queued(self, prompt_id: str) -> bool:
        q = self.get_json("/queue")
        return any(len(item) > 1 and item[1] == prompt_id
                   for item in q.get("queue_running", []) + q.get("queue_pending", []))

    def view(self, item: dict) -> bytes:
        query = urllib.parse.urlencode({"filename": item["filename"], "subfolder": item.get("subfolder", ""),
                                        "type": item.get("type", "output")})
        status, raw = self.request("GET", "/view?" + query)
        if status != 200:
            raise ServerGone(f"{self.url} GET /view of {item['filename']} answered HTTP {status}")
        return raw


def _node_errors(reply: dict) -> str:
    out = []
    for nid, info in (reply.get("node_errors") or {}).items():
        for e in info.get("errors", []):
            out.append(f"node {nid} ({info.get('class_type', '?')}): {e.get('details') or e.get('message')}")
    return "; ".join(out)


def _execution_error(status: dict) -> str:
    for event, data in status.get("messages", []):
        if event == "execution_error":
            return f"{data.get('node_type')} (node {data.get('node_id')}): {data.get('exception_message', '').strip()}"
        if event == "execution_interrupted":
            return "the prompt was interrupted"
    return "an error without a message"


class ServerPool:
    """A Ray actor: which servers are free, dead, or have failed which part; and the events
    the driver prints."""

    def __init__(self, urls: list[str]):
        self.urls = list(urls)
        self.busy: set[str] = set()
        self.dead: dict[str, str] = {}
        self.tried: dict[int, set[str]] = {}
        self.attempts: dict[int, int] = {}
        self.log: list[tuple[str, int, str, str]] = []  # (kind, part index, url, text)

    def acquire(self, part: int):
        """("ok", url, attempt), ("wait",) while every usable server is busy, or ("none", why)."""
        alive = [u for u in self.urls if u not in self.dead]
        if not alive:
            return ("none", "no server is left: " + "; ".join(f"{u}: {why}" for u, why in self.dead.items()))
        fresh = [u for u in alive if u not in self.tried.get(part, set())]
        usable = fresh or alive
        for url in usable:
            if url not in self.busy:
                self.busy.add(url)
                self.attempts[part] = self.attempts.get(part, 0) + 1
                return ("ok", url, self.attempts[part])
        return ("wait",)

    def release(self, url: str) -> None:
        self.busy.discard(url)

    def failed(self, part: int, url: str, why: str, gone: bool) -> None:
        self.tried.setdefault(part, set()).add(url)
        if gone:
            self.dead[url] = why
        self.busy.discard(url)
        self.log.append(("retry", part, url, why))

    def event(self, kind: str, part: int, url: str, text: str) -> None:
        self.log.append((kind, part, url, text))

    def events(self, since: int) -> list:
        return self.log[since:]


def run_part(pool, index: int, prompt: dict, save_id: str, frames: int, timeout: float) -> dict:
    """One part on a free server: queue, wait, fetch the PNGs. {"url", "attempt", "seconds",
    "pngs"}, or {"error": message} when retrying cannot help. Raises ServerGone / PartFailed
    for Ray to retry the task."""
    import ray

    while True:
        got = ray.get(pool.acquire.remote(index))
        if got[0] == "ok":
            break
        if got[0] == "none":
            return {"error": got[1]}
        time.sleep(0.2)
    url, attempt = got[1], got[2]
    pool.event.remote("queued", index, url, f"attempt {attempt}")
    started = time.monotonic()
    client = Comfy(url)
    try:
        entry = client.wait(client.queue(prompt), timeout)
        items = [i for i in entry.get("outputs", {}).get(save_id, {}).get("images", []) if isinstance(i, dict)]
        if len(items) != frames:
            why = " (a Video KSampler's latent_image with more frames than --video-length?)" if len(items) > frames else ""
            raise PartFailed(f"{url} saved {len(items)} frames for a part of {frames}{why}")
        pngs = [client.view(i) for i in items]
    except PromptRejected as e:
        ray.get(pool.release.remote(url))
        return {"error": str(e)}
    except (ServerGone, PartFailed) as e:
        ray.get(pool.failed.remote(index, url, str(e), isinstance(e, ServerGone)))
        raise
    ray.get(pool.release.remote(url))
    return {"url": url, "attempt": attempt, "seconds": time.monotonic() - started, "pngs": pngs}
