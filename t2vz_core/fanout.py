"""Long videos across several ComfyUI servers, on Ray:

    python -m t2vz_core.fanout WORKFLOW_API.json --server http://gpu1:8188 --server http://gpu2:8188 \\
        --parts 4 --out video.mp4 [--png-dir frames/] [--fps 8] [--ray-address auto]

The workflow's Text2Video-Zero samplers make part i's frames on whichever server is free
(each part is a Ray task: POST /prompt, /history, /view of its PNGs); a server that dies or
fails a part has the part redone on another one (Ray's task retries). The frames are
written in frame order as one mp4 (and, with --png-dir, as lossless PNGs). Noise and motion
depend only on (seed, frame index), so the parts are the frames of one long run.

Ray is an optional extra (requirements-distributed.txt); it is imported only here, when the
fan-out runs. Bad input (a workflow without a sampler, more parts than frames, a server
that does not answer) is refused before any work, with exit code 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path

from . import fanout_server, fanout_workflow
from .fanout_server import Comfy, ServerGone
from .fanout_workflow import WorkflowError

logger = logging.getLogger(__name__)

RAY_HINT = "pip install -r requirements-distributed.txt (in this pack's folder)"
DEFAULT_FPS = 8.0


class FanoutError(RuntimeError):
    """The fan-out could not make the video; the message says why."""


class BadInput(FanoutError):
    """Refused before any work (exit code 2)."""


def check_servers(urls: list[str]) -> None:
    """Every URL is a ComfyUI that answers and has this pack's samplers."""
    if not urls:
        raise BadInput("give at least one server: --server http://HOST:8188")
    if len(set(urls)) != len(urls):
        raise BadInput(f"a server is given twice: {', '.join(urls)}")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise BadInput(f"server URL {url!r} must start with http:// or https:// (e.g. http://127.0.0.1:8188)")
        try:
            found = Comfy(url, timeout=10).object_info(fanout_workflow.RANGE_SAMPLERS[0])
        except ServerGone as e:
            raise BadInput(f"server {url} does not answer: {e}. Check the URL and that ComfyUI runs there "
                           f"(listening on an address this machine reaches: --listen)") from None
        if not found:
            raise BadInput(f"server {url} answers but has no {fanout_workflow.RANGE_SAMPLERS[0]} node: install "
                           f"this pack (ComfyUI-Text2Video-Zero) there and restart it")


def check_frame_ranges(urls: list[str], prompt: dict) -> None:
    """Every server's frame-guided samplers of the workflow take a frame range (the pack's
    versions before it would make the whole video on every server)."""
    guided = sorted({n["class_type"] for n in prompt.values()} & set(fanout_workflow.FRAME_GUIDED))
    for url in urls:
        for ct in guided:
            info = Comfy(url, timeout=10).object_info(ct)
            inputs = {**info.get("input", {}).get("required", {}), **info.get("input", {}).get("optional", {})}
            if "frame_start" not in inputs:
                raise BadInput(f"server {url}: its {ct} takes no frame_start (an older version of this pack): "
                               f"update ComfyUI-Text2Video-Zero there and restart it")


def output_classes(url: str, prompt: dict) -> set[str]:
    """The workflow's class types that are output nodes on the server."""
    client = Comfy(url, timeout=10)
    return {ct for ct in {n["class_type"] for n in prompt.values()} if client.object_info(ct).get("output_node")}


def default_fps(prompt: dict) -> float:
    for node in prompt.values():
        fps = node.get("inputs", {}).get("fps")
        if node["class_type"] == "CreateVideo" and isinstance(fps, (int, float)) and fps > 0:
            return float(fps)
    return DEFAULT_FPS


def _import_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report to the outside
    try:
        import ray
    except ImportError:
        raise BadInput(f"the fan-out needs Ray, an optional extra of this pack: {RAY_HINT}") from None
    return ray


