"""Motion fields and the latent warp (paper §3.3.1), for any per-frame affine camera map.

The reference (diffusers ``create_motion_field_and_warp_latents``) builds, per frame, a
constant flow of ``frame_id * strength`` pixels on a 512×512 grid, adds it to the pixel
coordinates, normalises them to [-1, 1], bilinearly resizes that sampling grid to the latent
size and samples the latent with ``grid_sample(mode="nearest", padding_mode="reflection")``.
Strengths are therefore in pixels of a 512-pixel frame whatever the latent size.

Here a frame's motion is an inverse map stored 3×3 (affine today; the last row is kept so a
perspective map can come later), written around a centre ``c`` in the same 512-grid units:
the pixel ``p`` of the moved frame shows the source at ``c + A(p − c) + b``, i.e. the flow is
``(A − I)(p − c) + b``. For a translation ``A = I`` and the flow is exactly ``b``, so the
arithmetic after it (add, normalise, resize, sample) is the reference's, in the same order:
the result is bit-identical.

Speed: the bilinear resize reads only two rows and two columns of the 512-grid around each
latent row/column. We compute the coordinates at those points only (elementwise, so each
value is the one the reference computes there), place them in a reused 512×512 buffer and
resize it as the reference does: same numbers, a fraction of the work, and frames go in
batches with ComfyUI's interrupt check between batches.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import torch
import torch.nn.functional as F

from . import interrupt

FLOW_GRID = 512  # the reference's flow resolution, in pixels
GRID_BUFFER_BYTES = 32 * 1024 * 1024  # one batch's 512×512 coordinate buffer (frames × 2 × 512 × 512)


@lru_cache(maxsize=32)
def _read_points(size: int) -> tuple[int, ...]:
    """Indices of the 512-grid that a bilinear resize (align_corners=False) to ``size`` reads.

    Source position of output i: (i + 0.5)·512/size − 0.5, clamped at 0; the resize reads its
    floor and the next index. A neighbour is added where the position is within rounding of an
    integer, so the set is a superset of what the kernel reads, whatever its float rounding.
    """
    if size >= FLOW_GRID // 2:
        return tuple(range(FLOW_GRID))
    scale = FLOW_GRID / size
    points = set()
    for i in range(size):
        src = max((i + 0.5) * scale - 0.5, 0.0)
        lo = math.floor(src)
        frac = src - lo
        points.update((lo, lo + 1))
        if frac < 1e-3:
            points.add(lo - 1)
        if frac > 1 - 1e-3:
            points.add(lo + 2)
    return tuple(sorted(p for p in points if 0 <= p < FLOW_GRID))


def translation_maps(strength_x: float, strength_y: float,
                     frame_ids: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse maps (n, 3, 3) and centres (n, 2) moving frame k by k·(strength_x, strength_y)."""
    n = len(frame_ids)
    maps = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
    # the shift is the reference's Python product, rounded to the grid's dtype later
    maps[:, 0, 2] = torch.tensor([strength_x * int(k) for k in frame_ids], dtype=torch.float64)
    maps[:, 1, 2] = torch.tensor([strength_y * int(k) for k in frame_ids], dtype=torch.float64)
    centres = torch.full((n, 2), FLOW_GRID / 2, dtype=torch.float64)
    return maps, centres


