"""Run example_workflows/api/text2video.json on a local ComfyUI and print the mp4's path.

    make demo                              # tiny random checkpoint, CPU, seconds; noise video
    CKPT=/path/to/sd15.safetensors make demo   # a real SD1.5 checkpoint: the workflow as saved

Starts ComfyUI (main.py of the host that scripts/setup_dev.sh made) on 127.0.0.1 with its
folders under .host/demo/, queues the workflow over the HTTP API, waits, prints the absolute
path of the video the workflow saved, and stops the server. On failure: exit 1 and the tail
of the server log on stderr.

Environment:
    CKPT          a real checkpoint file; linked (never copied) into the host's
                  models/checkpoints under its own name
    DEMO_WIDTH, DEMO_HEIGHT, DEMO_STEPS
                  put into every literal int `width`/`height`/`steps` input of the workflow.
                  The checked-in workflow is set up for a real SD1.5 model (512x512, 50 steps)
                  and runs as it is with CKPT; without CKPT (tiny random model, noise anyway)
                  the defaults are 64, 64, 10 so it takes seconds on a CPU. t0/t1 are left as
                  they are (the workflow reads them "scaled from 50 steps").
    DEMO_TIMEOUT  seconds to wait for the result (default 600, with CKPT 7200)
    DEMO_CPU      1 forces --cpu, 0 forbids it (default: --cpu when no CUDA device is visible)
    DEMO_WORKFLOW another API-format workflow file to run instead
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from support.comfy_env import find_comfyui_dir  # noqa: E402
from support.server import ComfyServer, ComfyServerError, execution_error  # noqa: E402

WORKFLOW = Path(os.environ.get("DEMO_WORKFLOW") or REPO_ROOT / "example_workflows" / "api" / "text2video.json")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv")
# Without CKPT: the workflow shrunk to what the tiny checkpoint needs to show it runs.
TINY_OVERRIDES = {"width": 64, "height": 64, "steps": 10}

log = logging.getLogger("demo")


class DemoError(Exception):
    pass


def checkpoint_name() -> tuple[str, bool]:
    """(ckpt_name for the workflow, whether it is a real checkpoint)."""
    ckpt = os.environ.get("CKPT")
    if not ckpt:
        from support.tiny_models import CKPT_NAME, ensure_tiny_checkpoint

        ensure_tiny_checkpoint()
        return CKPT_NAME, False
    src = Path(ckpt).expanduser().resolve()
    if not src.is_file():
        raise DemoError(f"CKPT={ckpt}: no such file")
    link = find_comfyui_dir() / "models" / "checkpoints" / src.name
    if link.is_symlink() or not link.exists():
        if not (link.is_symlink() and link.resolve() == src):
            link.unlink(missing_ok=True)
            link.symlink_to(src)
            log.info("linked %s -> %s", link, src)
    elif not link.samefile(src):
        raise DemoError(f"{link} exists and is another file than CKPT={src}; rename one of them")
    return src.name, True


def read_workflow() -> dict:
    if not WORKFLOW.is_file():
        raise DemoError(f"{WORKFLOW} does not exist yet: the demo runs that API-format workflow "
                        "(in ComfyUI: Workflow > Export (API))")
    try:
        return json.loads(WORKFLOW.read_text())
    except ValueError as err:
        raise DemoError(f"{WORKFLOW} is not valid JSON: {err}") from None


def prepare_workflow(prompt: dict, ckpt_name: str, real: bool) -> dict:
    loaders = [n for n in prompt.values() if n.get("class_type") == "CheckpointLoaderSimple"]
    if not loaders:
        raise DemoError(f"{WORKFLOW.name} has no CheckpointLoaderSimple node to give the checkpoint to")
    for node in loaders:
        node["inputs"]["ckpt_name"] = ckpt_name
    overrides = {} if real else dict(TINY_OVERRIDES)
    for key in ("width", "height", "steps"):
        if os.environ.get(f"DEMO_{key.upper()}"):
            overrides[key] = int(os.environ[f"DEMO_{key.upper()}"])
    for node in prompt.values():  # only literal ints, never links
        inputs = node.get("inputs", {})
        for key, value in overrides.items():
            if isinstance(inputs.get(key), int):
                inputs[key] = value
    return prompt


def use_cpu() -> bool:
    forced = os.environ.get("DEMO_CPU")
    if forced in ("0", "1"):
        return forced == "1"
    import torch

    return not torch.cuda.is_available()


def find_video(server: ComfyServer, entry: dict) -> Path:
    prompt = entry.get("prompt", [None, None, {}])[2]
    # SaveVideo (0.3.75) reports {"images": [{filename, subfolder, type}], "animated": [true]}.
    save_nodes = [nid for nid, n in prompt.items() if n.get("class_type") == "SaveVideo"]
    for node_id in save_nodes + [None]:
        videos = [p for p in server.output_files(entry, node_id=node_id) if p.suffix in VIDEO_SUFFIXES]
        if videos:
            return videos[0]
    raise DemoError(f"the workflow finished but saved no video; outputs: {json.dumps(entry.get('outputs'))}")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        prompt = read_workflow()
        ckpt_name, real = checkpoint_name()
        prompt = prepare_workflow(prompt, ckpt_name, real)
    except DemoError as err:
        log.error("%s", err)
        return 2
    timeout = float(os.environ.get("DEMO_TIMEOUT", 7200 if real else 600))
    workdir = REPO_ROOT / ".host" / "demo"
    server = ComfyServer(workdir, cpu=use_cpu())
    try:
        with server:
            reply = server.queue(prompt)
            if "prompt_id" not in reply:
                raise DemoError(f"ComfyUI rejected the workflow:\n{json.dumps(reply, indent=1)}")
            log.info("queued %s; waiting (up to %.0fs)", reply["prompt_id"], timeout)
            entry = server.wait(reply["prompt_id"], timeout=timeout)
            if entry["status"]["status_str"] != "success":
                raise DemoError(f"the workflow failed:\n{json.dumps(execution_error(entry), indent=1)}")
            video = find_video(server, entry)
    except (DemoError, ComfyServerError) as err:
        log.error("%s", err)
        if not isinstance(err, ComfyServerError):  # those carry the log tail already
            print(server.log_tail(), file=sys.stderr)
        return 1
    print(video)
    return 0


if __name__ == "__main__":
    sys.exit(main())
