"""Background Smoothing (T2VZ_BackgroundSmoothing) against a port of the original's block.

The port (support/smoothing_reference.py) follows the original Text2Video-Zero's
``smooth_bg`` line by line; the node must give the same latents bit for bit on frames
1.., keep frame 0 bit for bit, and behave as the paper says at the ends of its range.
The latent dicts are built here as Motion-Field Latent Init hands them over (samples,
global frame ids, the ids it outputs, a motion object with ``warp(latents, frame_ids)``).
"""
from __future__ import annotations

import pytest
import torch

import nodes
from support.smoothing_reference import smooth_bg
from t2vz_core.motion import warp_latents

NODE = "T2VZ_BackgroundSmoothing"


class Translation:
    """The motion contract: warp(latents, frame_ids) moves row i as frame frame_ids[i]."""

    def __init__(self, sx: float, sy: float):
        self.sx, self.sy = sx, sy

    def warp(self, latents, frame_ids):
        return warp_latents(latents, self.sx, self.sy, frame_ids)


def _latent(x, frame_ids, sx=12.0, sy=12.0, **extra):
    return {"samples": x, "t2vz_frame_ids": list(frame_ids), "t2vz_output_ids": list(frame_ids),
            "t2vz_motion": Translation(sx, sy), **extra}


def _smooth(latent, masks, strength=0.4, dilation=5, invert=False):
    out = nodes.NODE_CLASS_MAPPINGS[NODE].execute(latent=latent, masks=masks, strength=strength,
                                                  dilation=dilation, invert=invert)
    return out.result[0]


def _random(n, h=24, w=40, seed=0, soft=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, h, w, generator=g)
    # masks at image size (8× the latent): a subject (a box) somewhere in each frame; soft
    # masks also have a faint halo in the background, as matting models give
    masks = torch.zeros(n, h * 8, w * 8)
    for k in range(n):
        top, left = (int(v) for v in torch.randint(0, h * 4, (2,), generator=g))
        masks[k, top:top + h * 3, left:left + w * 3] = 1.0
    if soft:
        masks = masks * torch.rand(masks.shape, generator=g) + (1 - masks) * 0.1 * torch.rand(masks.shape, generator=g)
    return x, masks


@pytest.mark.parametrize("strength", [0.4, 0.0, 0.75])
@pytest.mark.parametrize("dilation", [5, 1, 3, 7])
@pytest.mark.parametrize("soft", [False, True], ids=["binary", "soft"])
@pytest.mark.parametrize("motion", [(12.0, 12.0), (-20.0, 7.5)], ids=["paper", "other"])
def test_node_equals_the_original_block_bit_for_bit(strength, dilation, soft, motion):
    x, masks = _random(6, soft=soft, seed=dilation)
    ids = list(range(6))
    ours = _smooth(_latent(x, ids, *motion), masks, strength, dilation)["samples"]
    ref = smooth_bg(x, masks, ids[1:], *motion, smooth_bg_strength=strength, kernel_size=dilation)
    assert torch.equal(ours[1:], ref[1:])
    assert not torch.equal(ours[1:], x[1:])  # the blend did something
    # frame 0: ours is the input, bit for bit; the original's blend gives it back up to
    # rounding for binary masks (a·x + (1−a)·x) and changes it for soft ones
    assert torch.equal(ours[0], x[0])
    if not soft:
        torch.testing.assert_close(ref[0], x[0], rtol=1e-6, atol=1e-6)


def test_strength_one_returns_the_input_and_keeps_every_key():
    x, masks = _random(5, soft=True)
    latent = _latent(x, range(5), t2vz_output_ids=[3, 4])
    out = _smooth(latent, masks, strength=1.0)
    assert torch.equal(out["samples"], x)
    assert out["t2vz_motion"] is latent["t2vz_motion"]
    assert out["t2vz_frame_ids"] == [0, 1, 2, 3, 4] and out["t2vz_output_ids"] == [3, 4]
    assert latent["samples"] is x  # the input dict is not changed


