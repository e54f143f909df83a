"""The two ways the pack makes a video, on ComfyUI's guiders and samplers.

Text to video (paper §3.3, Algorithm 1) — ``text_to_video`` = ``init_video`` + ``finish_video``:
    1. frame 0 alone: noise → T1 (k1 steps) → T0 (k0 − k1 more steps)
    2. frames 1..N−1 := frame 0 at T0, moved by the motion as frame k (global index)
    3. frames 1..N−1: forward diffusion T0 → T1 in model space, ε fixed by (seed, k)
    4. all frames from T1 to the end, together (cross-frame attention lives on the model),
       in the chunks of one ChunkPlan that all attend to frame 0

Frame-guided video — ``frame_guided_video``: every frame has its own guidance (ControlNet
hints, InstructPix2Pix images); all frames are denoised together from shared or per-frame
noise, in the same chunks.

Guidance travels as a ComfyUI GUIDER (as in core's SamplerCustomAdvanced), the user's
settings as one VideoRequest. Latents handed between nodes are ComfyUI LATENT tensors
(``process_out`` space, as any KSampler returns); warping and renoising happen on the
model-space latent (``latent_format.process_in``), where x_σ = x_0 + σ·ε.

ComfyUI is imported lazily so that the pure parts of t2vz_core import without it.
"""
from __future__ import annotations

import copy
import logging

import torch

from . import chunking, controlnet, interrupt, motion as tmotion, noise as tnoise
from .progress import Progress
from .request import VideoRequest

logger = logging.getLogger(__name__)

# Keys of the LATENT dicts the pack hands between its nodes (beside core's "samples" and
# "noise_mask"): the global frame id of every row, whether row 0 is frame 0 only as the
# anchor (then dropped from the output), and the motion the rows were moved with.
FRAME_IDS = "t2vz_frame_ids"
DROP_FIRST = "t2vz_drop_first"
MOTION = "t2vz_motion"


# -- the model ------------------------------------------------------------------------------

def schedule(model, steps: int, sampler_name: str, scheduler: str) -> torch.Tensor:
    """The full σ schedule a KSampler with these settings would run (steps + 1 values)."""
    import comfy.samplers
    ks = comfy.samplers.KSampler(model, steps=steps, device="cpu", sampler=sampler_name,
                                 scheduler=scheduler, denoise=1.0, model_options=model.model_options)
    return ks.sigmas.detach().cpu().float()


def native_size(model) -> int:
    """The square size a UNet checkpoint was trained at: 1024 for SDXL-family, 768 for
    SD2.x v-prediction, else 512 (SD1.x, SD2.x base)."""
    import comfy.model_base
    import comfy.model_sampling
    m = model.model
    if isinstance(m, comfy.model_base.SDXL) or type(m).__name__.startswith("SDXL"):
        return 1024
    if isinstance(m, comfy.model_base.SD21UNCLIP) or (
            type(m).__name__ == "BaseModel" and isinstance(model.get_model_object("model_sampling"),
                                                            comfy.model_sampling.V_PREDICTION)):
        return 768
    return 512


def resolve_size(model, width: int, height: int) -> tuple[int, int]:
    """0 means the model's native size; a size far below it gets a warning, not a guess."""
    native = native_size(model)
    w, h = width or native, height or native
    if max(w, h) < native * 0.7:
        logger.warning("%dx%d is small for this model (trained at %dx%d); expect poor frames, or set width/height "
                       "to 0 for the native size", w, h, native, native)
    return w, h


