"""GPU benchmark: seconds per video and peak VRAM, the pack vs diffusers vs a plain KSampler.

    python bench/gpu_bench.py                  # CUDA: SD1.5-shaped random-weight UNet, 512², fp16
    python bench/gpu_bench.py --frames 8 24    # fewer lengths
    python bench/gpu_bench.py --cpu-smoke      # a tiny run on the CPU: checks the script end to end

Run it in this checkout with the ComfyUI host that has this pack in its custom_nodes
(COMFYUI_DIR, else the one ``make setup`` made) and diffusers installed (a test dependency).
No weights are downloaded: the UNet is SD1.5's shape with seeded random weights, and the
same weights go to ComfyUI (as a diffusers-format UNet state dict, which ComfyUI converts)
and to diffusers' TextToVideoZeroPipeline. Prompts are random embeddings; no VAE runs
(every sampler returns latents).

Rows, for each video length (8 / 24 / 64 frames by default), all in one process, each
after the others' models were moved off the GPU:
  * the pack's Text2Video-Zero Sampler, chunk_size 0 (all frames at once) and 8;
  * the same with token_merge_ratio 0.5 (only when the sampler has that option);
  * diffusers' TextToVideoZeroPipeline (same steps, t0/t1, size, weights);
  * core's KSampler on a batch of as many independent images (what plain sampling costs).
Seconds are wall time of one video after a warm-up; peak VRAM is PyTorch's
max_memory_allocated during that video (weights included, CUDA context not).
Goals (issue 14): at 64 frames the pack with chunking takes ≤ 0.75× diffusers' time and
≤ 4 GB peak VRAM.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

GIB = 1024 ** 3
GOAL_TIME_RATIO = 0.75
GOAL_VRAM_GB = 4.0

SD15_UNET = dict(  # diffusers' UNet2DConditionModel config of Stable Diffusion 1.5
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=768, attention_head_dim=8,
)


def _setup_comfy(cpu: bool):
    """The in-process ComfyUI host with this pack loaded (ComfyUI's own loader)."""
    if cpu:
        from support import comfy_env
        comfy_env.setup_comfy()
        import nodes
        return nodes
    from support import comfy_env
    host = comfy_env.find_comfyui_dir()
    comfy_env._put_on_sys_path(host)
    import comfy.options
    comfy.options.enable_args_parsing()
    saved, sys.argv = sys.argv, ["comfyui"]  # ComfyUI's defaults on a GPU (SDPA attention on CUDA)
    try:
        import comfy.cli_args  # noqa: F401
    finally:
        sys.argv = saved
    import hook_breaker_ac10a0
    import nodes
    hook_breaker_ac10a0.save_functions()
    try:
        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False))
    finally:
        hook_breaker_ac10a0.restore_functions()
    if "T2VZ_Sampler" not in nodes.NODE_CLASS_MAPPINGS:
        raise RuntimeError(f"the pack is not loaded from {host}/custom_nodes: run `make setup` or link it there")
    return nodes


