"""Soak the real ComfyUI server with the pack (a bench, not a test): memory stays flat over many
prompts and concurrent editor previews are all answered.

    .venv/bin/python bench/soak_server.py                 # 200 prompts, 50 previews, ≤ 20 min
    .venv/bin/python bench/soak_server.py --prompts 40 --budget 300

On the tiny random-weight checkpoints (built by the tests; the ControlNet modes run only if
the tiny ControlNet is already in the host's models/controlnet), CPU:
  * N prompts of mixed modes (text-to-video, step by step, pose and canny to video, Load Video
    into Save GIF), each with its own seed or options so nothing is served from the cache;
  * the server's RSS after the first 20 prompts and after all of them (goal ≤ 1.05×);
  * 50 concurrent Load Video preview requests with distinct options (goal: all answered,
    the slowest under 5 s).
The run stops queueing when --budget seconds have passed and says how many prompts ran.
Writes bench/results/soak-<timestamp>.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import logging
import signal
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

logger = logging.getLogger("soak_server")

VIDEOS = ("pose_dance1.mp4", "canny_girl_turning.mp4")
PREVIEW_VIDEO = "pose_dance1.mp4"


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _modes(have_controlnet: bool):
    from support.workflows import tiny_api

    def seeded(name, i):
        prompt = tiny_api(name, steps=2, video_length=2)
        for node in prompt.values():
            if "seed" in node["inputs"]:
                node["inputs"]["seed"] = 1000 + i
            if "frame_load_cap" in node["inputs"]:
                node["inputs"]["frame_load_cap"] = 2
        return prompt

    def load_video(i):
        return {"1": {"class_type": "T2VZ_LoadVideo",
                      "inputs": {"video": VIDEOS[i % 2], "frame_load_cap": 2 + i % 5, "skip_first_frames": i % 7,
                                 "select_every_nth": 1 + i % 3, "resolution": 64, "output_fps": 0.0,
                                 "start_time": 0.0, "end_time": 0.0}},
                "2": {"class_type": "T2VZ_SaveGIF",
                      "inputs": {"images": ["1", 0], "fps": 4.0, "filename_prefix": "soak/load", "loop": 0}}}

    modes = [("text2video", lambda i: seeded("text2video", i)),
             ("step_by_step", lambda i: seeded("text2video_step_by_step", i)),
             ("load_video", load_video)]
    if have_controlnet:
        modes += [("pose", lambda i: seeded("pose_to_video", i)), ("canny", lambda i: seeded("canny_to_video", i))]
    return modes


def _run_prompts(server, modes, first: int, last: int, deadline: float, counts: dict, failures: list) -> int:
    """Queue prompts first..last-1 in small batches and wait for each; returns how many finished."""
    from support.server import ComfyServerError, execution_error

    done = first
    batch = 5
    for start in range(first, last, batch):
        if time.monotonic() > deadline:
            break
        ids = []
        for i in range(start, min(start + batch, last)):
            name, make = modes[i % len(modes)]
            reply = server.queue(make(i))
            if "prompt_id" not in reply or reply.get("node_errors"):
                failures.append({"prompt": i, "mode": name, "rejected": reply})
                continue
            ids.append((i, name, reply["prompt_id"]))
        for i, name, pid in ids:
            try:
                entry = server.wait(pid, timeout=max(30.0, deadline - time.monotonic() + 120))
            except ComfyServerError:  # past the budget (or the server died: then the next call says so)
                logger.warning("prompt %d (%s) did not finish within the budget; stopping", i, name)
                server.interrupt()
                server._request("POST", "/queue", {"clear": True})
                return i
            counts[name] = counts.get(name, 0) + 1
            if entry["status"]["status_str"] != "success":
                failures.append({"prompt": i, "mode": name, "error": execution_error(entry)})
        done = min(start + batch, last)
    return done


def _previews(server, n: int) -> dict:
    """n concurrent GET /t2vz/load_video_preview with distinct options; wall time of each."""
    def one(k: int):
        query = urllib.parse.urlencode({"video": PREVIEW_VIDEO, "frame_load_cap": 2 + k % 6, "skip_first_frames": k // 6,
                                        "select_every_nth": 1 + k % 2, "resolution": 64})
        t = time.monotonic()
        status, reply = server._request("GET", f"/t2vz/load_video_preview?{query}", timeout=120)
        return status, time.monotonic() - t, reply

    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(one, range(n)))
    times = sorted(t for _, t, _ in results)
    return {"requests": n, "answered_200": sum(1 for s, _, _ in results if s == 200),
            "statuses": sorted({s for s, _, _ in results}), "slowest_s": round(times[-1], 2),
            "median_s": round(times[len(times) // 2], 2),
            "errors": [r for s, _, r in results if s != 200][:3]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--previews", type=int, default=50)
    parser.add_argument("--budget", type=float, default=1200.0, help="seconds; no prompt is queued after it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server on the way out

    from support import comfy_env
    from support.server import ComfyServer
    from support.tiny_models import ensure_tiny_checkpoint
    from support.workflows import CONTROLNET_NAME

    comfyui_dir = comfy_env.find_comfyui_dir()
    ensure_tiny_checkpoint()
    have_controlnet = (comfyui_dir / "models" / "controlnet" / CONTROLNET_NAME).is_file()
    assets = Path(comfy_env.REPO_ROOT).parent / "shared" / "assets"
    modes = _modes(have_controlnet)
    t_start = time.monotonic()
    deadline = t_start + args.budget
    counts: dict[str, int] = {}
    failures: list = []
    with tempfile.TemporaryDirectory(prefix="t2vz-soak-") as work, \
            ComfyServer(Path(work), comfyui_dir=comfyui_dir) as server:
        for video in VIDEOS:
            server.copy_to_input(assets / video)
        pid = server._proc.pid
        warm = min(20, args.prompts)
        done = _run_prompts(server, modes, 0, warm, deadline, counts, failures)
        rss_20 = _rss_mib(pid)
        logger.info("RSS after %d prompts: %.0f MiB", done, rss_20)
        done = _run_prompts(server, modes, done, args.prompts, deadline, counts, failures)
        rss_end = _rss_mib(pid)
        logger.info("RSS after %d prompts: %.0f MiB", done, rss_end)
        previews = _previews(server, args.previews)
        alive = server._request("GET", "/system_stats")[0] == 200
    result = {
        "prompts_requested": args.prompts, "prompts_run": sum(counts.values()), "by_mode": counts,
        "controlnet_modes": have_controlnet, "failures": failures[:5], "failure_count": len(failures),
        "rss_mib_after_20": round(rss_20, 1), "rss_mib_after_all": round(rss_end, 1),
        "rss_ratio": round(rss_end / rss_20, 3), "previews": previews, "server_alive_after": alive,
        "wall_s": round(time.monotonic() - t_start, 1), "budget_s": args.budget,
    }
    out = ROOT / "bench" / "results" / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    table = [
        "| measure | result | goal |", "|---|---|---|",
        f"| prompts run (mixed modes: {', '.join(f'{k} {v}' for k, v in counts.items())}) | "
        f"{result['prompts_run']} of {args.prompts}, {len(failures)} failed | all, none failed |",
        f"| server RSS after all vs after 20 | {result['rss_ratio']:.3f}× ({rss_20:.0f} → {rss_end:.0f} MiB) | ≤ 1.05× |",
        f"| {args.previews} concurrent previews answered | {previews['answered_200']} | all |",
        f"| slowest preview (median) | {previews['slowest_s']} s ({previews['median_s']} s) | < 5 s |",
    ]
    sys.stdout.write("\n".join(table) + f"\n\n{out}\n")
    return 0 if not failures and previews["answered_200"] == args.previews else 1


if __name__ == "__main__":
    sys.exit(main())
