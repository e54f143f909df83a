"""Per-frame conditioning: one row per frame of the video, picked by global frame id.

Conditioning whose tensors have one row applies to every frame and is left alone.
Conditioning with one row per frame of the video (a prompt schedule, per-frame image
conditioning) has its rows picked for the frames a run samples — frame 0 (the anchor)
first, then the selected frames — so a part of a long video (frame_start > 0) gets its own
frames' rows, and frame 0's phase gets row 0 explicitly. Any other row count is refused
with both numbers (ComfyUI would silently keep the first rows or repeat them).

Chunked sampling then slices these rows per chunk (chunking.slice_conds).
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch

from .problem import UserError

# The tensors of a conditioning entry that hold one row per batch item: the text
# embeddings, SDXL's pooled embeddings, InstructPix2Pix's image latents.
ROW_KEYS = ("cross_attn", "pooled_output", "concat_latent_image")


def rows_problem(name: str, entries, video_length: int) -> str | None:
    for entry in entries or []:
        for key in ROW_KEYS:
            val = entry.get(key)
            if isinstance(val, torch.Tensor) and val.ndim > 0 and val.shape[0] not in (1, video_length):
                return (f"{name}: the conditioning has {val.shape[0]} rows ({key}) for a {video_length}-frame "
                        f"video; give one row per frame ({video_length}) or one row for every frame")
    return None


def pick_rows(guider, frame_ids: Sequence[int], video_length: int):
    """A shallow copy of ``guider`` whose per-frame conditioning rows are those of
    ``frame_ids`` (global ids, in batch order); one-row conditioning is left as it is."""
    ids = [int(k) for k in frame_ids]
    conds = {}
    for name, entries in guider.original_conds.items():
        msg = rows_problem(name, entries, video_length)
        if msg:
            raise UserError(msg)
        picked = []
        for entry in entries:
            e = dict(entry)
            for key in ROW_KEYS:
                val = entry.get(key)
                if isinstance(val, torch.Tensor) and val.ndim > 0 and val.shape[0] == video_length > 1:
                    e[key] = val[ids]
            picked.append(e)
        conds[name] = picked
    g = copy.copy(guider)
    g.original_conds = conds
    return g
