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

from . import chunking, controlnet, frame_conds, image_anchor, interrupt, motion as tmotion, noise as tnoise
from .problem import UserError
from .progress import Progress
from .request import FrameSelection, VideoRequest

logger = logging.getLogger(__name__)

# Keys of the LATENT dicts the pack hands between its nodes (beside core's "samples" and
# "noise_mask"): the global frame id of every row, the whole video's length, whether row 0
# is frame 0 only as the anchor (then dropped from the output), and the motion the rows
# were moved with.
FRAME_IDS = "t2vz_frame_ids"
VIDEO_LENGTH = "t2vz_video_length"
OUTPUT_IDS = "t2vz_output_ids"
MOTION = "t2vz_motion"


# -- the model ------------------------------------------------------------------------------

def schedule(model, steps: int, sampler_name: str, scheduler: str) -> torch.Tensor:
    """The full σ schedule a KSampler with these settings would run: steps + 1 values, or more
    where the scheduler adds a step (ComfyUI's ddim_uniform makes 13 steps at 12)."""
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


ENV_BUDGET = "T2VZ_SAMPLER_MAX_GB"
WORKING_COPIES = 6  # latents the samplers keep per frame: input, noise, x, denoised, history, output


def check_fits(model, frames: int, shape) -> None:
    """Refuses, before any sampling, a video whose latents alone would not fit: frames ×
    channels × h × w float32 values, times the copies a sampler keeps, against half of the
    model's device memory (``$T2VZ_SAMPLER_MAX_GB`` overrides). Chunking bounds the model's
    activations, not these."""
    import os
    import comfy.model_management as mm
    need = frames * int(torch.tensor(shape).prod()) * 4 * WORKING_COPIES
    forced = os.environ.get(ENV_BUDGET)
    if forced:
        budget, why = float(forced) * 1e9, f"set by {ENV_BUDGET}"
    else:
        budget, why = mm.get_total_memory(model.load_device) / 2, f"half of this device's memory; {ENV_BUDGET} changes it"
    if need > budget:
        c, h, w = shape
        raise UserError(f"video_length: {frames} frames of {w * 8}×{h * 8} need about {need / 1e9:,.1f} GB for "
                        f"the video's latents alone ({frames} × {c} × {h} × {w} values × 4 bytes × "
                        f"{WORKING_COPIES} working copies), more than {budget / 1e9:,.1f} GB ({why}); lower "
                        f"video_length or width/height, or make the video in parts (frame_start / frame_count, "
                        f"Frame Part)")


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
    if plan.chunked or plan.remapped:  # a part after frame 0: IPAdapter & co. need the global frame ids
        guider = with_chunking(guider, plan, progress)
    return run_guider(guider, sampler, sigmas, latent, noise, seed, cb, noise_mask)


# -- LATENT dicts -----------------------------------------------------------------------------

def video_latent(samples: torch.Tensor, ids, video_length: int, output_ids, motion=None) -> dict:
    out = {"samples": samples, FRAME_IDS: list(ids), VIDEO_LENGTH: video_length, OUTPUT_IDS: list(output_ids)}
    if motion is not None:
        out[MOTION] = motion
    return out


def frames_of(latent: dict, samples: torch.Tensor) -> tuple[list[int], int]:
    """The global frame ids of a LATENT's rows and the whole video's length (a LATENT made
    elsewhere: its rows are the frames of the video, in order)."""
    ids = latent.get(FRAME_IDS) or list(range(samples.shape[0]))
    return list(ids), int(latent.get(VIDEO_LENGTH) or max(ids) + 1)


def output_latent(latent: dict, samples: torch.Tensor) -> dict:
    """The LATENT a sampler outputs: the frames sampled only for the anchor (frame 0, or frame
    0's chunk) are dropped."""
    ids = latent.get(FRAME_IDS)
    if ids is None:
        return {"samples": samples}
    keep = latent.get(OUTPUT_IDS)
    if keep is None or list(keep) == list(ids):
        return {"samples": samples, FRAME_IDS: list(ids)}
    keep = set(keep)
    rows = [i for i, k in enumerate(ids) if k in keep]
    return {"samples": samples[rows], FRAME_IDS: [ids[i] for i in rows]}


# -- text to video ----------------------------------------------------------------------------

def text_to_video(guider, request: VideoRequest, sampler_name: str, scheduler: str, *,
                  motion=None, first_frame: dict | None = None) -> dict:
    """The whole method: steps 1–3 (init_video) and step 4 (finish_video) under one progress bar."""
    model = guider.model_patcher
    plan = request.chunk_plan(request.frames.ids, request.video_length)
    sigmas = schedule(model, request.steps, sampler_name, scheduler)
    steps = len(sigmas) - 1  # as the scheduler makes them
    tm = request.timing_for(first_frame is not None, steps)
    first_units = 0 if first_frame is not None else tm.k0
    progress = Progress(model, first_units + (steps - tm.k1) * plan.count)
    latent, sigmas_tail = init_video(guider, request, sampler_name, scheduler, motion=motion,
                                     first_frame=first_frame, progress=progress, sigmas=sigmas)
    return finish_video(guider, sampler_name, latent, sigmas_tail, request, progress, offset=first_units)


