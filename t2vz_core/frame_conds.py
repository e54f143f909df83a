"""Per-frame conditioning: one row per frame of the video, picked by global frame id.

Conditioning whose tensors have one row applies to every frame and is left alone.
Conditioning with one row per frame of the video (a prompt schedule, per-frame image
conditioning) has its rows picked for the frames a run samples — frame 0 (the anchor)
first, then the selected frames — so a part of a long video (frame_start > 0) gets its own
frames' rows, and frame 0's phase gets row 0 explicitly. Any other row count is refused
with both numbers (ComfyUI would silently keep the first rows or repeat them).

ControlNet hints are picked the same way: a control chain whose hints (one image per frame
of the video) are not the batch's frames is copied with the batch's frames' hints (core
would take the first images), and a part given another number of hint images is refused.

Chunked sampling then slices these rows per chunk (chunking.slice_conds).
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch

from .chunking import control_chain, frames_copy, per_frame
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
    whole = ids == list(range(video_length))
    copies: dict[int, object] = {}  # one copy per control: positive and negative share theirs, and
    conds = {}                      # core batches them together only while they do
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
            if not whole and entry.get("control") is not None:
                control = entry["control"]
                if id(control) not in copies:
                    copies[id(control)] = _pick_hints(name, control, ids, video_length)
                e["control"] = copies[id(control)]
            picked.append(e)
        conds[name] = picked
    g = copy.copy(guider)
    g.original_conds = conds
    return g


def _pick_hints(name: str, control, ids: list[int], video_length: int):
    """The control chain ``control`` with its per-frame hints cut to the frames ``ids`` (a
    copy; the user's chain is never changed), or itself when no hint is per frame."""
    for c in control_chain(control):
        hint = getattr(c, "cond_hint_original", None)
        rows = hint.shape[0] if isinstance(hint, torch.Tensor) and hint.ndim > 0 else 1
        if rows not in (1, video_length) and ids != [0]:  # frame 0's phase: core takes the first image
            raise UserError(f"{name}: a ControlNet has {rows} hint images for a {video_length}-frame video; a part "
                            f"of the video picks its frames' hints by frame number: give one hint image per frame "
                            f"of the whole video ({video_length}) on every server, or one image for every frame")
    if not any(per_frame(c, video_length) for c in control_chain(control)):
        return control
    return frames_copy(control, ids, video_length)