def _start_ray(ray, address: str | None) -> bool:
    """Connect to a cluster (address) or start a local Ray on loopback. True if we started it."""
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", logging_level=logging.WARNING)
    return True


def _label(part, total) -> str:
    last = part.frame_start + part.frame_count - 1
    return f"part {part.index + 1}/{total} (frames {part.frame_start}-{last})"


def run(workflow, servers: list[str], part_count: int, out: Path, png_dir: Path | None = None,
        fps: float | None = None, retries: int = 3, timeout: float = 3600.0,
        ray_address: str | None = None, video_length: int | None = None) -> dict:
    """Make the video; returns {"frames", "parts", "retries": [(part index, url, why)], "out"}."""
    prompt = fanout_workflow.load_check(workflow)
    if video_length is not None and video_length < 1:
        raise BadInput(f"--video-length ({video_length}) must be 1 or more")
    plan = fanout_workflow.plan_parts(prompt, part_count, video_length)
    fanout_workflow.frames_source(prompt)  # a clear error before any server is asked
    out = Path(out)
    if out.exists():
        raise BadInput(f"{out} already exists; the fan-out never overwrites a file: choose another --out")
    if not out.parent.is_dir():
        raise BadInput(f"the folder of --out ({out.parent}) does not exist")
    if png_dir is not None and Path(png_dir).exists() and any(Path(png_dir).iterdir()):
        raise BadInput(f"--png-dir {png_dir} is not empty; the fan-out never overwrites files: choose a new folder")
    fps = fps or default_fps(prompt)
    if not fps > 0:
        raise BadInput(f"fps ({fps}) must be greater than 0")
    if retries < 0:
        raise BadInput(f"retries ({retries}) must be 0 or more")
    check_servers(servers)
    check_frame_ranges(servers, prompt)
    classes = output_classes(servers[0], prompt)
    run_id = uuid.uuid4().hex[:12]
    length = fanout_workflow.frame_range(prompt, video_length)[0]
    prompts = [fanout_workflow.part_prompt(prompt, p, run_id, classes,
                                           to_the_end=p.frame_start + p.frame_count == length)
               for p in plan]

    ray = _import_ray()
    started = _start_ray(ray, ray_address)
    try:
        results, retried = _run_parts(ray, servers, plan, prompts, retries, timeout)
    finally:
        if started:
            ray.shutdown()
    frames = [png for r in results for png in r["pngs"]]
    _write(frames, out, png_dir, fps, plan[0].frame_start)
    logger.info("wrote %s: %d frames from %d parts on %d servers, %d %s", out, len(frames), len(plan),
                len(servers), len(retried), "retry" if len(retried) == 1 else "retries")
    return {"frames": len(frames), "parts": len(plan), "retries": retried, "out": str(out)}


def _run_parts(ray, servers, plan, prompts, retries, timeout):
    ray.cloudpickle.register_pickle_by_value(fanout_server)  # workers need neither the pack nor ComfyUI
    pool = ray.remote(num_cpus=0)(fanout_server.ServerPool).remote(servers)
    task = ray.remote(num_cpus=0, max_retries=retries, retry_exceptions=True)(fanout_server.run_part)
    total, todo, running, results, retried, seen = len(plan), list(range(len(plan))), {}, {}, [], 0
    failures: dict[int, int] = {}
    while todo or running:
        while todo and len(running) < len(servers):
            i = todo.pop(0)
            prompt, save_id = prompts[i]
            running[task.remote(pool, i, prompt, save_id, plan[i].frame_count, timeout)] = i
        ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
        events = ray.get(pool.events.remote(seen))
        seen += len(events)
        for kind, i, url, text in events:
            if kind == "queued":
                logger.info("%s: queued on %s (%s)", _label(plan[i], total), url, text)
                continue
            failures[i] = failures.get(i, 0) + 1
            if failures[i] > retries:
                logger.error("%s: failed on %s: %s; no attempts left", _label(plan[i], total), url, text)
                continue
            retried.append((i, url, text))
            logger.warning("%s: failed on %s: %s; retrying on another server", _label(plan[i], total), url, text)
        for ref in ready:
            i = running.pop(ref)
            try:
                res = ray.get(ref)
            except ray.exceptions.RayError as e:
                _cancel(ray, running)
                raise FanoutError(f"{_label(plan[i], total)} failed after {retries + 1} attempts: "
                                  f"{_cause(e)}") from None
            if "error" in res:
                _cancel(ray, running)
                raise FanoutError(f"{_label(plan[i], total)} failed: {res['error']}")
            results[i] = res
            logger.info("%s: done on %s in %.1f s", _label(plan[i], total), res["url"], res["seconds"])
    return [results[i] for i in range(total)], retried


