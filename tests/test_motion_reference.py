"""The motion-field warp (and a translation camera path) equals diffusers' create_motion_field_and_warp_latents exactly."""
from __future__ import annotations

import pytest
import torch
from diffusers.pipelines.deprecated.text_to_video_synthesis.pipeline_text_to_video_zero import (
    create_motion_field_and_warp_latents,
)

from t2vz_core.camera import CameraPath
from t2vz_core.motion import warp_latents


@pytest.mark.parametrize("sx,sy", [(12, 12), (0, 0), (-8, 5), (3.5, -12.25), (40, 0)])
@pytest.mark.parametrize("hw", [(64, 64), (8, 8), (64, 40), (24, 72), (128, 128), (96, 160)],
                         ids=lambda s: f"{s[0]}x{s[1]}")  # 128x128: SDXL's 1024x1024 latents
@pytest.mark.parametrize("frame_ids", [[1, 2, 3], [9, 10, 11, 12], [5, 17]], ids=["first", "chunk", "sparse"])
def test_warp_equals_reference(sx, sy, hw, frame_ids):
    torch.manual_seed(0)
    latents = torch.randn(len(frame_ids), 4, *hw)
    ref = create_motion_field_and_warp_latents(sx, sy, frame_ids=frame_ids, latents=latents)
    ours = warp_latents(latents, sx, sy, frame_ids)
    assert torch.equal(ours, ref)
    # the same motion as a T2VZ_MOTION camera path
    assert torch.equal(CameraPath.translation(sx, sy).warp(latents, frame_ids), ref)


def test_frame_zero_is_not_moved_and_motion_moves_content():
    torch.manual_seed(0)
    lat = torch.randn(1, 4, 64, 64).repeat(2, 1, 1, 1)
    out = warp_latents(lat, 8, 0, [0, 1])
    assert torch.equal(out[0], lat[0])
    # 8 px of a 512 frame = 1 latent pixel at 64 wide: content moves by one column
    assert torch.equal(out[1, :, :, :-1], lat[1, :, :, 1:])


def test_chunks_line_up_with_one_long_run():
    torch.manual_seed(0)
    lat = torch.randn(1, 4, 32, 32).repeat(12, 1, 1, 1)
    whole = warp_latents(lat, 6, -3, list(range(12)))
    part = warp_latents(lat[:4], 6, -3, list(range(8, 12)))
    assert torch.equal(whole[8:12], part)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="frame ids"):
        warp_latents(torch.zeros(2, 4, 8, 8), 1, 1, [1])
    with pytest.raises(ValueError, match="frames, channels"):
        warp_latents(torch.zeros(4, 8, 8), 1, 1, [1, 2, 3, 4])
