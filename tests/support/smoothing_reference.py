"""A line-by-line port of the original Text2Video-Zero's background smoothing, for tests.

Written from reading ``TextToVideoPipeline.__call__`` (the ``if smooth_bg:`` block) and
``warp_latents_independently`` / ``create_motion_field`` in Picsart-AI-Research/
Text2Video-Zero's text_to_video_pipeline.py; same tensor layout (b, c, f, h, w), same
operations in the same order, same libraries (torchvision's Resize, kornia's dilation,
einops). What differs from the original, and why:
- its salient-object detector (never shipped) is replaced by the masks given; the rest of
  the mask path (nearest resize to latent size, 5×5 kornia dilation) is as there;
- the flow of frame k is k·strength for the frame ids given: the original's
  ``strength·(frame_ids[i] + 1)`` for i in 0..N−2 with its default frame_ids = range(N);
- Resize of the sampling grid passes antialias=False: the original ran on torchvision
  0.14, whose tensor Resize did not antialias (today's default would).
"""
from __future__ import annotations

import torch
import torchvision.transforms as T
from einops import rearrange, repeat
from kornia.morphology import dilation
from torch.nn.functional import grid_sample

FLOW = 512


def coords_grid(batch, ht, wd, device):
    ys, xs = torch.meshgrid(torch.arange(ht, device=device), torch.arange(wd, device=device))
    coords = torch.stack((xs, ys), dim=0).float()
    return coords[None].repeat(batch, 1, 1, 1)


def create_motion_field(sx, sy, ks, latents):
    flow = torch.zeros((len(ks), 2, FLOW, FLOW), device=latents.device, dtype=latents.dtype)
    for i, k in enumerate(ks):
        flow[i, 0, :, :] = sx * k
        flow[i, 1, :, :] = sy * k
    return flow


def warp_latents_independently(latents, reference_flow):
    """latents (1, c, f, h, w) → each frame f moved by reference_flow[f]."""
    _, _, H, W = reference_flow.size()
    b, _, f, h, w = latents.size()
    assert b == 1
    coords0 = coords_grid(f, H, W, device=latents.device).to(latents.dtype)
    coords_t0 = coords0 + reference_flow
    coords_t0[:, 0] /= W
    coords_t0[:, 1] /= H
    coords_t0 = coords_t0 * 2.0 - 1.0
    coords_t0 = T.Resize((h, w), antialias=False)(coords_t0)
    coords_t0 = rearrange(coords_t0, "f c h w -> f h w c")
    latents_0 = rearrange(latents[0], "c f h w -> f c h w")
    warped = grid_sample(latents_0, coords_t0, mode="nearest", padding_mode="reflection")
    return rearrange(warped, "(b f) c h w -> b c f h w", f=f)


def foreground_masks(masks, h, w, dtype, kernel_size=5):
    """masks (f, H, W) → M_FG (1, f, h, w): nearest resize to latent size, then dilation."""
    video_length = masks.shape[0]
    M_FG = torch.zeros((1, video_length, h, w), device=masks.device).to(dtype)
    for frame_idx, m in enumerate(masks):
        m_f = m.to(dtype)
        mask = T.Resize(size=(h, w), interpolation=T.InterpolationMode.NEAREST)(m_f[None])
        if kernel_size > 0:
            kernel = torch.ones(kernel_size, kernel_size, device=masks.device, dtype=dtype)
            mask = dilation(mask[None], kernel)[0]
        M_FG[0, frame_idx, :, :] = mask
    return M_FG


def smooth_bg(x_t1_frames, masks, ks, sx, sy, smooth_bg_strength=0.4, use_motion_field=True, kernel_size=5):
    """The original's block. x_t1_frames (f, c, h, w): frame 0 first, then the frames with
    global ids ``ks`` (f − 1 of them); masks (f, H, W) the same frames' foreground masks.
    Returns (f, c, h, w) — frame 0 included, as the original computes it."""
    x_t1 = rearrange(x_t1_frames, "f c h w -> 1 c f h w")
    video_length = x_t1.shape[2]
    x_t1_1 = x_t1[:, :, :1]
    reference_flow = create_motion_field(sx, sy, ks, x_t1)
    h, w = x_t1.shape[3], x_t1.shape[4]
    M_FG = foreground_masks(masks, h, w, x_t1.dtype, kernel_size)

    x_t1_1_fg_masked = x_t1_1 * (1 - repeat(M_FG[:, 0, :, :], "b w h -> b c 1 w h", c=x_t1_1.shape[1]))

    x_t1_1_fg_masked_moved = []
    for x_t1_1_fg_masked_b in x_t1_1_fg_masked:
        x_t1_fg_masked_b = x_t1_1_fg_masked_b.clone()
        x_t1_fg_masked_b = x_t1_fg_masked_b.repeat(1, video_length - 1, 1, 1)
        x_t1_fg_masked_b = x_t1_fg_masked_b[None]
        if use_motion_field:
            x_t1_fg_masked_b = warp_latents_independently(x_t1_fg_masked_b, reference_flow)
        x_t1_fg_masked_b = torch.cat([x_t1_1_fg_masked_b[None], x_t1_fg_masked_b], dim=2)
        x_t1_1_fg_masked_moved.append(x_t1_fg_masked_b)
    x_t1_1_fg_masked_moved = torch.cat(x_t1_1_fg_masked_moved, dim=0)

    M_FG_1 = M_FG[:, :1, :, :]
    M_FG_warped = []
    for m_fg_1_b in M_FG_1:
        m_fg_1_b = m_fg_1_b[None, None]
        m_fg_b = m_fg_1_b.repeat(1, 1, video_length - 1, 1, 1)
        if use_motion_field:
            m_fg_b = warp_latents_independently(m_fg_b.clone(), reference_flow)
        M_FG_warped.append(torch.cat([m_fg_1_b[:1, 0], m_fg_b[:1, 0]], dim=1))
    M_FG_warped = torch.cat(M_FG_warped, dim=0)

    channels = x_t1.shape[1]
    M_BG = (1 - M_FG) * (1 - M_FG_warped)
    M_BG = repeat(M_BG, "b f h w -> b c f h w", c=channels)
    a_convex = smooth_bg_strength
    latents = (1 - M_BG) * x_t1 + M_BG * (a_convex * x_t1 + (1 - a_convex) * x_t1_1_fg_masked_moved)
    return rearrange(latents, "1 c f h w -> f c h w")
