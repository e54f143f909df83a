"""The Text2Video-Zero sampling schedule (paper §3.3, Algorithm 1) on ComfyUI's samplers.

    1. frame 0 alone: noise → T1 (k1 steps) → T0 (k0 − k1 more steps)
    2. frames 1..N−1 := frame 0 at T0, translated by k·motion (global frame index k)
    3. frames 1..N−1: forward diffusion T0 → T1 in model space, ε fixed by (seed, k)
    4. all frames from T1 to the end, together (with cross-frame attention on the model)

Latents handed between nodes are ComfyUI LATENT tensors (``process_out`` space, as any
KSampler returns). Warping and renoising happen on the model-space latent
(``latent_format.process_in``), where x_σ = x_0 + σ·ε.

ComfyUI is imported lazily so that the pure parts of t2vz_core import without it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from . import chunking, motion, noise as tnoise
from .timing import Timing

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MotionSettings:
    strength_x: float = 12.0
    strength_y: float = 12.0
    enabled: bool = True


@dataclass
class FirstFrame:
    x_t1: torch.Tensor   # (1, C, h, w) LATENT-space frame 0 at T1
    x_t0: torch.Tensor   # (1, C, h, w) LATENT-space frame 0 at T0


def schedule(model, steps: int, sampler_name: str, scheduler: str) -> torch.Tensor:
    """The full σ schedule a KSampler with these settings would run (steps + 1 values)."""
    import comfy.samplers
    ks = comfy.samplers.KSampler(model, steps=steps, device="cpu", sampler=sampler_name,
                                 scheduler=scheduler, denoise=1.0, model_options=model.model_options)
    return ks.sigmas.detach().cpu().float()


class Progress:
    """One ComfyUI progress bar (with latent previews) across several sampling calls.

    Counted in units: a step of frame 0 alone is one unit, a video step is one unit per
    chunk, so long chunked videos move the bar chunk by chunk.
    """

    def __init__(self, model, total_units: int, preview_frames: int = 4):
        import comfy.utils
        import latent_preview
        self.total = max(1, int(total_units))
        self.value = 0
        self.limit = self.total
        self.preview_frames = preview_frames
        self.pbar = comfy.utils.ProgressBar(self.total)
        self.previewer = latent_preview.get_previewer(model.load_device, model.model.latent_format)

    def _strip(self, x0: torch.Tensor) -> torch.Tensor:
        """Up to ``preview_frames`` evenly spaced frames side by side, as one latent image."""
        n = x0.shape[0]
        if n <= 1 or x0.ndim != 4:
            return x0[:1]
        idx = torch.linspace(0, n - 1, min(n, self.preview_frames)).round().long().unique()
        return torch.cat(list(x0[idx]), dim=-1)[None]

    def tick(self) -> None:
        """One chunk done (no preview); never runs past the end of the current step."""
        if self.value < self.limit:
            self.value += 1
            self.pbar.update_absolute(self.value, self.total)

    def callback(self, offset: int, units_per_step: int = 1) -> Callable:
        self.value = offset
        self.limit = offset + units_per_step

        def cb(step, x0, x, total_steps):
            preview = None
            if self.previewer is not None:
                preview = self.previewer.decode_latent_to_preview_image("JPEG", self._strip(x0))
            self.value = offset + (step + 1) * units_per_step
            self.limit = self.value + units_per_step
            self.pbar.update_absolute(self.value, self.total, preview)
        return cb


def _sample(model, noise, latent, sigmas, positive, negative, cfg, sampler_name, seed, callback):
    import comfy.sample
    import comfy.samplers
    import comfy.utils
    sampler = comfy.samplers.sampler_object(sampler_name)
    return comfy.sample.sample_custom(model, noise, cfg, sampler, sigmas, positive, negative, latent,
                                      callback=callback, disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED,
                                      seed=seed)


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


def first_frame(model, positive, negative, seed: int, cfg: float, sampler_name: str,
                sigmas: torch.Tensor, timing: Timing, shape: Sequence[int],
                progress: Progress | None = None) -> FirstFrame:
    """Denoise frame 0 alone from pure noise to T1, then on to T0."""
    k1, k0 = timing.k1, timing.k0
    empty = torch.zeros((1, *shape))
    n0 = tnoise.first_frame_noise(seed, shape)
    cb = progress.callback(0) if progress else None
    x_t1 = _sample(model, n0, empty, sigmas[:k1 + 1], positive, negative, cfg, sampler_name, seed, cb)
    cb = progress.callback(k1) if progress else None
    x_t0 = _sample(model, torch.zeros_like(x_t1), x_t1, sigmas[k1:k0 + 1], positive, negative, cfg,
                   sampler_name, seed, cb)
    return FirstFrame(x_t1=x_t1, x_t0=x_t0)


def renoise_model_space(model, m_t0: torch.Tensor, sigma_t0: float, sigma_t1: float,
                        eps: torch.Tensor) -> torch.Tensor:
    """Forward diffusion T0 → T1 in the model's own parameterisation."""
    import comfy.model_sampling
    ms = model.get_model_object("model_sampling")
    if isinstance(ms, comfy.model_sampling.CONST):
        # x_σ = (1 − σ)·x0 + σ·ε: scale the signal, then top the noise up to σ1.
        a = (1.0 - sigma_t1) / (1.0 - sigma_t0)
        extra = max(sigma_t1 ** 2 - (a * sigma_t0) ** 2, 0.0) ** 0.5
        return a * m_t0 + extra * eps.to(m_t0)
    return tnoise.renoise(m_t0, sigma_t0, sigma_t1, eps)


