"""Noise fixed by (seed, global frame index), and renoising in ComfyUI's σ-space.

Every frame's noise comes from its own generator, seeded from (seed, stream, frame index)
with NumPy's SeedSequence, so a frame's noise does not depend on how many frames are
generated, on chunking, or on which queue call produces it.

Frame 0's *initial* noise is the exception: it is drawn exactly as ComfyUI's KSampler
draws the noise of a single latent (``torch.manual_seed(seed)``), so frame 0 of a video
is the image a plain KSampler would make with the same seed and settings.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

STREAM_INITIAL = 0   # initial noise of frames 1..N (per-frame noise mode)
STREAM_RENOISE = 1   # ε of the T0 → T1 forward step


def _frame_generator(seed: int, stream: int, frame_id: int) -> torch.Generator:
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, stream, int(frame_id)])
    g = torch.Generator(device="cpu")
    g.manual_seed(int(state.generate_state(1, dtype=np.uint64)[0]))
    return g


def first_frame_noise(seed: int, shape: Sequence[int], dtype=torch.float32) -> torch.Tensor:
    """Noise for frame 0, identical to ``comfy.sample.prepare_noise`` for a 1-frame latent."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn((1, *shape), generator=g, dtype=dtype, device="cpu")


def frame_noise(seed: int, frame_ids: Sequence[int], shape: Sequence[int], stream: int,
                dtype=torch.float32) -> torch.Tensor:
    """(len(frame_ids), *shape) standard normal noise, one independent draw per global frame id."""
    if len(frame_ids) == 0:
        return torch.empty((0, *shape), dtype=dtype)
    return torch.cat([torch.randn((1, *shape), generator=_frame_generator(seed, stream, k),
                                  dtype=dtype, device="cpu") for k in frame_ids])


def renoise(x_t0: torch.Tensor, sigma_t0: float, sigma_t1: float, eps: torch.Tensor) -> torch.Tensor:
    """Forward diffusion from noise level σ0 to σ1 > σ0 on a model-space latent.

    In ComfyUI's parameterisation x_σ = x_0 + σ·ε (EPS and V models alike, after
    ``latent_format.process_in``), so going from σ0 to σ1 adds independent noise of
    variance σ1² − σ0². This is the reference's DDPM forward step
    x_t1 = sqrt(ᾱ1/ᾱ0)·x_t0 + sqrt(1 − ᾱ1/ᾱ0)·ε rewritten for x/sqrt(ᾱ), σ² = 1/ᾱ − 1.
    """
    if sigma_t1 < sigma_t0:
        raise ValueError(f"renoise goes up in noise: sigma_t1 ({sigma_t1}) < sigma_t0 ({sigma_t0})")
    scale = float(sigma_t1 ** 2 - sigma_t0 ** 2) ** 0.5
    return x_t0 + scale * eps.to(device=x_t0.device, dtype=x_t0.dtype)
