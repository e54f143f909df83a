"""Background smoothing at T1 (paper §3.3, the original's ``smooth_bg``).

Once the video has been made, a foreground mask per frame (1 = foreground) says where
the subject is. The video latent at T1 is then blended, in the background only, towards
frame 0's background moved by the same motion field, and all frames are denoised again
from T1. This module does the blend; the second pass is an ordinary Video Sampler run.

Which space: ComfyUI LATENTs are ``process_out`` space (the VAE's raw latent); the
sampler's model space is ``process_in(latent)`` = latent · scale_factor for every UNet
family this pack runs (SD1.x, SD2.x, SDXL have no shift); the original's latent at T1 is
diffusers' x_t = sqrt(ᾱ)·x₀ + sqrt(1 − ᾱ)·ε = sqrt(ᾱ)·x_σ with x_σ = x₀ + σ·ε ComfyUI's model
space, i.e. the LATENT times one number shared by all frames. Every term of the blend is a mask times x or a pixel of x moved by
the warp (a gather) times a mask, so the blend is homogeneous of degree one in x:
f(c·x) = c·f(x) for any number c. Working on the LATENT is therefore the original's
computation, not an approximation of it (in floating point the two differ only by where
the rounding of the one scale factor falls). With binary masks it would even hold for an
affine latent format, since the zeroed foreground is only read where the blend weight of
x̂ is 0.

Deliberate difference: frame 0 is returned as it came in. The original also sends
frame 0 through the blend (its warped mask is its own mask), which gives back x up to
rounding for binary masks and changes it slightly for soft masks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

DEFAULT_STRENGTH = 0.4  # the original's smooth_bg_strength
DEFAULT_DILATION = 5    # the original's 5×5 dilation kernel
MAX_DILATION = 63

Warp = Callable[[torch.Tensor, Sequence[int]], torch.Tensor]


@dataclass(frozen=True)
class SmoothingSettings:
    """What the user sets on Background Smoothing, checked once by ``check``."""
    strength: float = DEFAULT_STRENGTH
    dilation: int = DEFAULT_DILATION
    invert: bool = False


def check(settings: SmoothingSettings) -> str | None:
    """A message naming the input when a setting is out of range, else None."""
    if not 0.0 <= settings.strength <= 1.0:
        return (f"strength ({settings.strength}) must be between 0 and 1 (1 keeps the video as it is, "
                f"0 replaces the background by frame 0's; the paper uses {DEFAULT_STRENGTH})")
    if not (1 <= settings.dilation <= MAX_DILATION and settings.dilation % 2 == 1):
        return (f"dilation ({settings.dilation}) must be an odd number from 1 to {MAX_DILATION}: the side, in "
                f"latent pixels, of the square centred on each pixel (1 = none; the paper uses {DEFAULT_DILATION})")
    return None


def pick_masks(masks: torch.Tensor, frame_ids: Sequence[int]) -> torch.Tensor:
    """The masks of ``frame_ids`` (n, H, W) from a MASK batch of the whole video.

    ``masks`` is (B, H, W) with one mask per frame of the video (picked by global frame
    id, so a part of a video uses the same masks as one run), or one mask for every frame.
    """
    if masks.ndim == 2:
        masks = masks[None]
    if masks.ndim != 3 or masks.shape[0] == 0:
        raise ValueError(f"masks: expected a MASK batch (frames, height, width), got shape {tuple(masks.shape)}")
    if masks.shape[0] == 1:
        return masks.expand(len(frame_ids), -1, -1)
    last = max(frame_ids)
    if masks.shape[0] <= last:
        raise ValueError(f"masks: {masks.shape[0]} masks, but the latent holds frame {last}: give one mask per "
                         f"frame of the whole video (frame 0 first, picked by frame index, so a part of a video "
                         f"needs the whole video's masks) or a single mask for every frame")
    return masks[list(frame_ids)]


def dilate(masks: torch.Tensor, size: int) -> torch.Tensor:
    """Grey-scale dilation of (n, 1, h, w) masks with a centred size×size square (odd size).

    As the original's kornia ``dilation`` with a flat all-ones kernel: a max filter in
    which pixels outside the frame take no part.
    """
    if size <= 1:
        return masks
    r = size // 2
    padded = F.pad(masks, (r, r, r, r), value=float("-inf"))
    return F.max_pool2d(padded, kernel_size=size, stride=1)


def latent_masks(masks: torch.Tensor, frame_ids: Sequence[int], size: tuple[int, int],
                 settings: SmoothingSettings, dtype=torch.float32, device=None) -> torch.Tensor:
    """Foreground masks (n, 1, h, w) at latent size: picked by frame id, inverted when asked,
    resized (nearest) and dilated, as the original prepares its detector's masks."""
    m = pick_masks(masks, frame_ids).to(device=device, dtype=dtype)
    if settings.invert:
        m = 1 - m
    m = F.interpolate(m[:, None], size=size, mode="nearest")
    return dilate(m, settings.dilation)