def latent_shape(model, width: int, height: int) -> tuple[int, int, int]:
    lf = model.get_model_object("latent_format")
    return (lf.latent_channels, height // 8, width // 8)


def motion_of(request: VideoRequest):
    """The MOTION value of a request's x/y strengths (none when use_motion_field is off)."""
    if not request.use_motion_field:
        return tmotion.STILL
    return tmotion.Translation(request.motion_field_strength_x, request.motion_field_strength_y)


# -- guiders ----------------------------------------------------------------------------------

def cfg_guider(model, positive, negative, cfg: float):
    """Core's CFGGuider, as a KSampler builds it."""
    import comfy.samplers
    g = comfy.samplers.CFGGuider(model)
    g.set_conds(positive, negative)
    g.set_cfg(cfg)
    return g


def with_chunking(guider, plan: chunking.ChunkPlan, progress: Progress | None):
    """A shallow copy of a ComfyUI guider whose model samples in ``plan``'s chunks."""
    g = copy.copy(guider)
    g.model_patcher = chunking.apply(guider.model_patcher, plan, progress.tick if progress else None)
    g.model_options = g.model_patcher.model_options
    g.original_conds = dict(guider.original_conds)
    return g


def run_guider(guider, sampler, sigmas, latent, noise, seed, callback=None, noise_mask=None) -> torch.Tensor:
    """One sampling call, exactly as core's sample_custom makes it."""
    import comfy.model_management
    import comfy.utils
    out = guider.sample(noise, latent, sampler, sigmas, denoise_mask=noise_mask, callback=callback,
                        disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
    return out.to(comfy.model_management.intermediate_device())


def denoise_frames(guider, sampler, sigmas, latent, noise, seed, plan: chunking.ChunkPlan,
                   progress: Progress | None, offset: int = 0, noise_mask=None) -> torch.Tensor:
    """All frames of ``latent`` (frame 0 first) together through ``sigmas``, in ``plan``'s chunks."""
    controlnet.check_controlnets_fit(guider.model_patcher, *guider.original_conds.values())
    cb = progress.callback(offset, plan.count) if progress else None
    if plan.chunked:
        guider = with_chunking(guider, plan, progress)
    return run_guider(guider, sampler, sigmas, latent, noise, seed, cb, noise_mask)


# -- LATENT dicts -----------------------------------------------------------------------------

def video_latent(samples: torch.Tensor, ids, drop_first: bool, motion=None) -> dict:
    out = {"samples": samples, FRAME_IDS: list(ids), DROP_FIRST: drop_first}
    if motion is not None:
        out[MOTION] = motion
    return out


def output_latent(latent: dict, samples: torch.Tensor) -> dict:
    """The LATENT a sampler outputs: frame 0 is dropped when it was only sampled as the anchor."""
    drop = bool(latent.get(DROP_FIRST))
    if drop:
        samples = samples[1:]
    ids = latent.get(FRAME_IDS)
    if ids is None:
        return {"samples": samples}
    return {"samples": samples, FRAME_IDS: list(ids[1:] if drop else ids)}


# -- text to video ----------------------------------------------------------------------------

def text_to_video(guider, request: VideoRequest, sampler_name: str, scheduler: str) -> dict:
    """The whole method: steps 1–3 (init_video) and step 4 (finish_video) under one progress bar."""
    model = guider.model_patcher
    plan = request.chunk_plan(len(request.frames.ids))
    k0 = request.timing.k0
    progress = Progress(model, k0 + request.video_steps * plan.count)
    latent, sigmas_tail = init_video(guider, request, sampler_name, scheduler, progress)
    return finish_video(guider, sampler_name, latent, sigmas_tail, request, progress, offset=k0)


def init_video(guider, request: VideoRequest, sampler_name: str, scheduler: str,
               progress: Progress | None = None) -> tuple[dict, torch.Tensor]:
    """Steps 1–3: the video LATENT at T1 (frame 0 first) and the σ schedule from T1 to the end."""
    import comfy.samplers
    model = guider.model_patcher
    tm, seed = request.timing, request.seed
    frames = request.frames
    if progress is None:
        progress = Progress(model, tm.k0)
    sampler = comfy.samplers.sampler_object(sampler_name)
    sigmas = schedule(model, request.steps, sampler_name, scheduler)
    width, height = resolve_size(model, request.width, request.height)
    shape = latent_shape(model, width, height)

    # 1. frame 0 alone, from KSampler's noise for the seed, down to T1 and on to T0
    empty = torch.zeros((1, *shape))
    x_t1 = run_guider(guider, sampler, sigmas[:tm.k1 + 1], empty, tnoise.first_frame_noise(seed, shape), seed,
                      progress.callback(0))
    x_t0 = run_guider(guider, sampler, sigmas[tm.k1:tm.k0 + 1], x_t1, torch.zeros_like(x_t1), seed,
                      progress.callback(tm.k1))

    # 2. frame 0 at T0 copied to every other frame k and moved as frame k of the motion
    motion = motion_of(request)
    others = [k for k in frames.ids if k != 0]
    lf = model.get_model_object("latent_format")
    rows = iter(())
    if others:
        m_t0 = lf.process_in(x_t0.float()).repeat(len(others), 1, 1, 1)
        m_t0 = motion.warp(m_t0, others)
        interrupt.check()

        # 3. renoised from T0 back to T1 with noise fixed by (seed, k)
        eps = tnoise.frame_noise(seed, others, m_t0.shape[1:], tnoise.STREAM_RENOISE)
        m_t1 = tnoise.renoise_model_space(model.get_model_object("model_sampling"), m_t0,
                                          float(sigmas[tm.k0]), float(sigmas[tm.k1]), eps)
        rows = iter(lf.process_out(m_t1))
    latent_t1 = torch.stack([x_t1[0].float() if k == 0 else next(rows) for k in frames.ids])
    return video_latent(latent_t1, frames.ids, frames.drop_first, motion), sigmas[tm.k1:].clone()


def finish_video(guider, sampler_name: str, latent: dict, sigmas: torch.Tensor, request: VideoRequest,
                 progress: Progress | None = None, offset: int = 0) -> dict:
    """Step 4: every frame from T1 (sigmas[0]) to the end, together, in chunks sharing frame 0."""
    import comfy.samplers
    samples = latent["samples"]
    plan = request.chunk_plan(samples.shape[0])
    if progress is None:
        progress = Progress(guider.model_patcher, (sigmas.shape[0] - 1) * plan.count)
    out = denoise_frames(guider, comfy.samplers.sampler_object(sampler_name), sigmas, samples,
                         torch.zeros_like(samples), request.seed, plan, progress, offset)
    return output_latent(latent, out)


# -- frame-guided video -----------------------------------------------------------------------

def frame_guided_video(guider, sampler, sigmas: torch.Tensor, latent: dict, request: VideoRequest) -> dict:
    """A video whose frames are guided one by one: all frames from shared or per-frame noise
    (``request.noise_mode``), through ``sigmas``, in chunks sharing frame 0."""
    import comfy.sample
    model = guider.model_patcher
    samples = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
    if samples.ndim != 4:
        raise ValueError(f"latent_image must be a batch of image latents, one per frame; "
                         f"got shape {tuple(samples.shape)}")
    ids = latent.get(FRAME_IDS) or list(range(samples.shape[0]))
    noise = tnoise.initial_noise(request.seed, ids, samples.shape[1:], request.noise_mode)
    plan = request.chunk_plan(samples.shape[0])
    progress = Progress(model, (sigmas.shape[-1] - 1) * plan.count)
    out = denoise_frames(guider, sampler, sigmas, samples, noise, request.seed, plan, progress,
                         noise_mask=latent.get("noise_mask"))
    return output_latent(latent, out)
