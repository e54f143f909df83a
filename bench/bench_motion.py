"""Speed of the motion-field warp for long videos, as ratios measured in one run.

    .venv/bin/python bench/bench_motion.py                 # 4096 frames, 64×64 latents
    .venv/bin/python bench/bench_motion.py --frames 512    # quicker

Measures, in one process on the same latents:
  * wall time of diffusers' create_motion_field_and_warp_latents (one full 512×512 flow grid
    per frame, the way this pack warped before camera paths) vs ``motion.warp_latents``
    (the same numbers, checked equal), and of a zoom + roll camera path;
  * the longest stretch between two interrupt checks during the warp (how long a cancel
    can wait), measured by timing ComfyUI's check calls through a stand-in module.
Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=4096)
    ap.add_argument("--size", type=int, default=64, help="latent height and width")
    args = ap.parse_args()

    import torch
    from diffusers.pipelines.deprecated.text_to_video_synthesis.pipeline_text_to_video_zero import (
        create_motion_field_and_warp_latents,
    )

    from t2vz_core import motion
    from t2vz_core.camera import CameraPath

    torch.manual_seed(0)
    lat = torch.randn(args.frames, 4, args.size, args.size)
    ids = list(range(args.frames))

    start = time.perf_counter()
    ref = create_motion_field_and_warp_latents(12, 12, frame_ids=ids, latents=lat)
    t_ref = time.perf_counter() - start

    stamps: list[float] = []
    sys.modules["comfy"] = types.SimpleNamespace()  # a stand-in ComfyUI: its interrupt check, timed
    sys.modules["comfy.model_management"] = sys.modules["comfy"].model_management = types.SimpleNamespace(
        throw_exception_if_processing_interrupted=lambda: stamps.append(time.perf_counter()))
    start = time.perf_counter()
    ours = motion.warp_latents(lat, 12, 12, ids)
    t_ours = time.perf_counter() - start
    stamps.append(time.perf_counter())
    gap = max(b - a for a, b in zip([start] + stamps, stamps))
    assert torch.equal(ours, ref), "the warp no longer equals the reference"

    path = CameraPath.from_schedules(pan_x="0:(4), 100:(-4)", zoom="1.002", roll="0.5")
    start = time.perf_counter()
    path.warp(lat, ids)
    t_path = time.perf_counter() - start

    print(f"| {args.frames} frames, {args.size}×{args.size} latents | seconds | vs reference |")
    print("|---|---|---|")
    print(f"| diffusers warp (full grid per frame) | {t_ref:.2f} | 1.00× |")
    print(f"| motion.warp_latents (translation) | {t_ours:.2f} | {t_ref / t_ours:.1f}× faster |")
    print(f"| camera path with zoom and roll | {t_path:.2f} | {t_ref / t_path:.1f}× faster |")
    print(f"| longest time between interrupt checks | {gap * 1000:.0f} ms | |")


if __name__ == "__main__":
    main()