def smooth_background(x_t1: torch.Tensor, frame_ids: Sequence[int], fg: torch.Tensor, strength: float,
                      warp: Warp) -> torch.Tensor:
    """The smoothed latent at T1 (paper §3.3): frames 1.. blended towards frame 0's background.

    ``x_t1`` (n, C, h, w) holds frame 0 first, then the frames ``frame_ids[1:]`` (global
    ids); ``fg`` (n, 1, h, w) their foreground masks at latent size (see ``latent_masks``);
    ``warp(latents, frame_ids)`` moves row i as frame frame_ids[i] of the video.
    """
    if list(frame_ids[:1]) != [0]:
        raise ValueError("the latent's first frame must be frame 0 (the anchor whose background is copied)")
    if x_t1.shape[0] != len(frame_ids) or fg.shape[0] != len(frame_ids):
        raise ValueError(f"{x_t1.shape[0]} latents, {fg.shape[0]} masks and {len(frame_ids)} frame ids")
    n = len(frame_ids)
    if n == 1:
        return x_t1.clone()
    rest = list(frame_ids[1:])
    x, x_first = x_t1[1:], x_t1[:1]
    # step 2: frame 0 at T1 with its foreground zeroed, copied to every other frame and moved: x̂[k]
    x_hat = warp((x_first * (1 - fg[:1])).repeat(n - 1, 1, 1, 1), rest)
    # step 3: frame 0's mask moved the same way; the background is where both masks are empty
    fg_first_moved = warp(fg[:1].repeat(n - 1, 1, 1, 1), rest)
    m_bg = (1 - fg[1:]) * (1 - fg_first_moved)
    # step 4: a convex blend in the background, a = strength
    a = strength
    out = (1 - m_bg) * x + m_bg * (a * x + (1 - a) * x_hat)
    # frame 0 is the anchor: unchanged
    return torch.cat([x_first, out], dim=0)


def smooth_latent(latent: dict, masks: torch.Tensor, settings: SmoothingSettings) -> dict:
    """Background Smoothing on a T1 LATENT dict from Motion-Field Latent Init.

    Reads ``samples``, ``t2vz_frame_ids`` and ``t2vz_motion`` (an object with
    ``warp(latents, frame_ids)``); returns a new dict with every other key kept.
    """
    msg = check(settings)
    if msg:
        raise ValueError(msg)
    motion = latent.get("t2vz_motion")
    if motion is None or not callable(getattr(motion, "warp", None)):
        raise ValueError("latent: connect the LATENT of Motion-Field Latent Init (T2VZ): this LATENT carries no "
                         "motion settings, and smoothing moves frame 0's background with the video's motion")
    x = latent["samples"]
    if x.ndim != 4:
        raise ValueError(f"latent: expected one image latent per frame (frames, channels, h, w), got shape "
                         f"{tuple(x.shape)}")
    frame_ids = list(latent.get("t2vz_frame_ids") or [])
    if len(frame_ids) != x.shape[0]:
        raise ValueError(f"latent: {x.shape[0]} latents but {len(frame_ids)} frame ids: connect the LATENT of "
                         f"Motion-Field Latent Init (T2VZ) unchanged")
    if frame_ids[0] != 0:
        raise ValueError("latent: frame 0 is missing (its background is what the other frames are smoothed "
                         "towards): connect the LATENT of Motion-Field Latent Init (T2VZ), which always holds it")
    if settings.strength == 1.0:
        return {**latent, "samples": x}  # nothing to blend: the input, bit for bit
    fg = latent_masks(masks, frame_ids, tuple(x.shape[-2:]), settings, x.dtype, x.device)
    return {**latent, "samples": smooth_background(x, frame_ids, fg, settings.strength, motion.warp)}