def init_video(guider, request: VideoRequest, sampler_name: str, scheduler: str, *, motion=None,
               first_frame: dict | None = None, progress: Progress | None = None,
               sigmas: torch.Tensor | None = None) -> tuple[dict, torch.Tensor]:
    """Steps 1–3: the video LATENT at T1 (frame 0 first) and the σ schedule from T1 to the end.

    ``motion``: a MOTION value (``warp(latents, frame_ids)``) instead of the request's x/y
    strengths. ``first_frame``: a LATENT whose image becomes frame 0 (image_anchor.py).
    ``sigmas``: the run's whole schedule when the caller already has it.
    """
    import comfy.samplers
    model = guider.model_patcher
    seed, frames = request.seed, request.frames
    sampler = comfy.samplers.sampler_object(sampler_name)
    if sigmas is None:
        sigmas = schedule(model, request.steps, sampler_name, scheduler)
    tm = request.timing_for(first_frame is not None, len(sigmas) - 1)
    width, height = resolve_size(model, request.width, request.height)
    shape = latent_shape(model, width, height)
    check_fits(model, len(frames.ids), shape)
    lf = model.get_model_object("latent_format")
    ms = model.get_model_object("model_sampling")
    eps0 = tnoise.first_frame_noise(seed, shape)  # KSampler's noise for the seed

    if first_frame is None:
        # 1. frame 0 alone (its conditioning row), from KSampler's noise for the seed, down to T1
        #    and on to T0
        if progress is None:
            progress = Progress(model, tm.k0)
        guider0 = frame_conds.pick_rows(guider, [0], request.video_length)
        empty = torch.zeros((1, *shape))
        x_t1 = run_guider(guider0, sampler, sigmas[:tm.k1 + 1], empty, eps0, seed, progress.callback(0))
        x_t0 = run_guider(guider0, sampler, sigmas[tm.k1:tm.k0 + 1], x_t1, torch.zeros_like(x_t1), seed,
                          progress.callback(tm.k1))
        row0 = x_t1[0].float()
        m_t0 = lf.process_in(x_t0.float())
    else:
        # 1'. frame 0 is the user's image: noised with ε0 to T0 (the video phase noises it to
        #     T1 itself, from the clean image and ε0: see image_anchor.noise_and_mask)
        import comfy.sample
        image = image_anchor.image_latent(first_frame, shape,
                                          lambda x: comfy.sample.fix_empty_latent_channels(model, x))
        row0 = image[0]
        m_t0 = image_anchor.noised(ms, lf.process_in(image), float(sigmas[tm.k0]), eps0)

    # 2. frame 0 at T0 copied to every other frame k and moved as frame k of the motion
    motion = motion if motion is not None else motion_of(request)
    others = [k for k in frames.ids if k != 0]
    rows = iter(())
    if others:
        m_t0 = motion.warp(m_t0.repeat(len(others), 1, 1, 1), others)
        interrupt.check()

        # 3. renoised from T0 back to T1 with noise fixed by (seed, k)
        eps = tnoise.frame_noise(seed, others, m_t0.shape[1:], tnoise.STREAM_RENOISE)
        m_t1 = tnoise.renoise_model_space(ms, m_t0, float(sigmas[tm.k0]), float(sigmas[tm.k1]), eps)
        rows = iter(lf.process_out(m_t1))
    latent_t1 = torch.stack([row0 if k == 0 else next(rows) for k in frames.ids])
    latent = video_latent(latent_t1, frames.ids, request.video_length, frames.output_ids, motion)
    if first_frame is not None:
        latent.update({image_anchor.NOISE: eps0, image_anchor.MODE: request.first_frame_mode,
                       image_anchor.RELEASE: request.first_frame_release})
    return latent, sigmas[tm.k1:].clone()