def _flows(maps: torch.Tensor, centres: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Flow (B, 2, len(ys), len(xs)) in float64: (A − I)(p − c) + b at the grid points xs × ys."""
    if not torch.equal(maps[:, 2], torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).expand(maps.shape[0], 3)):
        raise NotImplementedError("only affine camera maps (last row 0, 0, 1) are supported")
    a = maps[:, :2, :2] - torch.eye(2, dtype=torch.float64)  # (B, 2, 2)
    dx = xs[None, None, :] - centres[:, 0, None, None]       # (B, 1, X)
    dy = ys[None, :, None] - centres[:, 1, None, None]       # (B, Y, 1)
    fx = a[:, 0, 0, None, None] * dx + a[:, 0, 1, None, None] * dy + maps[:, 0, 2, None, None]
    fy = a[:, 1, 0, None, None] * dx + a[:, 1, 1, None, None] * dy + maps[:, 1, 2, None, None]
    return torch.stack((fx, fy), dim=1)


def sampling_grids(maps: torch.Tensor, centres: torch.Tensor, h: int, w: int,
                   device=None, dtype=torch.float32, buffer: torch.Tensor | None = None) -> torch.Tensor:
    """grid_sample coordinates (B, h, w, 2) for inverse maps (B, 3, 3) around centres (B, 2)."""
    b = maps.shape[0]
    rows, cols = _read_points(h), _read_points(w)
    ys = torch.tensor(rows, dtype=torch.float64)
    xs = torch.tensor(cols, dtype=torch.float64)
    # the pixel coordinates at the points read, x then y, as the reference's coords grid
    coords = torch.stack((xs[None, :].expand(len(rows), -1), ys[:, None].expand(-1, len(cols))), dim=0)
    coords = coords.float().to(dtype)[None]
    flow = _flows(maps, centres, xs, ys).to(dtype)
    coords = coords + flow
    coords /= FLOW_GRID
    coords = coords * 2.0 - 1.0
    if buffer is None or buffer.shape[0] < b:
        buffer = torch.zeros((b, 2, FLOW_GRID, FLOW_GRID), device=device, dtype=dtype)
    buffer = buffer[:b]
    flat = buffer.view(b * 2, FLOW_GRID * FLOW_GRID)
    points = (torch.tensor(rows)[:, None] * FLOW_GRID + torch.tensor(cols)[None, :]).reshape(-1)
    flat.index_copy_(1, points.to(buffer.device), coords.reshape(b * 2, -1).to(buffer.device))
    # one channel per image: the same numbers, and PyTorch's CPU kernel is many times faster
    # on (2B, 1, 512, 512) than on (B, 2, 512, 512)
    grid = F.interpolate(buffer.reshape(b * 2, 1, FLOW_GRID, FLOW_GRID), size=(h, w), mode="bilinear",
                         align_corners=False)
    return grid.reshape(b, 2, h, w).permute(0, 2, 3, 1)


def warp_with_maps(latents: torch.Tensor, maps: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Warp latent i (N, C, h, w) by inverse map i (N, 3, 3) around centre i (N, 2), in batches."""
    if latents.ndim != 4:
        raise ValueError(f"the warp expects latents (frames, channels, height, width), got {tuple(latents.shape)}")
    if latents.shape[0] != maps.shape[0]:
        raise ValueError(f"{latents.shape[0]} latents but {maps.shape[0]} frame ids")
    n, _, h, w = latents.shape
    if n == 0:
        return latents.clone()
    per_frame = 2 * FLOW_GRID * FLOW_GRID * latents.element_size()
    batch = max(1, min(n, GRID_BUFFER_BYTES // per_frame))
    buffer = torch.zeros((batch, 2, FLOW_GRID, FLOW_GRID), device=latents.device, dtype=latents.dtype)
    out = []
    for start in range(0, n, batch):
        interrupt.check()
        sl = slice(start, start + batch)
        grid = sampling_grids(maps[sl], centres[sl], h, w, latents.device, latents.dtype, buffer)
        out.append(F.grid_sample(latents[sl], grid, mode="nearest", padding_mode="reflection",
                                 align_corners=False))
    return torch.cat(out, dim=0)


def warp_latents(latents: torch.Tensor, strength_x: float, strength_y: float,
                 frame_ids: Sequence[int]) -> torch.Tensor:
    """Translate latent i by frame_ids[i]·(strength_x, strength_y) (in 512-pixel-frame units).

    ``latents`` is (N, C, h, w) with N == len(frame_ids); frame ids are global indices in
    the video, so chunks of a long video line up with a single long run.
    """
    if latents.ndim == 4 and latents.shape[0] != len(frame_ids):
        raise ValueError(f"{latents.shape[0]} latents but {len(frame_ids)} frame ids")
    maps, centres = translation_maps(strength_x, strength_y, frame_ids)
    return warp_with_maps(latents, maps, centres)


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