class Bench:
    def __init__(self, cpu: bool, res: int, steps: int):
        import torch
        self.torch = torch
        self.cpu, self.res, self.steps = cpu, res, steps
        self.t1 = max(1, steps - 3)  # the paper's 44 / 47 of 50, as indices of this schedule
        self.t0 = max(0, self.t1 - 3)
        self.nodes = _setup_comfy(cpu)
        import comfy.model_management as mm
        import comfy.sd
        self.mm = mm
        self.device = torch.device("cpu") if cpu else mm.get_torch_device()
        self.dtype = torch.float32 if cpu else torch.float16
        torch.set_grad_enabled(False)
        if cpu:  # the tests' tiny SD1.5-shaped checkpoint and its diffusers twin
            from support.tiny_models import ensure_tiny_checkpoint, load_diffusers_unet
            ckpt = ensure_tiny_checkpoint()
            self.model = self.nodes.CheckpointLoaderSimple().load_checkpoint(ckpt.name)[0]
            self.unet = load_diffusers_unet()
        else:
            from diffusers import UNet2DConditionModel
            torch.manual_seed(0)
            self.unet = UNet2DConditionModel(**SD15_UNET).to(self.dtype).eval()
            sd = dict(self.unet.state_dict())  # ComfyUI pops from the dict it gets: hand it a copy
            self.model = comfy.sd.load_diffusion_model_state_dict(sd, model_options={"dtype": self.dtype})
            if self.model is None:
                raise RuntimeError("ComfyUI did not recognise the SD1.5-shaped diffusers UNet")
        g = torch.Generator().manual_seed(1)
        self.pc = torch.randn(1, 77, 768, generator=g)
        self.nc = torch.randn(1, 77, 768, generator=g)
        self.pos = [[self.pc, {}]]
        self.neg = [[self.nc, {}]]
        self.sampler = self.nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]
        inputs = self.sampler.INPUT_TYPES()
        self.has_tome = "token_merge_ratio" in {**inputs.get("required", {}), **inputs.get("optional", {})}
        self.pipe = self._pipeline()
        self._check_same_timesteps()

    def _check_same_timesteps(self):
        """The pack runs ComfyUI's ddim_uniform scheduler, diffusers its DDIM: at most step counts
        they visit the same timesteps, but where 1000 is not a multiple of ``steps`` ddim_uniform
        makes one step more (13 at 12 steps), so the pack would do more UNet work than diffusers."""
        import comfy.samplers
        ours = len(comfy.samplers.calculate_sigmas(self.model.get_model_object("model_sampling"), "ddim_uniform",
                                                   self.steps)) - 1
        self.pipe.scheduler.set_timesteps(self.steps)
        theirs = len(self.pipe.scheduler.timesteps)
        if ours != theirs:
            raise SystemExit(f"--steps {self.steps}: ComfyUI's ddim_uniform makes {ours} steps where diffusers' DDIM "
                             f"makes {theirs}, so the two would not do the same work; use a step count that "
                             f"divides 1000 (e.g. 8, 10, 20, 25, 50)")

    def _pipeline(self):
        from diffusers import DDIMScheduler
        from diffusers.pipelines.deprecated.text_to_video_synthesis import pipeline_text_to_video_zero as ref
        pipe = ref.TextToVideoZeroPipeline(
            vae=None, text_encoder=None, tokenizer=None, unet=self.unet,
            scheduler=DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                    clip_sample=False, set_alpha_to_one=True, steps_offset=1),
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        pc, nc = self.pc.to(self.device, self.dtype), self.nc.to(self.device, self.dtype)
        pipe.encode_prompt = lambda *a, **k: (pc, nc)
        return pipe

    # -- one video per call: (seconds, peak bytes or None) ---------------------------------
    def _measure(self, fn):
        torch = self.torch
        if not self.cpu:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        fn()
        if not self.cpu:
            torch.cuda.synchronize()
        return time.perf_counter() - t, (None if self.cpu else torch.cuda.max_memory_allocated())

    def _comfy_only(self):
        """diffusers' UNet off the GPU: the pack's peak counts only what ComfyUI holds."""
        if not self.cpu:
            self.unet.to("cpu")

    def _diffusers_only(self):
        if not self.cpu:
            self.mm.unload_all_models()
            self.mm.soft_empty_cache()
            self.unet.to(self.device)

    def pack(self, frames, chunk, tome=None):
        self._comfy_only()
        args = dict(seed=1, steps=self.steps, cfg=7.5, sampler_name="ddim", scheduler="ddim_uniform",
                    width=self.res, height=self.res, video_length=frames, motion_field_strength_x=12.0,
                    motion_field_strength_y=12.0, t0=self.t0, t1=self.t1,
                    t_mode="exact (indices of this schedule)", chunk_size=chunk)
        if tome is not None:
            args["token_merge_ratio"] = tome
        return self._measure(lambda: self.sampler.execute(model=self.model, positive=self.pos, negative=self.neg,
                                                          **args))

    def ksampler(self, frames):
        self._comfy_only()
        latent = {"samples": self.torch.zeros(frames, 4, self.res // 8, self.res // 8)}
        return self._measure(lambda: self.nodes.common_ksampler(self.model, 1, self.steps, 7.5, "ddim",
                                                                "ddim_uniform", self.pos, self.neg, latent))

    def diffusers(self, frames):
        self._diffusers_only()
        return self._measure(lambda: self.pipe(prompt="x", video_length=frames, height=self.res, width=self.res,
                                               num_inference_steps=self.steps, guidance_scale=7.5,
                                               output_type="latent", t0=self.t0, t1=self.t1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpu-smoke", action="store_true",
                    help="tiny model, 64², 3 frames, 4 steps, chunk 2, no warm-up, on the CPU")
    ap.add_argument("--frames", type=int, nargs="+", help="video lengths (default 8 24 64)")
    ap.add_argument("--steps", type=int, help="denoising steps (default 50, the paper's)")
    ap.add_argument("--res", type=int, help="frame size in pixels (default 512)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    a = ap.parse_args()
    smoke = a.cpu_smoke
    frames_list = a.frames or ([3] if smoke else [8, 24, 64])
    steps = a.steps or (4 if smoke else 50)
    res = a.res or (64 if smoke else 512)
    chunk = 2 if smoke else 8
    if not smoke:
        import torch
        if not torch.cuda.is_available():
            print("no CUDA device: run with --cpu-smoke to check the script on a CPU", file=sys.stderr)
            return 2
    b = Bench(smoke, res, steps)
    runs = [("pack, chunk 0", lambda f: b.pack(f, 0)), (f"pack, chunk {chunk}", lambda f: b.pack(f, chunk))]
    if b.has_tome:
        runs += [(f"pack, chunk {chunk}, ToMe 0", lambda f: b.pack(f, chunk, 0.0)),
                 (f"pack, chunk {chunk}, ToMe 0.5", lambda f: b.pack(f, chunk, 0.5))]
    runs += [("diffusers TextToVideoZeroPipeline", b.diffusers), ("core KSampler, batch of frames", b.ksampler)]
    for _, fn in ([] if smoke else runs):  # warm-up: kernels, allocator, model loading
        fn(min(frames_list))
    results = {}
    for f in frames_list:
        for name, fn in runs:
            secs, peak = fn(f)
            results[f"{name} | {f}"] = {"frames": f, "seconds": secs, "peak_vram_gb": None if peak is None else peak / GIB}
    where = "CPU smoke run, tiny UNet, fp32" if smoke else f"{b.torch.cuda.get_device_name()}, SD1.5-shaped UNet, fp16"
    print(f"## gpu_bench: {where}, {res}², {steps} steps, cfg 7.5, ddim")
    print("| run | frames | s / video | peak VRAM (GB) |")
    print("|---|---|---|---|")
    for key, r in results.items():
        vram = "n/a (CPU)" if r["peak_vram_gb"] is None else f"{r['peak_vram_gb']:.2f}"
        print(f"| {key.split(' | ')[0]} | {r['frames']} | {r['seconds']:.2f} | {vram} |")
    if not b.has_tome:
        print("(ToMe rows skipped: the sampler has no token_merge_ratio option yet)")
    longest = max(frames_list)
    ours, theirs = results[f"pack, chunk {chunk} | {longest}"], results[f"diffusers TextToVideoZeroPipeline | {longest}"]
    ratio = ours["seconds"] / theirs["seconds"]
    print(f"goal: time, pack chunk {chunk} vs diffusers at {longest} frames: {ratio:.3f}× "
          f"(≤ {GOAL_TIME_RATIO}×: {'met' if ratio <= GOAL_TIME_RATIO else 'NOT met'})")
    if ours["peak_vram_gb"] is not None:
        ok = ours["peak_vram_gb"] <= GOAL_VRAM_GB
        print(f"goal: peak VRAM, pack chunk {chunk} at {longest} frames: {ours['peak_vram_gb']:.2f} GB "
              f"(≤ {GOAL_VRAM_GB} GB: {'met' if ok else 'NOT met'})")
    if a.json:
        a.json.write_text(json.dumps({"where": where, "res": res, "steps": steps, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main())
