"""Run the real ComfyUI (`main.py`) on loopback and talk to it over its HTTP API.

    with ComfyServer(workdir) as server:
        reply = server.queue(prompt)            # {"prompt_id", "number", "node_errors"} or,
                                                # on HTTP 400, {"error", "node_errors"}
        entry = server.wait(reply["prompt_id"])  # the /history entry: outputs, status
        paths = server.output_files(entry)

Used by the `comfy_server` fixture (tests/conftest.py) and by scripts/demo.py. Standard
library only, so it runs in any Python that can start the host.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)


class ComfyServerError(RuntimeError):
    """The server did not start, died, or did not answer in time; the message has its log tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ComfyServer:
    """One ComfyUI process with its own input/output/temp/user folders under `workdir`.

    comfyui_dir: the host (default: comfy_env.find_comfyui_dir()); models, custom_nodes
    (this pack via its symlink) come from there. cpu: pass `--cpu` (tests always do; without
    it ComfyUI needs a CUDA device). extra_args: more main.py flags.
    """

    def __init__(self, workdir: Path, comfyui_dir: Path | None = None, python: str = sys.executable,
                 extra_args: tuple[str, ...] | list[str] = (), port: int | None = None, cpu: bool = True):
        if comfyui_dir is None:
            from .comfy_env import find_comfyui_dir
            comfyui_dir = find_comfyui_dir()
        self.comfyui_dir = Path(comfyui_dir)
        self.workdir = Path(workdir)
        self.python = python
        self.extra_args = list(extra_args)
        self.cpu = cpu
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.client_id = uuid.uuid4().hex
        self.input_dir = self.workdir / "input"
        self.output_dir = self.workdir / "output"
        self.user_dir = self.workdir / "user"
        # main.py appends "temp" to --temp-directory
        self.temp_dir = self.workdir / "temp"
        self.log_path = self.workdir / "server.log"
        self._proc: subprocess.Popen | None = None
        self._log_file = None

    # -- lifecycle -------------------------------------------------------------------------

    def command(self) -> list[str]:
        return [
            self.python, str(self.comfyui_dir / "main.py"),
            *(["--cpu"] if self.cpu else []), "--listen", "127.0.0.1", "--port", str(self.port), "--disable-auto-launch",
            "--output-directory", str(self.output_dir), "--input-directory", str(self.input_dir),
            "--temp-directory", str(self.workdir), "--user-directory", str(self.user_dir),
            "--database-url", "sqlite:///:memory:", "--disable-api-nodes", "--log-stdout",
            *self.extra_args,
        ]

    def start(self, timeout: float = 120.0) -> "ComfyServer":
        """Start main.py and wait until /system_stats answers; raises ComfyServerError on failure."""
        if self._proc is not None:
            return self
        for d in (self.input_dir, self.output_dir, self.user_dir):
            d.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._log_file = open(self.log_path, "wb")
        logger.info("starting ComfyUI on %s (log: %s)", self.url, self.log_path)
        self._proc = subprocess.Popen(self.command(), cwd=self.comfyui_dir, env=env,
                                      stdout=self._log_file, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self.stop()
                raise ComfyServerError(f"ComfyUI exited with code {code} while starting\n{self.log_tail()}")
            try:
                self._request("GET", "/system_stats", timeout=2)
                break
            except (OSError, ComfyServerError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ComfyServerError(f"ComfyUI did not answer /system_stats within {timeout:.0f}s\n{self.log_tail()}")
            time.sleep(0.25)
        logger.info("ComfyUI is up on %s", self.url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate, then kill after `timeout` seconds."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "ComfyServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        """Everything the server wrote to stdout/stderr so far."""
        if self._log_file is not None:
            self._log_file.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        tail = self.log().splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + "\n".join(tail)

    # -- HTTP --------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict | None = None, timeout: float = 30.0):
        """(status, parsed JSON or None). HTTP errors with a body are returned, not raised."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, (json.loads(raw) if raw else None)
        except ValueError:
            raise ComfyServerError(f"{method} {path}: HTTP {status}, not JSON: {raw[:500]!r}") from None

    def queue(self, prompt: dict, extra_data: dict | None = None) -> dict:
        """POST /prompt. Returns the server's JSON: on success {"prompt_id", "number",
        "node_errors"}; on a rejected prompt (HTTP 400) {"error": {...}, "node_errors": {...}}.
        Note: with several output nodes, a prompt where only some fail validation is accepted
        (prompt_id present) and those outputs are skipped; they are listed in node_errors."""
        body = {"prompt": prompt, "client_id": self.client_id}
        if extra_data:
            body["extra_data"] = extra_data
        status, reply = self._request("POST", "/prompt", body)
        if status not in (200, 400) or not isinstance(reply, dict):
            raise ComfyServerError(f"POST /prompt: HTTP {status}: {reply}\n{self.log_tail()}")
        return reply

    def wait(self, prompt_id: str, timeout: float = 120.0, poll: float = 0.2) -> dict:
        """Poll /history/{prompt_id} until the prompt finished (success, error or interrupted).

        Returns the history entry: {"prompt", "outputs", "status": {"status_str",
        "completed", "messages": [[event, data], ...]}, "meta"}.
        """
        deadline = time.monotonic() + timeout
        while True:
            status, reply = self._request("GET", f"/history/{urllib.parse.quote(prompt_id)}")
            entry = (reply or {}).get(prompt_id) if status == 200 else None
            if entry is not None and entry.get("status", {}).get("status_str") in ("success", "error"):
                return entry  # interrupted prompts end as "error" with an execution_interrupted message
            if not self.running:
                raise ComfyServerError(f"ComfyUI died while running prompt {prompt_id}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ComfyServerError(f"prompt {prompt_id} did not finish within {timeout:.0f}s\n{self.log_tail()}")
            time.sleep(poll)

    def run(self, prompt: dict, timeout: float = 120.0, strict: bool = True) -> dict:
        """queue + wait; raises ComfyServerError if the prompt was rejected, or (strict) if
        any node_errors came back: ComfyUI accepts a prompt (HTTP 200) when at least one
        output node is valid and silently skips the outputs whose inputs failed validation."""
        reply = self.queue(prompt)
        if "prompt_id" not in reply or (strict and reply.get("node_errors")):
            raise ComfyServerError(f"prompt rejected: {json.dumps(reply, indent=1)}")
        return self.wait(reply["prompt_id"], timeout=timeout)

    def interrupt(self, prompt_id: str | None = None) -> None:
        """POST /interrupt: the running prompt (only if it is `prompt_id`, when given)."""
        self._request("POST", "/interrupt", {"prompt_id": prompt_id} if prompt_id else {})

    def queue_state(self) -> dict:
        """GET /queue: {"queue_running": [...], "queue_pending": [...]}; item[1] is the prompt id."""
        return self._request("GET", "/queue")[1] or {}

    def wait_running(self, prompt_id: str, timeout: float = 60.0, poll: float = 0.05) -> None:
        """Block until `prompt_id` is the running prompt (raises if it finished or timed out)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(item[1] == prompt_id for item in self.queue_state().get("queue_running", [])):
                return
            if prompt_id in (self._request("GET", f"/history/{urllib.parse.quote(prompt_id)}")[1] or {}):
                raise ComfyServerError(f"prompt {prompt_id} finished before it was seen running")
            time.sleep(poll)
        raise ComfyServerError(f"prompt {prompt_id} was not running within {timeout:.0f}s\n{self.log_tail()}")

    def history(self) -> dict:
        return self._request("GET", "/history")[1] or {}

    def object_info(self, node_class: str | None = None) -> dict:
        path = "/object_info" + (f"/{urllib.parse.quote(node_class)}" if node_class else "")
        return self._request("GET", path)[1] or {}

    # -- files -------------------------------------------------------------------------------

    def folder(self, folder_type: str) -> Path:
        return {"output": self.output_dir, "input": self.input_dir,
                "temp": self.temp_dir / "temp"}[folder_type]

    def output_path(self, entry: dict) -> Path:
        """Filesystem path of a UI file entry {"filename", "subfolder", "type"}."""
        base = self.folder(entry.get("type", "output")).resolve()
        path = (base / entry.get("subfolder", "") / entry["filename"]).resolve()
        if base not in path.parents:
            raise ValueError(f"{entry} points outside {base}")
        return path

    def output_files(self, history_entry: dict, node_id: str | None = None, key: str | None = None) -> list[Path]:
        """Paths of every file entry in a history entry's outputs (optionally one node / one key,
        e.g. key="images"; SaveImage and SaveVideo both report under "images")."""
        paths = []
        for nid, outputs in history_entry.get("outputs", {}).items():
            if node_id is not None and nid != str(node_id):
                continue
            for k, items in outputs.items():
                if key is not None and k != key:
                    continue
                paths += [self.output_path(i) for i in items if isinstance(i, dict) and "filename" in i]
        return paths

    def copy_to_input(self, src: Path, name: str | None = None) -> str:
        """Copy a file into the server's input folder; returns the name to put in a prompt."""
        dest = self.input_dir / (name or Path(src).name)
        shutil.copyfile(src, dest)
        return dest.name


def execution_error(history_entry: dict) -> dict | None:
    """The `execution_error` message of a finished prompt (node_id, node_type,
    exception_message, exception_type, traceback ...), or None if there was none."""
    for event, data in history_entry.get("status", {}).get("messages", []):
        if event == "execution_error":
            return data
    return None
