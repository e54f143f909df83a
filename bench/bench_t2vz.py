"""Speed and memory of the pack, as ratios measured in one run (never a timed test).

    .venv/bin/python bench/bench_t2vz.py            # CPU, tiny random-weight SD1.5 UNet
    .venv/bin/python bench/bench_t2vz.py --quick    # fewer frames/steps
    .venv/bin/python bench/bench_t2vz.py --section 256   # only the 256² backend comparison

Every row names its attention backend. ComfyUI picks one when it starts: on a CPU its
default is sub-quadratic attention (``--use-quad-cross-attention``, chunked queries),
``--use-pytorch-cross-attention`` selects PyTorch SDPA; diffusers' processors always use
SDPA. Each backend runs in its own process, started with that flag.

Measures, each case in a fresh process where memory is compared:
  * peak RSS of a 64-frame vs an 8-frame video at chunk 8        (goal ≤ 1.15×)
  * wall time of chunked (chunk 8) vs unchunked sampling, same frames (goal ≤ 1.05×)
  * wall time of the video steps vs plain ComfyUI sampling of the same batch (KSampler
    on N independent images): the cost of cross-frame attention
  * wall time of the whole pack vs diffusers' TextToVideoZeroPipeline on the same UNet, at
    128² and at 256² (8 frames, 10 steps) for each backend, and with only the pack's
    cross-frame call switched to SDPA (ComfyUI's default everywhere else); both sides'
    UNet evaluations are counted (calls, batch rows, seconds inside the UNet), so a row
    says whether the two did the same work. Step counts are ones where ComfyUI's
    ``ddim_uniform`` and diffusers' DDIM visit the same timesteps: at 12 steps
    ``ddim_uniform`` makes 13 (997, 914, ... 1; diffusers 914 ... 1), and the pack's video
    phase then runs one batched step more than diffusers' (11 vs 10; 5 vs 4 at 6 steps)
  * the cross-frame attention call alone (every frame's queries onto one anchor's keys),
    sub-quadratic vs SDPA, at the tiny UNet's highest-resolution shapes
  * token merging 0 / 0.3 / 0.5: time and peak RSS (when a token_merge_ratio option exists)
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
BACKENDS = {  # name in the tables: ComfyUI command-line flags
    "sub-quadratic": ["--use-quad-cross-attention"],  # ComfyUI's default on a CPU
    "sdpa": ["--use-pytorch-cross-attention"],
    # ComfyUI's default for the UNet, SDPA for the pack's cross-frame call only
    "sub-quadratic, cross-frame sdpa": ["--use-quad-cross-attention"],
}


def _cross_frame_sdpa() -> None:
    """Bench-only: the pack's cross-frame call uses ComfyUI's SDPA function (attention_pytorch)
    while every other attention keeps ComfyUI's backend. The pack is loaded by ComfyUI's
    loader under its folder's name, so its module is looked up in sys.modules."""
    import functools
    from comfy.ldm.modules.attention import attention_pytorch
    mods = [m for name, m in list(sys.modules.items())
            if name.endswith("t2vz_core.attention") and hasattr(m, "cross_frame_attention")]
    if not mods:
        raise RuntimeError("bench: the pack's t2vz_core.attention.cross_frame_attention was not found")
    for m in mods:
        m.cross_frame_attention = functools.partial(m.cross_frame_attention, attention_fn=attention_pytorch)


def _setup(backend="sub-quadratic"):
    from support import comfy_env
    comfy_env.setup_comfy(extra_args=BACKENDS[backend])
    if "cross-frame sdpa" in backend:
        _cross_frame_sdpa()
    import nodes
    import torch
    from support.tiny_models import ensure_tiny_checkpoint
    ckpt = ensure_tiny_checkpoint()
    model, clip, _ = nodes.CheckpointLoaderSimple().load_checkpoint(ckpt.name)[:3]
    enc = nodes.CLIPTextEncode()
    torch.set_grad_enabled(False)
    return nodes, model, enc.encode(clip, "a horse galloping")[0], enc.encode(clip, "")[0]


def _backend_in_use() -> str:
    from comfy.ldm.modules import attention
    return attention.optimized_attention.__name__


