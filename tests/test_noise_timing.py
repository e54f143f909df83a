"""Noise fixed by (seed, frame), σ-space renoising, and t0/t1 handling."""
from __future__ import annotations

import math

import pytest
import torch

import comfy.sample
from t2vz_core import noise, timing


def test_first_frame_noise_is_ksampler_noise():
    shape = (4, 16, 24)
    ours = noise.first_frame_noise(1234, shape)
    ref = comfy.sample.prepare_noise(torch.zeros(1, *shape), 1234)
    assert torch.equal(ours, ref)


def test_frame_noise_depends_on_seed_stream_and_frame_only():
    shape = (4, 8, 8)
    a = noise.frame_noise(7, [1, 2, 3, 4, 5], shape, noise.STREAM_RENOISE)
    b = noise.frame_noise(7, [4, 5], shape, noise.STREAM_RENOISE)
    assert torch.equal(a[3:], b)
    assert not torch.equal(a[0], a[1])
    assert not torch.equal(noise.frame_noise(8, [1], shape, noise.STREAM_RENOISE)[0], a[0])
    assert not torch.equal(noise.frame_noise(7, [1], shape, noise.STREAM_INITIAL)[0], a[0])


def test_renoise_has_the_right_mean_and_std_in_model_space():
    """x1 = x0 + sqrt(σ1² − σ0²)·ε: the added part has mean 0 and std sqrt(σ1² − σ0²)."""
    s0, s1 = 3.0, 7.5
    x0 = torch.full((64, 4, 32, 32), 0.25)
    eps = noise.frame_noise(0, list(range(1, 65)), (4, 32, 32), noise.STREAM_RENOISE)
    x1 = noise.renoise(x0, s0, s1, eps)
    added = x1 - x0
    want = math.sqrt(s1 ** 2 - s0 ** 2)
    assert abs(added.mean().item()) < 0.02 * want
    assert abs(added.std().item() / want - 1) < 0.01


def test_renoise_matches_the_reference_ddpm_forward_step():
    """In diffusers' space x = sqrt(ᾱ)·x_model: sqrt(ᾱ1/ᾱ0)·x0 + sqrt(1 − ᾱ1/ᾱ0)·ε, exactly."""
    from diffusers import DDIMScheduler
    sch = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    ac = sch.alphas_cumprod.double()
    t0, t1 = 881, 941
    s0, s1 = ((1 - ac[t0]) / ac[t0]).sqrt().item(), ((1 - ac[t1]) / ac[t1]).sqrt().item()
    torch.manual_seed(0)
    xd0 = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    eps = torch.randn_like(xd0)
    ratio = ac[t1] / ac[t0]
    ref_d1 = ratio.sqrt() * xd0 + (1 - ratio).sqrt() * eps
    ours_m1 = noise.renoise(xd0 / ac[t0].sqrt(), s0, s1, eps)
    assert torch.allclose(ours_m1 * ac[t1].sqrt(), ref_d1, atol=1e-10)


def test_renoise_refuses_to_go_down():
    with pytest.raises(ValueError):
        noise.renoise(torch.zeros(1), 2.0, 1.0, torch.zeros(1))


@pytest.mark.parametrize("steps,t0,t1,mode,k1,k0", [
    (50, 44, 47, timing.EXACT, 2, 5),
    (50, 44, 47, timing.REL_50, 2, 5),
    (30, 44, 47, timing.REL_50, 1, 3),
    (20, 44, 47, timing.REL_50, 1, 2),
    (4, 44, 47, timing.REL_50, 0, 1),
    (30, 20, 25, timing.EXACT, 4, 9),
])
def test_timing_resolution(steps, t0, t1, mode, k1, k0):
    tm = timing.resolve(steps, t0, t1, mode)
    assert (tm.k1, tm.k0) == (k1, k0)
    assert 0 <= tm.k1 < tm.k0 < steps


@pytest.mark.parametrize("steps,t0,t1,mode,input_name,needle", [
    (50, 47, 44, timing.EXACT, "t0", "t0 (47) must be smaller than t1 (44)"),
    (30, 44, 47, timing.EXACT, "t1", "t1 (47) must be smaller than steps (30)"),
    (30, 44, 60, timing.REL_50, "t1", "t1 (60) must be smaller than 50"),
    (1, 0, 0, timing.EXACT, "steps", "steps (1) must be at least 2"),
    (30, 4, 7, "sometimes", "t_mode", "t_mode 'sometimes' is not one of"),
])
def test_timing_errors_name_the_input(steps, t0, t1, mode, input_name, needle):
    problem = timing.check(steps, t0, t1, mode)
    assert problem.input == input_name and needle in problem.message
    assert str(problem).startswith(f"{input_name}: ")
    with pytest.raises(ValueError, match="must|not one of"):
        timing.resolve(steps, t0, t1, mode)


def test_long_noise_loops_stop_at_the_cancel_button(monkeypatch):
    """Per-frame noise for thousands of frames looks at ComfyUI's cancel flag every
    interrupt.BATCH frames, so a cancel during the first phase ends the run at once."""
    from t2vz_core import interrupt

    class Cancelled(Exception):
        pass

    calls = []

    def check():
        calls.append(1)
        if len(calls) == 3:
            raise Cancelled

    monkeypatch.setattr(interrupt, "check", check)
    with pytest.raises(Cancelled):
        noise.frame_noise(0, range(5000), (4, 8, 8), noise.STREAM_RENOISE)
    assert len(calls) == 3  # stopped at the third batch, not after 5000 frames
