"""Global translation motion field and latent warp (paper §3.3.1).

The reference (diffusers ``create_motion_field_and_warp_latents``) builds, per frame, a
constant flow of ``frame_id * strength`` pixels on a 512×512 grid, normalises it to
[-1, 1], bilinearly resizes the sampling grid to the latent size and samples the latent
with ``grid_sample(mode="nearest", padding_mode="reflection")``. The strengths are
therefore in pixels of a 512-pixel frame whatever the latent size: the motion keeps the
same meaning (a fraction of the frame per frame) at every resolution.

We follow the same arithmetic in the same order, so the result is bit-identical, but
build one sampling grid per frame and warp all frames with a single ``grid_sample``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

FLOW_GRID = 512  # the reference's flow resolution, in pixels


def _sampling_grid(shift_x: float, shift_y: float, h: int, w: int,
                   device, dtype) -> torch.Tensor:
    """(1, h, w, 2) grid_sample coordinates for a constant flow of (shift_x, shift_y) pixels."""
    ys, xs = torch.meshgrid(torch.arange(FLOW_GRID, device=device),
                            torch.arange(FLOW_GRID, device=device), indexing="ij")
    coords = torch.stack((xs, ys), dim=0).float().to(dtype)[None]  # (1, 2, H, W): x then y
    flow = torch.empty_like(coords)
    flow[:, 0] = shift_x
    flow[:, 1] = shift_y
    coords = coords + flow
    coords[:, 0] /= FLOW_GRID
    coords[:, 1] /= FLOW_GRID
    coords = coords * 2.0 - 1.0
    coords = F.interpolate(coords, size=(h, w), mode="bilinear", align_corners=False)
    return coords.permute(0, 2, 3, 1)


def motion_grids(strength_x: float, strength_y: float, frame_ids: Sequence[int],
                 h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Sampling grids (len(frame_ids), h, w, 2) that translate frame k by k·(strength_x, strength_y)."""
    grids = [_sampling_grid(strength_x * int(k), strength_y * int(k), h, w, device, dtype)
             for k in frame_ids]
    return torch.cat(grids, dim=0)


def warp_latents(latents: torch.Tensor, strength_x: float, strength_y: float,
                 frame_ids: Sequence[int]) -> torch.Tensor:
    """Translate latent i by frame_ids[i]·(strength_x, strength_y) (in 512-pixel-frame units).

    ``latents`` is (N, C, h, w) with N == len(frame_ids); frame ids are global indices in
    the video, so chunks of a long video line up with a single long run.
    """
    if latents.ndim != 4:
        raise ValueError(f"warp_latents expects (frames, channels, height, width), got {tuple(latents.shape)}")
    if latents.shape[0] != len(frame_ids):
        raise ValueError(f"{latents.shape[0]} latents but {len(frame_ids)} frame ids")
    if len(frame_ids) == 0:
        return latents.clone()
    _, _, h, w = latents.shape
    grid = motion_grids(strength_x, strength_y, frame_ids, h, w, latents.device, latents.dtype)
    return F.grid_sample(latents, grid, mode="nearest", padding_mode="reflection", align_corners=False)


@dataclass(frozen=True)
class Translation:
    """The method's global motion (a MOTION value): frame k moves by k·(strength_x, strength_y)
    pixels of a 512-pixel frame. It travels with the video latent (``t2vz_motion``) so later
    steps (background smoothing) warp exactly as the init did."""

    strength_x: float = 12.0
    strength_y: float = 12.0

    def warp(self, latents: torch.Tensor, frame_ids: Sequence[int]) -> torch.Tensor:
        """Move row i of ``latents`` (n, C, h, w) as frame frame_ids[i] of this motion."""
        return warp_latents(latents, self.strength_x, self.strength_y, frame_ids)

    def describe(self) -> str:
        return f"translation ({self.strength_x:g}, {self.strength_y:g}) px per frame"


class NoMotion:
    """``use_motion_field`` off: every frame starts from frame 0's latent as it is (no warp,
    not even the resampling a zero translation does)."""

    def warp(self, latents: torch.Tensor, frame_ids: Sequence[int]) -> torch.Tensor:
        return latents.clone()

    def describe(self) -> str:
        return "no motion"


STILL = NoMotion()
