"""Speed and memory of the pack, as ratios measured in one run (never a timed test).

    .venv/bin/python bench/bench_t2vz.py            # CPU, tiny random-weight SD1.5 UNet
    .venv/bin/python bench/bench_t2vz.py --quick    # fewer frames/steps

Measures, each case in a fresh process where memory is compared:
  * peak RSS of a 64-frame vs an 8-frame video at chunk 8        (goal ≤ 1.15×)
  * wall time of chunked (chunk 8) vs unchunked sampling, same frames (goal ≤ 1.05×)
  * wall time of the video steps vs plain ComfyUI sampling of the same batch (KSampler
    on N independent images): the cost of cross-frame attention
  * wall time of the whole pack vs diffusers' TextToVideoZeroPipeline on the same UNet
Writes bench/results/<timestamp>.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

RES = 128  # pixels: big enough that activations show next to the weights, small enough for a CPU


def _setup():
    from support import comfy_env
    comfy_env.setup_comfy()
    import nodes
    import torch
    from support.tiny_models import ensure_tiny_checkpoint
    ckpt = ensure_tiny_checkpoint()
    model, clip, _ = nodes.CheckpointLoaderSimple().load_checkpoint(ckpt.name)[:3]
    enc = nodes.CLIPTextEncode()
    torch.set_grad_enabled(False)
    return nodes, model, enc.encode(clip, "a horse galloping")[0], enc.encode(clip, "")[0]


def _sampler_args(frames, chunk, steps):
    return dict(seed=1, steps=steps, cfg=7.5, sampler_name="ddim", scheduler="ddim_uniform", width=RES, height=RES,
                video_length=frames, motion_field_strength_x=12.0, motion_field_strength_y=12.0, t0=44, t1=47,
                t_mode="scaled from 50 steps", chunk_size=chunk)


def case_t2vz(frames, chunk, steps):
    import torch
    nodes, model, pos, neg = _setup()
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with torch.inference_mode():
        sampler.execute(model=model, positive=pos, negative=neg, **_sampler_args(frames, chunk, steps))
    return {"seconds": time.perf_counter() - t, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mb": base_rss / 1024}


def case_timing(frames, steps):
    """Chunked vs unchunked vs plain KSampler, interleaved in one process (after a warm-up)."""
    import torch
    nodes, model, pos, neg = _setup()
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]

    def t2v(chunk):
        t = time.perf_counter()
        with torch.inference_mode():
            sampler.execute(model=model, positive=pos, negative=neg, **_sampler_args(frames, chunk, steps))
        return time.perf_counter() - t

    def plain():
        t = time.perf_counter()
        with torch.inference_mode():
            nodes.common_ksampler(model, 1, steps, 7.5, "ddim", "ddim_uniform", pos, neg,
                                  {"samples": torch.zeros(frames, 4, RES // 8, RES // 8)})
        return time.perf_counter() - t

    t2v(0)  # warm-up
    out = {"unchunked": [], "chunked": [], "plain": []}
    for _ in range(2):
        out["unchunked"].append(t2v(0))
        out["chunked"].append(t2v(max(2, frames // 2)))
        out["plain"].append(plain())
    return {k: min(v) for k, v in out.items()}


def case_reference(frames, steps):
    """The pack vs diffusers' pipeline on the same UNet weights (same frames, steps, size)."""
    import torch
    from diffusers import DDIMScheduler
    from diffusers.pipelines.deprecated.text_to_video_synthesis import pipeline_text_to_video_zero as ref
    from support.tiny_models import load_diffusers_unet
    nodes, model, pos, neg = _setup()
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]
    pipe = ref.TextToVideoZeroPipeline(vae=None, text_encoder=None, tokenizer=None, unet=load_diffusers_unet(),
                                       scheduler=DDIMScheduler(beta_start=0.00085, beta_end=0.012,
                                                               beta_schedule="scaled_linear", clip_sample=False,
                                                               set_alpha_to_one=True, steps_offset=1),
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    pc, nc = pos[0][0].float(), neg[0][0].float()
    pipe.encode_prompt = lambda *a, **k: (pc, nc)

    def ours():
        t = time.perf_counter()
        with torch.inference_mode():
            sampler.execute(model=model, positive=pos, negative=neg,
                            **{**_sampler_args(frames, 0, steps), "t_mode": "exact (indices of this schedule)",
                               "t0": steps - 6, "t1": steps - 3})
        return time.perf_counter() - t

    def theirs():
        t = time.perf_counter()
        with torch.no_grad():
            pipe(prompt="x", video_length=frames, height=RES, width=RES, num_inference_steps=steps,
                 guidance_scale=7.5, output_type="latent", t0=steps - 6, t1=steps - 3)
        return time.perf_counter() - t

    ours(), theirs()
    return {"pack": min(ours() for _ in range(2)), "diffusers": min(theirs() for _ in range(2))}


def _sub(*args):
    out = subprocess.run([sys.executable, __file__, "--case", *map(str, args)], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", nargs="+")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.case:
        kind, *rest = a.case
        fn = {"t2vz": case_t2vz, "timing": case_timing, "reference": case_reference}[kind]
        print(json.dumps(fn(*map(int, rest))))
        return 0
    steps = 3 if a.quick else 5
    long_frames = 32 if a.quick else 64
    r8 = _sub("t2vz", 8, 8, steps)
    rl = _sub("t2vz", long_frames, 8, steps)
    ru = _sub("t2vz", long_frames, 0, steps)  # the same long video unchunked, for contrast
    tm = _sub("timing", 16, steps)
    rf = _sub("reference", 8, max(steps, 8))
    results = {
        "device": "cpu", "resolution": RES, "steps": steps,
        "peak_rss_8_frames_mb": r8["peak_rss_mb"], f"peak_rss_{long_frames}_frames_mb": rl["peak_rss_mb"],
        "rss_ratio_long_vs_8": rl["peak_rss_mb"] / r8["peak_rss_mb"],
        "rss_ratio_long_unchunked_vs_8": ru["peak_rss_mb"] / r8["peak_rss_mb"],
        "chunked_vs_unchunked_time": tm["chunked"] / tm["unchunked"],
        "t2vz_vs_plain_ksampler_time": tm["unchunked"] / tm["plain"],
        "pack_vs_diffusers_time": rf["pack"] / rf["diffusers"],
        "raw": {"rss8": r8, "rss_long": rl, "rss_long_unchunked": ru, "timing16": tm, "reference8": rf},
    }
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / time.strftime("%Y%m%d-%H%M%S.json")).write_text(json.dumps(results, indent=2))
    print(f"| measure (CPU, tiny SD1.5 UNet, {RES}×{RES}, {steps} steps) | ratio |")
    print("|---|---|")
    print(f"| peak RSS, {long_frames} frames vs 8 frames, chunk 8 | {results['rss_ratio_long_vs_8']:.3f}× |")
    print(f"| peak RSS, {long_frames} frames unchunked vs 8 frames (contrast) | {results['rss_ratio_long_unchunked_vs_8']:.3f}× |")
    print(f"| time, chunked (chunk 8) vs unchunked, 16 frames | {results['chunked_vs_unchunked_time']:.3f}× |")
    print(f"| time, T2VZ Sampler vs plain KSampler on 16 images | {results['t2vz_vs_plain_ksampler_time']:.3f}× |")
    print(f"| time, pack vs diffusers TextToVideoZeroPipeline, 8 frames | {results['pack_vs_diffusers_time']:.3f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