def finish_video(guider, sampler_name: str, latent: dict, sigmas: torch.Tensor, request: VideoRequest,
                 progress: Progress | None = None, offset: int = 0) -> dict:
    """Step 4: every frame from T1 (sigmas[0]) to the end, together, in chunks sharing frame 0
    (held as the user's image when it is one, see image_anchor)."""
    import comfy.samplers
    samples = latent["samples"]
    ids, video_length = frames_of(latent, samples)
    guider = frame_conds.pick_rows(guider, ids, video_length)
    plan = request.chunk_plan(ids, video_length)
    if progress is None:
        progress = Progress(guider.model_patcher, (sigmas.shape[0] - 1) * plan.count)
    noise, mask = image_anchor.noise_and_mask(latent, samples)
    if mask is not None and latent.get(image_anchor.MODE) == image_anchor.REFINE:
        guider = with_release(guider, image_anchor.release_sigma(sigmas, latent[image_anchor.RELEASE]))
    out = denoise_frames(guider, comfy.samplers.sampler_object(sampler_name), sigmas, samples, noise,
                         request.seed, plan, progress, offset, noise_mask=mask)
    if mask is not None and latent.get(image_anchor.MODE) == image_anchor.PINNED:
        out[0] = samples[0].to(out)  # frame 0 is the user's image, bit for bit
    return output_latent(latent, out)


def with_release(guider, sigma_release: float):
    """A shallow copy of ``guider`` whose model lets frame 0's mask go below ``sigma_release``."""
    g = copy.copy(guider)
    g.model_patcher = guider.model_patcher.clone()
    mo = g.model_patcher.model_options
    mo["denoise_mask_function"] = image_anchor.release_function(sigma_release, mo.get("denoise_mask_function"))
    g.model_options = mo
    g.original_conds = dict(guider.original_conds)
    return g


# -- frame-guided video -----------------------------------------------------------------------

def select_frames(latent: dict, frame_start: int = 0, frame_count: int = 0, chunk_size: int = 0) -> dict:
    """The rows of ``latent`` (one per frame of the whole video) that a part made of the frames
    ``frame_start`` … (``frame_count`` of them, 0 = to the end) samples: frame 0's anchor (its
    chunk when the video is chunked) and the part's frames, with their global ids. The whole
    video (no range) is returned as it is."""
    if not frame_start and not frame_count:
        return latent
    samples = latent["samples"]
    if samples.ndim != 4:
        raise UserError(f"latent_image must be a batch of image latents, one per frame; got shape "
                        f"{tuple(samples.shape)}")
    n = samples.shape[0]
    ids = latent.get(FRAME_IDS)
    if ids is not None and list(ids) != list(range(n)):
        raise UserError("latent_image already holds part of a video (from a sampler given frame_start/frame_count); "
                        "give the whole video's latent and the frame range here")
    if frame_start >= n:
        raise UserError(f"frame_start ({frame_start}) is beyond latent_image's {n} frames (the last is frame {n - 1}); "
                        f"the frame range counts the frames of latent_image, one latent per frame")
    if frame_count and frame_start + frame_count > n:
        raise UserError(f"frame_start ({frame_start}) + frame_count ({frame_count}) goes beyond latent_image's {n} "
                        f"frames; the last frame is {n - 1}")
    sel = FrameSelection.of(n, frame_start, frame_count, chunk_size)
    rows = list(sel.ids)
    # the pack's keys of a whole-video LATENT are replaced; batch_index (core's noise per
    # batch position) does not apply: the pack's noise follows the global frame ids
    out = {k: v for k, v in latent.items()
           if k not in ("samples", "batch_index", FRAME_IDS, VIDEO_LENGTH, OUTPUT_IDS)}
    mask = latent.get("noise_mask")
    if isinstance(mask, torch.Tensor) and mask.ndim >= 2:
        import comfy.utils
        m = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1]))
        if m.shape[0] > 1:  # masks per frame, repeated to the video as core repeats them: the part's
            out["noise_mask"] = comfy.utils.repeat_to_batch_size(m, n)[rows]
    return {**out, **video_latent(samples[rows], sel.ids, n, sel.output_ids)}


def frame_guided_video(guider, sampler, sigmas: torch.Tensor, latent: dict, request: VideoRequest) -> dict:
    """A video whose frames are guided one by one: all frames from shared or per-frame noise
    (``request.noise_mode``), through ``sigmas``, in chunks sharing frame 0. A ``latent``
    from select_frames is a part: its rows are sampled as in one run of the whole video."""
    import comfy.sample
    model = guider.model_patcher
    samples = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
    if samples.ndim != 4:
        raise ValueError(f"latent_image must be a batch of image latents, one per frame; "
                         f"got shape {tuple(samples.shape)}")
    check_fits(model, samples.shape[0], samples.shape[1:])
    ids, video_length = frames_of(latent, samples)
    guider = frame_conds.pick_rows(guider, ids, video_length)
    noise = tnoise.initial_noise(request.seed, ids, samples.shape[1:], request.noise_mode)
    plan = request.chunk_plan(ids, video_length)
    progress = Progress(model, (sigmas.shape[-1] - 1) * plan.count)
    out = denoise_frames(guider, sampler, sigmas, samples, noise, request.seed, plan, progress,
                         noise_mask=latent.get("noise_mask"))
    return output_latent(latent, out)