def propagate(model, first: FirstFrame, sigmas: torch.Tensor, timing: Timing, seed: int,
              frame_ids: Sequence[int], motion_settings: MotionSettings) -> torch.Tensor:
    """Video latent at T1 for ``frame_ids`` (global indices; 0 is frame 0 itself).

    Frame 0 keeps its own T1 latent; every other frame k is frame 0's T0 latent,
    translated by k·motion, renoised to T1 with ε(seed, k).
    """
    lf = model.get_model_object("latent_format")
    others = [int(k) for k in frame_ids if int(k) != 0]
    if others:
        m_t0 = lf.process_in(first.x_t0.float()).repeat(len(others), 1, 1, 1)
        if motion_settings.enabled:
            m_t0 = motion.warp_latents(m_t0, motion_settings.strength_x, motion_settings.strength_y, others)
        eps = tnoise.frame_noise(seed, others, m_t0.shape[1:], tnoise.STREAM_RENOISE)
        m_t1 = renoise_model_space(model, m_t0, float(sigmas[timing.k0]), float(sigmas[timing.k1]), eps)
        rest = iter(lf.process_out(m_t1))
    out = [first.x_t1[0].float() if int(k) == 0 else next(rest) for k in frame_ids]
    return torch.stack(out)


def video_units(frames: int, steps: int, chunk_size: int) -> int:
    """Progress units of the video phase: steps × chunks."""
    return steps * len(chunking.plan(frames, chunk_size))


def sample_video(model, positive, negative, latent_t1: torch.Tensor, sigmas_tail: torch.Tensor,
                 cfg: float, sampler_name: str, seed: int, chunk_size: int = 0,
                 progress: Progress | None = None, offset: int = 0) -> torch.Tensor:
    """Denoise all frames together from T1 (sigmas_tail[0]) to the end, ``chunk_size``
    frames per model call (0: all at once); frame 0 must be the first latent."""
    n_chunks = len(chunking.plan(latent_t1.shape[0], chunk_size))
    cb = progress.callback(offset, n_chunks) if progress else None
    from . import controlnet
    controlnet.check_controlnets_fit(model, positive, negative)
    if n_chunks > 1:
        model = chunking.apply(model, chunk_size, progress.tick if progress else None)
    return _sample(model, torch.zeros_like(latent_t1), latent_t1, sigmas_tail, positive, negative, cfg,
                   sampler_name, seed, cb)


@dataclass
class Text2VideoResult:
    latent_t1: torch.Tensor
    sigmas_tail: torch.Tensor
    first: FirstFrame = field(repr=False)


def init_video(model, positive, negative, seed, cfg, sampler_name, sigmas, timing: Timing,
               width, height, frame_ids, motion_settings, progress=None) -> Text2VideoResult:
    width, height = resolve_size(model, width, height)
    shape = latent_shape(model, width, height)
    first = first_frame(model, positive, negative, seed, cfg, sampler_name, sigmas, timing, shape, progress)
    latent_t1 = propagate(model, first, sigmas, timing, seed, frame_ids, motion_settings)
    return Text2VideoResult(latent_t1=latent_t1, sigmas_tail=sigmas[timing.k1:].clone(), first=first)


NOISE_SHARED = "shared (same noise for every frame)"
NOISE_PER_FRAME = "per frame"
NOISE_MODES = [NOISE_SHARED, NOISE_PER_FRAME]


def initial_noise(seed: int, frame_ids: Sequence[int], shape: Sequence[int], mode: str) -> torch.Tensor:
    """Starting noise of a video whose frames are sampled together (pose/edge/pix2pix modes).

    ``shared``: every frame starts from frame 0's noise, as the reference does for
    ControlNet videos ("fix latents for all frames"). ``per frame``: frame k gets its own
    noise fixed by (seed, k). Frame 0's noise is always KSampler's noise for the seed.
    """
    first = tnoise.first_frame_noise(seed, shape)
    if mode == NOISE_SHARED:
        return first.repeat(len(frame_ids), *([1] * len(shape)))
    if mode != NOISE_PER_FRAME:
        raise ValueError(f"noise_mode '{mode}' is not one of: {', '.join(NOISE_MODES)}")
    rest = [k for k in frame_ids if int(k) != 0]
    others = iter(tnoise.frame_noise(seed, rest, shape, tnoise.STREAM_INITIAL))
    return torch.stack([first[0] if int(k) == 0 else next(others) for k in frame_ids])


def with_chunking(guider, chunk_size: int, progress: Progress | None):
    """A shallow copy of a ComfyUI guider whose model samples in chunks (frame 0 as anchor)."""
    import copy
    g = copy.copy(guider)
    g.model_patcher = chunking.apply(guider.model_patcher, chunk_size, progress.tick if progress else None)
    g.model_options = g.model_patcher.model_options
    g.original_conds = dict(guider.original_conds)
    return g


def sample_frames(guider, sampler, sigmas: torch.Tensor, latent: torch.Tensor, noise: torch.Tensor, seed: int,
                  chunk_size: int = 0, progress: Progress | None = None, noise_mask=None) -> torch.Tensor:
    """Sample a batch of frames with any ComfyUI guider and sampler, in chunks sharing frame 0."""
    import comfy.utils
    n_chunks = len(chunking.plan(latent.shape[0], chunk_size))
    cb = progress.callback(0, n_chunks) if progress else None
    if n_chunks > 1:
        guider = with_chunking(guider, chunk_size, progress)
    return guider.sample(noise, latent, sampler, sigmas, denoise_mask=noise_mask, callback=cb,
                         disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