def _cause(err) -> str:
    cause = getattr(err, "cause", None)
    return str(cause) if cause is not None else str(err).splitlines()[0]


def _cancel(ray, running) -> None:
    for ref in running:
        ray.cancel(ref, force=True)


def _write(pngs: list[bytes], out: Path, png_dir: Path | None, fps: float, first_frame: int) -> None:
    import cv2
    import numpy as np

    from .video_io import VideoIOError
    from .video_write import H264_ARGS, FfmpegWriter

    frames = []
    for png in pngs:
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise FanoutError("a server sent a frame that is not a PNG image")
        frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    if len({f.shape for f in frames}) != 1:
        raise FanoutError(f"the parts' frames differ in size: {sorted({f.shape for f in frames})}")
    if png_dir is not None:
        png_dir = Path(png_dir)
        png_dir.mkdir(parents=True, exist_ok=True)
        for k, png in enumerate(pngs):
            with open(png_dir / f"frame_{first_frame + k:05d}.png", "xb") as f:  # "x": never overwrite
                f.write(png)
    h, w = frames[0].shape[:2]
    try:
        with FfmpegWriter(str(out), w, h, fps, H264_ARGS, "write the video", overwrite=False) as writer:
            writer.write(np.stack(frames))
    except VideoIOError as e:
        raise FanoutError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m t2vz_core.fanout", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workflow", type=Path, help="an API-format workflow (Workflow → Export (API)) with a "
                    "T2VZ_Sampler, T2VZ_MotionFieldLatentInit, T2VZ_VideoKSampler or T2VZ_VideoSamplerCustom")
    ap.add_argument("--server", action="append", default=[], metavar="URL",
                    help="a ComfyUI server with this pack, e.g. http://127.0.0.1:8188; repeat for each server")
    ap.add_argument("--parts", type=int, required=True, help="how many parts to split the frames into")
    ap.add_argument("--out", type=Path, required=True, help="the mp4 to write (never overwritten)")
    ap.add_argument("--png-dir", type=Path, help="also save the lossless frames here as frame_00000.png ...")
    ap.add_argument("--fps", type=float, help="frame rate of the mp4 (default: the workflow's Create Video fps, else 8)")
    ap.add_argument("--retries", type=int, default=3, help="attempts after the first for each part (default 3)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds one part may take on a server")
    ap.add_argument("--ray-address", help="a running Ray cluster (e.g. auto); default: start Ray on this machine")
    ap.add_argument("--video-length", type=int, metavar="N",
                    help="for Video KSampler / Video Sampler Custom workflows: the frames of their latent_image "
                         "(the hint video's frame count), where the workflow does not say it")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[t2vz fan-out] %(message)s", stream=sys.stderr)
    try:
        try:
            workflow = json.loads(args.workflow.read_text())
        except (OSError, ValueError) as e:
            raise BadInput(f"cannot read the workflow {args.workflow}: {e}") from None
        run(workflow, args.server, args.parts, args.out, args.png_dir, args.fps, args.retries, args.timeout,
            args.ray_address, args.video_length)
    except (BadInput, WorkflowError) as e:
        logger.error("error: %s", e)
        return 2
    except FanoutError as e:
        logger.error("error: %s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