def test_all_background_at_strength_zero_is_frame_zero_moved():
    x, _ = _random(5, seed=3)
    out = _smooth(_latent(x, range(5), 12.0, -8.0), torch.zeros(1, 192, 320), strength=0.0)["samples"]
    moved = warp_latents(x[:1].repeat(4, 1, 1, 1), 12.0, -8.0, [1, 2, 3, 4])
    assert torch.equal(out[1:], moved)
    assert torch.equal(out[0], x[0])


@pytest.mark.parametrize("dilation,where,expect", [
    (5, (10, 20), (slice(8, 13), slice(18, 23))),   # 5×5 around the pixel
    (3, (10, 20), (slice(9, 12), slice(19, 22))),
    (1, (10, 20), (slice(10, 11), slice(20, 21))),  # no dilation: the pixel itself
    (5, (0, 39), (slice(0, 3), slice(37, 40))),     # at a corner: clipped by the frame
])
def test_one_pixel_mask_grows_to_the_dilation_square(dilation, where, expect):
    x, _ = _random(3, seed=5)
    mask = torch.zeros(1, 24, 40)  # at latent size: the nearest resize keeps it as it is
    mask[0, where[0], where[1]] = 1.0
    # no motion, strength 0: the background becomes frame 0, the (grown) foreground stays
    out = _smooth(_latent(x, range(3), 0.0, 0.0), mask, strength=0.0, dilation=dilation)["samples"]
    kept = torch.zeros(24, 40, dtype=torch.bool)
    kept[expect] = True
    for k in (1, 2):
        assert torch.equal((out[k] == x[k]).all(0), kept)
        assert torch.equal(out[k][:, ~kept], x[0][:, ~kept])


def test_invert_flips_the_masks():
    x, masks = _random(4, soft=True, seed=7)
    a = _smooth(_latent(x, range(4)), masks, invert=True)["samples"]
    b = _smooth(_latent(x, range(4)), 1 - masks)["samples"]
    assert torch.equal(a, b) and not torch.equal(a, _smooth(_latent(x, range(4)), masks)["samples"])


@pytest.mark.parametrize("part", [[0, 5, 6, 7], [0, 2, 3], [0, 7]])
def test_parts_equal_one_run(part):
    x, masks = _random(8, soft=False, seed=11)
    whole = _smooth(_latent(x, range(8)), masks)["samples"]
    got = _smooth(_latent(x[part], part), masks)["samples"]  # the whole video's masks, picked by frame id
    assert torch.equal(got, whole[part])


@pytest.mark.parametrize("latent,masks,message", [
    ({"samples": torch.zeros(3, 4, 8, 8)}, torch.zeros(1, 64, 64),
     "latent: connect the LATENT of Motion-Field Latent Init (T2VZ)"),
    (_latent(torch.zeros(3, 4, 8, 8), [0, 1, 2]), torch.zeros(2, 64, 64), "masks: 2 masks, but the latent holds frame 2"),
    (_latent(torch.zeros(2, 4, 8, 8), [3, 4]), torch.zeros(1, 64, 64), "latent: frame 0 is missing"),
    (_latent(torch.zeros(3, 4, 8, 8), [0, 1]), torch.zeros(1, 64, 64), "latent: 3 latents but 2 frame ids"),
])
def test_bad_inputs_are_named(latent, masks, message):
    with pytest.raises(ValueError) as e:
        _smooth(latent, masks)
    assert str(e.value).startswith(message)


def test_validate_inputs_names_strength_and_dilation():
    cls = nodes.NODE_CLASS_MAPPINGS[NODE]
    assert cls.validate_inputs(strength=0.4, dilation=5) is True
    assert cls.validate_inputs(strength=1.5, dilation=5).startswith("strength (1.5) must be between 0 and 1")
    assert cls.validate_inputs(strength=0.4, dilation=99).startswith("dilation (99) must be an odd number from 1 to 63")
    assert cls.validate_inputs(strength=0.4, dilation=4).startswith("dilation (4) must be an odd number")