def _sampler_args(frames, chunk, steps, res=RES):
    return dict(seed=1, steps=steps, cfg=7.5, sampler_name="ddim", scheduler="ddim_uniform", width=res, height=res,
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


class UNetMeter:
    """Counts a UNet module's evaluations (batch rows of each call) and the seconds spent inside
    it, with forward hooks; ``reset()`` between measured runs."""

    def __init__(self, module):
        self.handles = [module.register_forward_pre_hook(self._pre), module.register_forward_hook(self._post)]
        self.reset()

    def reset(self):
        self.batches: list[int] = []
        self.seconds = 0.0
        self._t = None

    def _pre(self, _module, args):
        self.batches.append(int(args[0].shape[0]))
        self._t = time.perf_counter()

    def _post(self, _module, _args, _out):
        self.seconds += time.perf_counter() - self._t

    def close(self):
        for h in self.handles:
            h.remove()


def case_reference(frames, steps, res=RES, backend="sub-quadratic", reps=2):
    """The pack (with ``backend``) vs diffusers' pipeline (SDPA) on the same UNet weights
    (same frames, steps, size)."""
    import torch
    from diffusers import DDIMScheduler
    from diffusers.pipelines.deprecated.text_to_video_synthesis import pipeline_text_to_video_zero as ref
    from support.tiny_models import load_diffusers_unet
    nodes, model, pos, neg = _setup(backend)
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]
    pipe = ref.TextToVideoZeroPipeline(vae=None, text_encoder=None, tokenizer=None, unet=load_diffusers_unet(),
                                       scheduler=DDIMScheduler(beta_start=0.00085, beta_end=0.012,
                                                               beta_schedule="scaled_linear", clip_sample=False,
                                                               set_alpha_to_one=True, steps_offset=1),
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    pc, nc = pos[0][0].float(), neg[0][0].float()
    pipe.encode_prompt = lambda *a, **k: (pc, nc)

    meters = {"pack": UNetMeter(model.model.diffusion_model), "diffusers": UNetMeter(pipe.unet)}

    def ours():
        meters["pack"].reset()
        t, c = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            sampler.execute(model=model, positive=pos, negative=neg,
                            **{**_sampler_args(frames, 0, steps, res), "t_mode": "exact (indices of this schedule)",
                               "t0": steps - 6, "t1": steps - 3})
        return time.perf_counter() - t, meters["pack"].seconds, time.process_time() - c

    def theirs():
        meters["diffusers"].reset()
        t, c = time.perf_counter(), time.process_time()
        with torch.no_grad():
            pipe(prompt="x", video_length=frames, height=res, width=res, num_inference_steps=steps,
                 guidance_scale=7.5, output_type="latent", t0=steps - 6, t1=steps - 3)
        return time.perf_counter() - t, meters["diffusers"].seconds, time.process_time() - c

    ours(), theirs()
    runs: dict[str, list] = {"pack": [], "diffusers": []}
    for _ in range(reps):  # interleaved, so load from other processes hits both alike
        runs["pack"].append(ours())
        runs["diffusers"].append(theirs())
    out = {"backend": backend, "comfy_attention": _backend_in_use(), "diffusers_attention": "sdpa (AttnProcessor2_0)"}
    for side, times in runs.items():
        total, inside, _ = min(times)
        out[side] = total
        # CPU seconds of this process (all threads): less moved by other processes than wall time
        out[f"{side}_cpu_seconds"] = min(t[2] for t in times)
        out[f"{side}_unet_seconds"] = inside
        out[f"{side}_outside_unet_seconds"] = total - inside
        out[f"{side}_unet_batches"] = meters[side].batches  # of the last run; every run is the same
        meters[side].close()
    out["same_unet_work"] = sorted(out["pack_unet_batches"]) == sorted(out["diffusers_unet_batches"])
    out["pack_vs_diffusers_cpu_time"] = out["pack_cpu_seconds"] / out["diffusers_cpu_seconds"]
    return out


def case_cross_frame(frames, res, reps=5):
    """The cross-frame call alone: every frame's queries (G=2 guidance groups) onto one
    anchor's keys/values, at the tiny UNet's highest-resolution shapes (320 channels, 8
    heads, (res/8)² tokens), with ComfyUI's sub-quadratic and SDPA functions."""
    import torch
    from support import comfy_env
    comfy_env.setup_comfy(extra_args=BACKENDS["sub-quadratic"])
    from comfy.ldm.modules.attention import attention_pytorch, attention_sub_quad
    torch.manual_seed(0)
    tokens, groups, dim, heads = (res // 8) ** 2, 2, 320, 8
    q = torch.randn(groups, frames * tokens, dim)
    k, v = torch.randn(groups, tokens, dim), torch.randn(groups, tokens, dim)
    out = {}
    with torch.inference_mode():
        a, b = attention_sub_quad(q, k, v, heads), attention_pytorch(q, k, v, heads)
        out["max_abs_diff"] = float((a - b).abs().max())
        times = {"sub-quadratic": [], "sdpa": []}
        for _ in range(reps):
            for name, fn in (("sub-quadratic", attention_sub_quad), ("sdpa", attention_pytorch)):
                t = time.perf_counter()
                fn(q, k, v, heads)
                times[name].append(time.perf_counter() - t)
    out.update({name: min(ts) for name, ts in times.items()})
    return out


def _token_merge_supported() -> bool:
    nodes, *_ = _setup()
    inputs = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"].INPUT_TYPES()
    return "token_merge_ratio" in {**inputs.get("required", {}), **inputs.get("optional", {})}


def case_tome_check():
    return {"supported": _token_merge_supported()}


def case_tome(frames, steps, res, ratio_percent):
    """Time and peak RSS of one video at token_merge_ratio = ratio_percent / 100."""
    import torch
    nodes, model, pos, neg = _setup()
    if not _token_merge_supported():
        return {"skipped": "the sampler has no token_merge_ratio option yet"}
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]
    args = {**_sampler_args(frames, 8, steps, res), "token_merge_ratio": ratio_percent / 100}
    t = time.perf_counter()
    with torch.inference_mode():
        sampler.execute(model=model, positive=pos, negative=neg, **args)
    return {"seconds": time.perf_counter() - t,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


CASES = {"t2vz": case_t2vz, "timing": case_timing, "reference": case_reference, "cross_frame": case_cross_frame,
         "tome": case_tome, "tome_check": case_tome_check}


def _sub(kind, **kwargs):
    """One case in a fresh process (its own ComfyUI backend flags, its own peak RSS)."""
    out = subprocess.run([sys.executable, __file__, "--case", kind, json.dumps(kwargs)], capture_output=True,
                         text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"bench case {kind} {kwargs} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def section_128(quick: bool, rows: list, results: dict) -> None:
    steps = 3 if quick else 5
    long_frames = 32 if quick else 64
    r8 = _sub("t2vz", frames=8, chunk=8, steps=steps)
    rl = _sub("t2vz", frames=long_frames, chunk=8, steps=steps)
    ru = _sub("t2vz", frames=long_frames, chunk=0, steps=steps)  # the same long video unchunked, for contrast
    tm = _sub("timing", frames=16, steps=steps)
    rf = _sub("reference", frames=8, steps=max(steps, 8))
    results["128"] = {
        "resolution": RES, "steps": steps,
        "peak_rss_8_frames_mb": r8["peak_rss_mb"], f"peak_rss_{long_frames}_frames_mb": rl["peak_rss_mb"],
        "rss_ratio_long_vs_8": rl["peak_rss_mb"] / r8["peak_rss_mb"],
        "rss_ratio_long_unchunked_vs_8": ru["peak_rss_mb"] / r8["peak_rss_mb"],
        "chunked_vs_unchunked_time": tm["chunked"] / tm["unchunked"],
        "t2vz_vs_plain_ksampler_time": tm["unchunked"] / tm["plain"],
        "pack_vs_diffusers_time": rf["pack"] / rf["diffusers"],
        "raw": {"rss8": r8, "rss_long": rl, "rss_long_unchunked": ru, "timing16": tm, "reference8": rf},
    }
    r = results["128"]
    at = f"{RES}², {steps} steps, backend sub-quadratic"
    rows += [
        (f"peak RSS, {long_frames} frames vs 8 frames, chunk 8 ({at})", r["rss_ratio_long_vs_8"]),
        (f"peak RSS, {long_frames} frames unchunked vs 8 frames, contrast ({at})", r["rss_ratio_long_unchunked_vs_8"]),
        (f"time, chunked (chunk 8) vs unchunked, 16 frames ({at})", r["chunked_vs_unchunked_time"]),
        (f"time, T2VZ Sampler vs plain KSampler on 16 images ({at})", r["t2vz_vs_plain_ksampler_time"]),
        (f"time, pack [sub-quadratic] vs diffusers [sdpa], 8 frames, {RES}², {max(steps, 8)} steps; {_work(rf)}",
         r["pack_vs_diffusers_time"]),
    ]


def section_256(quick: bool, rows: list, results: dict) -> None:
    # 10 and 8 steps: ddim_uniform and diffusers' DDIM visit the same timesteps (not at 12 or 6)
    res, frames, steps = 256, (4 if quick else 8), (8 if quick else 10)
    out = {}
    for backend in BACKENDS:
        rf = _sub("reference", frames=frames, steps=steps, res=res, backend=backend, reps=2)
        out[backend] = {**rf, "pack_vs_diffusers_time": rf["pack"] / rf["diffusers"]}
        rows.append((f"time, pack [{backend}] vs diffusers [sdpa], {frames} frames, {res}², {steps} steps; "
                     f"{_work(rf)}", out[backend]["pack_vs_diffusers_time"]))
    results["256"] = out


def _work(rf: dict) -> str:
    """What a reference row compared: UNet evaluations of each side and the seconds outside the UNet."""
    same = "same UNet work" if rf["same_unet_work"] else "NOT the same UNet work"
    return (f"{same} (UNet calls pack {len(rf['pack_unet_batches'])} / diffusers "
            f"{len(rf['diffusers_unet_batches'])}, batch rows {sum(rf['pack_unet_batches'])} / "
            f"{sum(rf['diffusers_unet_batches'])}; outside the UNet {rf['pack_outside_unet_seconds']:.1f} s / "
            f"{rf['diffusers_outside_unet_seconds']:.1f} s; {rf['pack']:.0f} s / {rf['diffusers']:.0f} s; "
            f"CPU time {rf['pack_vs_diffusers_cpu_time']:.3f}×)")


def section_cross_frame(quick: bool, rows: list, results: dict) -> None:
    out = {}
    for frames, res in ((8, 256), (4, 512)):
        r = _sub("cross_frame", frames=frames, res=res, reps=3 if quick else 5)
        out[f"{frames}x{res}"] = {**r, "sdpa_vs_sub_quadratic_time": r["sdpa"] / r["sub-quadratic"]}
        rows.append((f"time, cross-frame call alone, sdpa vs sub-quadratic, {frames} frames × 2 groups onto one "
                     f"anchor, {res}² ({(res // 8) ** 2} tokens, 320 ch, 8 heads; "
                     f"{r['sub-quadratic'] * 1000:.0f} ms vs {r['sdpa'] * 1000:.0f} ms)",
                     r["sdpa"] / r["sub-quadratic"]))
    results["cross_frame"] = out


def section_tome(quick: bool, rows: list, results: dict) -> None:
    frames, steps = 8, (3 if quick else 5)
    if not _sub("tome_check")["supported"]:
        results["token_merge"] = "skipped: the sampler has no token_merge_ratio option yet"
        rows.append(("token merging 0.3 / 0.5 vs 0: skipped, the sampler has no token_merge_ratio option yet", None))
        return
    results["token_merge"] = {}
    for res in ((128,) if quick else (128, 256)):
        # interleaved, best of 2: load from other processes hits every ratio alike
        runs = {pct: [] for pct in (0, 30, 50)}
        for _ in range(1 if quick else 2):
            for pct in runs:
                runs[pct].append(_sub("tome", frames=frames, steps=steps, res=res, ratio_percent=pct))
        best = {pct: min(r, key=lambda x: x["seconds"]) for pct, r in runs.items()}
        results["token_merge"][str(res)] = {"runs": runs, "best": best}
        for pct in (30, 50):
            rows.append((f"time, token_merge_ratio {pct / 100} vs 0, {frames} frames, {res}², {steps} steps, chunk 8 "
                         f"[sub-quadratic] ({best[pct]['seconds']:.1f} s vs {best[0]['seconds']:.1f} s)",
                         best[pct]["seconds"] / best[0]["seconds"]))
            rows.append((f"peak RSS of the process, token_merge_ratio {pct / 100} vs 0, {res}² "
                         f"({best[pct]['peak_rss_mb']:.0f} vs {best[0]['peak_rss_mb']:.0f} MiB)",
                         best[pct]["peak_rss_mb"] / best[0]["peak_rss_mb"]))


SECTIONS = {"128": section_128, "256": section_256, "cross_frame": section_cross_frame, "tome": section_tome}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", nargs=2, metavar=("KIND", "JSON_KWARGS"), help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="fewer frames and steps")
    ap.add_argument("--section", choices=["all", *SECTIONS], default="all")
    a = ap.parse_args()
    if a.case:
        kind, kwargs = a.case
        print(json.dumps(CASES[kind](**json.loads(kwargs))))
        return 0
    rows: list = []
    results: dict = {"device": "cpu", "quick": a.quick}
    for name, section in SECTIONS.items():
        if a.section in ("all", name):
            section(a.quick, rows, results)
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / time.strftime("%Y%m%d-%H%M%S.json")).write_text(json.dumps(results, indent=2))
    print("| measure (CPU, tiny random-weight SD1.5-shaped UNet) [attention backend] | ratio |")
    print("|---|---|")
    for label, ratio in rows:
        print(f"| {label} | {'—' if ratio is None else f'{ratio:.3f}×'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
