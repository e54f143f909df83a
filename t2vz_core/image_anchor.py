"""A user's image as frame 0 (image to video).

Without an image, frame 0 is denoised from pure noise to T1 and on to T0 (the paper). With
one, frame 0 *is* the image: its latents at T1 and T0 are the image noised to those levels
with ε0, the noise a KSampler draws for the seed (``model_sampling.noise_scaling``, exactly
as a sampler noises a latent), and every other frame starts from the image at T0, moved and
renoised to T1 as in the method. ``image_strength`` places T1: the fraction of the schedule
that is skipped, so the other frames keep the image's layout (at the paper's t1 the latent
is almost pure noise, which is why "use my image as frame 0" failed before).

During the video phase frame 0 is, by ``first_frame_mode``:
  pinned  kept the image: its denoise mask is 0 (core's per-frame noise mask), so at every
          step it is the image noised to that step's level and every frame attends to the
          image's features; the output's frame 0 is the input latent, bit for bit.
  refine  pinned until the noise level falls below the one ``first_frame_release`` names
          (a fraction of the video's steps), then denoised with the others.
  free    denoised like img2img from T1 (what KSamplerAdvanced does when started at the
          same step with the same noise).
"""
from __future__ import annotations

import torch

from .problem import UserError
from .timing import Timing

PINNED = "pinned"
REFINE = "refine"
FREE = "free"
MODES = [PINNED, REFINE, FREE]

# Keys of the video LATENT when frame 0 is an image: its noise ε0 and how the video phase
# treats it.
NOISE = "t2vz_first_noise"
MODE = "t2vz_first_mode"
RELEASE = "t2vz_first_release"


def image_timing(steps: int, image_strength: float, gap: int) -> Timing:
    """T1 after ``image_strength`` of the schedule (at least 2 steps left), T0 ``gap`` steps
    later (at least 1, at most the last step)."""
    k1 = min(int(round(image_strength * steps)), steps - 2)
    k0 = min(k1 + max(1, gap), steps - 1)
    return Timing(steps, steps - k0 - 1, steps - k1 - 1)


def image_latent(first_frame: dict, shape, channels_fix=None) -> torch.Tensor:
    """The image's (1, C, h, w) LATENT, or a UserError saying how to make it fit."""
    samples = first_frame["samples"]
    if channels_fix is not None:
        samples = channels_fix(samples)
    if samples.ndim != 4 or tuple(samples.shape[1:]) != tuple(shape):
        got = "×".join(map(str, samples.shape[-2:][::-1])) if samples.ndim >= 2 else str(tuple(samples.shape))
        want = f"{shape[2]}×{shape[1]}"
        raise UserError(f"first_frame: the image latent is {got} (latent pixels) but the video's is {want}; "
                        f"VAE Encode the image at the video's size ({shape[2] * 8}×{shape[1] * 8} pixels: "
                        f"scale or crop it first), or set width/height to the image's size")
    if samples.shape[0] != 1:
        samples = samples[:1]  # a batch: its first image is frame 0
    return samples.float()


def noised(model_sampling, image: torch.Tensor, sigma: float, eps: torch.Tensor) -> torch.Tensor:
    """The model-space image at noise level ``sigma``, noised as a sampler noises a latent."""
    return model_sampling.noise_scaling(torch.tensor([float(sigma)]), eps.to(image), image)


def release_sigma(sigmas: torch.Tensor, release: float) -> float:
    """The noise level below which frame 0 is released: after ``release`` of the video's steps."""
    steps = sigmas.shape[0] - 1
    return float(sigmas[min(int(round(release * steps)), steps)])


def noise_and_mask(latent: dict, samples: torch.Tensor):
    """The video phase's noise (ε0 on frame 0, none elsewhere) and denoise mask (frame 0
    held for pinned/refine), or (zeros, None) when frame 0 is not an image."""
    noise = torch.zeros_like(samples)
    eps = latent.get(NOISE)
    if eps is None:
        return noise, None
    noise[0] = eps[0].to(noise)
    if latent[MODE] == FREE:
        return noise, None
    mask = torch.ones((samples.shape[0], 1, *samples.shape[2:]))
    mask[0] = 0.0
    return noise, mask


def release_function(sigma_release: float, previous=None):
    """A ``denoise_mask_function`` that lets frame 0 go once the noise level is below
    ``sigma_release`` (composed after any function already on the model)."""
    def fn(sigma, denoise_mask, extra_options):
        if previous is not None:
            denoise_mask = previous(sigma, denoise_mask, extra_options)
        if float(sigma.max()) < sigma_release:
            return torch.ones_like(denoise_mask)
        return denoise_mask
    return fn
