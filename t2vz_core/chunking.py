"""Memory-bounded sampling of long videos in chunks that share frame 0 as anchor.

Every frame's self-attention looks only at itself (queries) and at frame 0 (keys and
values); everything else in a UNet is per frame. So a video can be denoised a chunk of
frames at a time without changing the result, as long as every chunk sees frame 0's
attention context. Per model evaluation (one per sampler step for most samplers):

    chunk 0 = frames [0, 1, ..., c−1]   records frame 0's context in every attention block
    chunk i = the next c frames          uses the recorded context (frame 0 is not rerun)

so frame 0 goes through the UNet once per evaluation, not once per chunk (the reference
reruns it in every chunk and throws the copy away), and peak memory follows the chunk
size, not the video length.

This is a ComfyUI context handler (``model_options["context_handler"]``): it sits where
ComfyUI batches conditionings, so everything per-frame that rides in a conditioning is
sliced to the chunk's frames — tensors whose first dimension is the video length,
``model_conds`` such as InstructPix2Pix's concat latents, and ControlNet hints (which
core's context windows do not slice).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import torch

from . import audit
from .attention import ANCHOR_KEY, AnchorStore

logger = logging.getLogger(__name__)

MIN_CHUNK = 2
VIDEO_FRAMES_KEY = "t2vz_video_frames"  # the whole video's length, while a chunk runs


def check_chunk_size(chunk_size: int) -> str | None:
    if chunk_size != 0 and chunk_size < MIN_CHUNK:
        return (f"chunk_size ({chunk_size}) must be 0 (all frames at once) or at least {MIN_CHUNK}: "
                f"the first chunk holds frame 0 and at least one new frame")
    return None


@dataclass(frozen=True)
class ChunkPlan:
    """Which frames go into which model call, built once per run: the context handler
    follows it and the progress bar counts its chunks."""

    frames: int
    chunk_size: int
    chunks: tuple[tuple[int, ...], ...]

    @classmethod
    def make(cls, frames: int, chunk_size: int) -> "ChunkPlan":
        """Frame 0 leads the first chunk; chunk_size 0 or ≥ frames: one chunk."""
        msg = check_chunk_size(chunk_size)
        if msg:
            raise ValueError(msg)
        if chunk_size == 0 or chunk_size >= frames:
            chunks = (tuple(range(frames)),)
        else:
            chunks = tuple(tuple(range(s, min(s + chunk_size, frames))) for s in range(0, frames, chunk_size))
        return cls(frames, chunk_size, chunks)

    @property
    def count(self) -> int:
        return len(self.chunks)

    @property
    def chunked(self) -> bool:
        return self.count > 1

    def for_frames(self, frames: int) -> "ChunkPlan":
        """This plan, or the same chunk size for a batch of another length."""
        return self if frames == self.frames else ChunkPlan.make(frames, self.chunk_size)


def _slice_value(val, idx, frames):
    if isinstance(val, torch.Tensor) and val.ndim > 0 and val.shape[0] == frames:
        return val[idx]
    return val


def _slice_model_conds(model_conds: dict, idx, frames) -> dict:
    out = {}
    for key, c in model_conds.items():
        cond = getattr(c, "cond", None)
        if isinstance(cond, torch.Tensor) and cond.ndim > 0 and cond.shape[0] == frames and hasattr(c, "_copy_with"):
            out[key] = c._copy_with(cond[idx])
        else:
            out[key] = c
    return out


def _control_chain(control):
    while control is not None:
        yield control
        control = getattr(control, "previous_controlnet", None)


class _SlicedHints:
    """Within a ``with``, the ControlNets of the conds see only the chunk's hint frames.

    The control objects in a sampling run are the sampler's own copies (Apply ControlNet
    copies the user's CONTROL_NET), and every change is undone on exit.
    """

    def __init__(self, conds, idx, frames):
        self.saved = []
        self.idx, self.frames = idx, frames
        self.controls = []
        for cond in conds:
            for c in cond or []:
                for ctrl in _control_chain(c.get("control")):
                    if all(ctrl is not x for x in self.controls):
                        self.controls.append(ctrl)

    def __enter__(self):
        for ctrl in self.controls:
            hint = getattr(ctrl, "cond_hint_original", None)
            if isinstance(hint, torch.Tensor) and hint.shape[0] == self.frames:
                self.saved.append((ctrl, hint))
                ctrl.cond_hint_original = hint[self.idx]
                ctrl.cond_hint = None
        return self

    def __exit__(self, *exc):
        for ctrl, hint in self.saved:
            ctrl.cond_hint_original = hint
            ctrl.cond_hint = None
        return False


def slice_conds(conds, idx, frames):
    out = []
    for cond in conds:
        if cond is None:
            out.append(None)
            continue
        new = []
        for c in cond:
            d = {}
            for key, val in c.items():
                if key == "model_conds":
                    d[key] = _slice_model_conds(val, idx, frames)
                else:
                    d[key] = _slice_value(val, idx, frames)
            new.append(d)
        out.append(new)
    return out


_HANDLER_CLASS = None


def handler_class():
    """The context-handler class, built on ComfyUI's ContextHandlerABC on first use."""
    global _HANDLER_CLASS
    if _HANDLER_CLASS is not None:
        return _HANDLER_CLASS
    import comfy.context_windows
    import comfy.model_management

    class ChunkedAnchor(comfy.context_windows.ContextHandlerABC):
        def __init__(self, plan: ChunkPlan, on_chunk: Callable[[], None] | None = None):
            super().__init__()
            self.plan = plan
            self.on_chunk = on_chunk

        def should_use_context(self, model, conds, x_in, timestep, model_options) -> bool:
            return self.plan.for_frames(x_in.shape[0]).chunked

        def get_resized_cond(self, cond_in, x_in, window, device=None):
            return slice_conds([cond_in], window, x_in.shape[0])[0]

        def execute(self, calc_cond_batch, model, conds, x_in, timestep, model_options):
            frames = x_in.shape[0]
            chunks = self.plan.for_frames(frames).chunks
            store = AnchorStore()
            out = None
            for i, chunk in enumerate(chunks):
                comfy.model_management.throw_exception_if_processing_interrupted()
                idx = list(chunk)
                store.mode = "record" if i == 0 else "use"
                to = dict(model_options.get("transformer_options", {}))
                to[ANCHOR_KEY] = store
                to[VIDEO_FRAMES_KEY] = frames
                to.update(audit.chunk_options(frames, idx))  # per-frame embeds of IPAdapter & co.
                mo = dict(model_options)
                mo["transformer_options"] = to
                sub_t = timestep[idx] if timestep.ndim > 0 and timestep.shape[0] == frames else timestep
                sub_conds = slice_conds(conds, idx, frames)
                with _SlicedHints(sub_conds, idx, frames):
                    res = calc_cond_batch(model, sub_conds, x_in[idx], sub_t, mo)
                if out is None:
                    out = [torch.zeros_like(x_in) for _ in res]
                for o, r in zip(out, res):
                    o[idx] = r.to(o)
                if self.on_chunk is not None:
                    self.on_chunk()
            return out

    _HANDLER_CLASS = ChunkedAnchor
    return ChunkedAnchor


def apply(model_patcher, plan: ChunkPlan, on_chunk: Callable[[], None] | None = None):
    """A clone of ``model_patcher`` that evaluates videos in the chunks of ``plan``."""
    m = model_patcher.clone()
    m.model_options["context_handler"] = handler_class()(plan, on_chunk)
    return m
