"""All the noise of the method: fixed by (seed, global frame index), and renoising in ComfyUI's σ-space.

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

from . import interrupt

NOISE_SHARED = "shared (same noise for every frame)"
NOISE_PER_FRAME = "per frame"
NOISE_MODES = [NOISE_SHARED, NOISE_PER_FRAME]

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
    out = torch.empty((len(frame_ids), *shape), dtype=dtype)
    for i, k in enumerate(frame_ids):
        if i % interrupt.BATCH == 0:
            interrupt.check()
        out[i] = torch.randn(tuple(shape), generator=_frame_generator(seed, stream, k), dtype=dtype, device="cpu")
    return out


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


def renoise_model_space(model_sampling, m_t0: torch.Tensor, sigma_t0: float, sigma_t1: float,
                        eps: torch.Tensor) -> torch.Tensor:
    """Forward diffusion T0 → T1 in the model's own parameterisation (``model_sampling`` is
    the model's ComfyUI model_sampling object)."""
    import comfy.model_sampling
    if isinstance(model_sampling, comfy.model_sampling.CONST):
        # x_σ = (1 − σ)·x0 + σ·ε: scale the signal, then top the noise up to σ1.
        a = (1.0 - sigma_t1) / (1.0 - sigma_t0)
        extra = max(sigma_t1 ** 2 - (a * sigma_t0) ** 2, 0.0) ** 0.5
        return a * m_t0 + extra * eps.to(m_t0)
    return renoise(m_t0, sigma_t0, sigma_t1, eps)


def initial_noise(seed: int, frame_ids: Sequence[int], shape: Sequence[int], mode: str) -> torch.Tensor:
    """Starting noise of a video whose frames are sampled together (pose/edge/pix2pix modes).

    ``shared``: every frame starts from frame 0's noise, as the reference does for
    ControlNet videos ("fix latents for all frames"). ``per frame``: frame k gets its own
    noise fixed by (seed, k). Frame 0's noise is always KSampler's noise for the seed.
    """
    first = first_frame_noise(seed, shape)
    if mode == NOISE_SHARED:
        return first.repeat(len(frame_ids), *([1] * len(shape)))
    if mode != NOISE_PER_FRAME:
        raise ValueError(f"noise_mode '{mode}' is not one of: {', '.join(NOISE_MODES)}")
    rest = [k for k in frame_ids if int(k) != 0]
    others = iter(frame_noise(seed, rest, shape, STREAM_INITIAL))
    return torch.stack([first[0] if int(k) == 0 else next(others) for k in frame_ids])
