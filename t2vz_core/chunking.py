"""Memory-bounded sampling of long videos in chunks that share frame 0 as anchor.

Every frame's self-attention looks only at itself (queries) and at frame 0 (keys and
values); everything else in a UNet is per frame. So a video can be denoised a chunk of
frames at a time without changing the result, as long as every chunk sees frame 0's
attention context. Per model evaluation (one per sampler step for most samplers):

    chunk 0 = frames [0, 1, ..., c−1]   records frame 0's context in every attention block
    chunk i = the next c frames          uses the recorded context (frame 0 is not rerun)

so frame 0 goes through the UNet once per evaluation, not once per chunk (the reference
reruns it in every chunk and throws the copy away), and peak memory follows the chunk
size, not the video length. Chunks are the video's, by global frame id (chunk i holds
frames i·c … i·c + c − 1), also in a batch that holds only part of the video: a part made
of whole chunks (with frame 0's chunk as its anchor, see request.FrameSelection) is then
denoised in exactly the model calls of one run, so it equals that run bit for bit.

This is a ComfyUI context handler (``model_options["context_handler"]``): it sits where
ComfyUI batches conditionings, so everything per-frame that rides in a conditioning is
sliced to the chunk's frames — tensors whose first dimension is the video length,
``model_conds`` such as InstructPix2Pix's concat latents, and ControlNet hints (which
core's context windows do not slice): each chunk gets its own copy of a control chain,
given the chunk's hints through ``set_cond_hint``, so no ComfyUI version's private hint
cache (``cond_hint`` in 0.3.x, ``cond_hints`` per latent size in newer ones) can hand one
chunk another chunk's hints.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import torch

from . import audit
from .attention import ANCHOR_KEY, AnchorStore
from .problem import UserError

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
    follows it and the progress bar counts its chunks. ``ids`` are the global frame ids of
    the batch's rows and ``video_length`` the whole video's length."""

    frames: int
    chunk_size: int
    chunks: tuple[tuple[int, ...], ...]
    ids: tuple[int, ...]
    video_length: int

    @classmethod
    def make(cls, frames: int, chunk_size: int) -> "ChunkPlan":
        """Frame 0 leads the first chunk; chunk_size 0 or ≥ frames: one chunk."""
        return cls.of(range(frames), chunk_size)

    @classmethod
    def of(cls, frame_ids, chunk_size: int, video_length: int | None = None) -> "ChunkPlan":
        """The chunks of a batch of the global frames ``frame_ids`` (ascending, frame 0 first)
        of a video of ``video_length`` frames (default: the last id + 1): the frames of the
        video's chunk i (ids i·c … i·c + c − 1) go together, so the part of a video sampled
        alone is chunked as the whole video is."""
        msg = check_chunk_size(chunk_size)
        if msg:
            raise ValueError(msg)
        ids = tuple(int(k) for k in frame_ids)
        length = int(video_length or ids[-1] + 1)
        if chunk_size == 0 or ids[-1] < chunk_size:
            return cls(len(ids), chunk_size, (tuple(range(len(ids))),), ids, length)
        groups: dict[int, list[int]] = {}
        for pos, k in enumerate(ids):
            groups.setdefault(k // chunk_size, []).append(pos)
        return cls(len(ids), chunk_size, tuple(tuple(g) for g in groups.values()), ids, length)

    @property
    def count(self) -> int:
        return len(self.chunks)

    @property
    def chunked(self) -> bool:
        return self.count > 1

    @property
    def remapped(self) -> bool:
        """Batch row i is not frame i of the video (a part after frame 0): per-frame inputs
        that the context handler does not slice (IPAdapter's embeds) need the global ids."""
        return self.ids != tuple(range(self.frames))

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


def control_chain(control):
    while control is not None:
        yield control
        control = getattr(control, "previous_controlnet", None)


def per_frame(control, frames) -> bool:
    hint = getattr(control, "cond_hint_original", None)
    return isinstance(hint, torch.Tensor) and hint.ndim > 0 and hint.shape[0] == frames


def frames_copy(control, idx, frames):
    """A copy of the control chain headed by ``control`` whose per-frame hints (and
    per-frame extra inputs, such as inpaint masks) are the chunk's frames.

    Only public ControlBase methods: ``copy()``, ``set_cond_hint(...)`` (which also drops
    whatever hints a ComfyUI version prepared and cached) and ``set_previous_controlnet``.
    A control with one hint for all frames is copied as is, so the chain stays whole.
    """
    c = control.copy()
    if per_frame(control, frames):
        extra = [_slice_value(e, idx, frames) for e in getattr(control, "extra_concat_orig", [])]
        c.set_cond_hint(control.cond_hint_original[idx], control.strength, control.timestep_percent_range,
                        control.vae, extra)
    previous = getattr(control, "previous_controlnet", None)
    if previous is not None:
        c.set_previous_controlnet(frames_copy(previous, idx, frames))
    return c


class ChunkControls:
    """The ControlNets of one sampling run, per chunk.

    Every control chain in the conds that carries one hint per frame gets one copy per
    chunk, made on the chunk's first model evaluation, prepared as core prepares the
    originals (``pre_run``) and reused for the rest of the run, so whatever a ComfyUI
    version caches inside a control (prepared hints per latent size) belongs to one chunk.
    ``cleanup()`` ends the run as core ends it for the originals. The originals (the
    sampler's own copies of what Apply ControlNet made) are never changed.
    """

    def __init__(self):
        self._copies: dict[tuple[int, int, tuple[int, ...]], tuple[object, object]] = {}

    def __len__(self) -> int:
        return len(self._copies)

    def for_chunk(self, control, idx, frames, model):
        key = (id(control), frames, tuple(idx))
        hit = self._copies.get(key)
        if hit is not None and hit[0] is control:
            return hit[1]
        if any(per_frame(c, frames) for c in control_chain(control)):
            copy = frames_copy(control, idx, frames)
            # Newer ComfyUI on several GPUs (MultiGPU CFG Split) keeps a deep clone of each
            # control per extra GPU and asks the head for the one of its device
            # (get_instance_for_device): the chunk copy gets the chunk's copy of each.
            for device, on_device in (getattr(control, "multigpu_clones", None) or {}).items():
                copy.multigpu_clones[device] = frames_copy(on_device, idx, frames)
            sampling = model.model_sampling
            for c in [copy, *(getattr(copy, "multigpu_clones", None) or {}).values()]:
                c.pre_run(model, lambda percent: sampling.percent_to_sigma(percent))
        else:
            copy = control
        self._copies[key] = (control, copy)
        return copy

    def swap_into(self, conds, idx, frames, model):
        """``conds`` (already sliced to the chunk) with each control replaced by its chunk copy."""
        def swap(c):
            control = c.get("control")
            if control is None:
                return c
            return {**c, "control": self.for_chunk(control, idx, frames, model)}
        return map_entries(conds, swap)

    def cleanup(self):
        for original, copy in self._copies.values():
            if copy is not original:
                copy.cleanup()
                for on_device in (getattr(copy, "multigpu_clones", None) or {}).values():
                    on_device.cleanup()  # newer core cleans these in cleanup() too; twice is harmless
        self._copies.clear()


def map_entries(conds, fn):
    """``conds`` (a list of conditioning lists, None kept) with ``fn`` applied to every entry."""
    return [None if cond is None else [fn(c) for c in cond] for cond in conds]


def slice_conds(conds, idx, frames):
    """Every per-frame value of the conditionings cut to the frames ``idx`` (of ``frames``)."""
    def cut(c):
        return {key: _slice_model_conds(val, idx, frames) if key == "model_conds" else _slice_value(val, idx, frames)
                for key, val in c.items()}
    return map_entries(conds, cut)


_HANDLER_CLASS = None
CLEANUP_KEY = "t2vz_chunk_controls"  # the outer-sample wrapper that ends a run's chunk controls


def handler_class():
    """The context-handler class, built on ComfyUI's ContextHandlerABC on first use."""
    global _HANDLER_CLASS
    if _HANDLER_CLASS is not None:
        return _HANDLER_CLASS
    import comfy.context_windows
    import comfy.model_management

    class ChunkedAnchor(comfy.context_windows.ContextHandlerABC):
        # What newer core context-window wrappers read from the model's handler (0.38.1's
        # Context Windows node leaves a PREPARE_SAMPLING wrapper that sizes the memory
        # estimate to ``context_length`` frames along ``dim``, and a SAMPLER_SAMPLE wrapper
        # that shuffles the noise when ``freenoise``): frames run ``context_length`` at a
        # time along the batch dimension, with no overlap and no noise shuffling.
        dim = 0
        context_overlap = 0
        freenoise = False

        def __init__(self, plan: ChunkPlan, on_chunk: Callable[[], None] | None = None):
            super().__init__()
            self.plan = plan
            self.on_chunk = on_chunk
            self.context_length = max(len(c) for c in plan.chunks)
            self.controls = ChunkControls()

        def __deepcopy__(self, memo):
            # ModelPatcher.clone() deep-copies model_options: the plan is frozen, the
            # callback is shared, and a run's chunk controls are never carried over.
            return type(self)(self.plan, self.on_chunk)

        def should_use_context(self, model, conds, x_in, timestep, model_options) -> bool:
            plan = self.plan.for_frames(x_in.shape[0])
            return plan.chunked or plan.remapped

        def get_resized_cond(self, cond_in, x_in, window, device=None):
            return slice_conds([cond_in], window, x_in.shape[0])[0]

        def execute(self, calc_cond_batch, model, conds, x_in, timestep, model_options):
            frames = x_in.shape[0]
            plan = self.plan.for_frames(frames)
            chunks = plan.chunks
            store = AnchorStore()
            out = None
            for i, chunk in enumerate(chunks):
                comfy.model_management.throw_exception_if_processing_interrupted()
                idx = list(chunk)
                store.mode = "record" if i == 0 else "use"
                to = dict(model_options.get("transformer_options", {}))
                to[ANCHOR_KEY] = store
                to[VIDEO_FRAMES_KEY] = frames
                to.update(audit.chunk_options(plan.video_length, [plan.ids[p] for p in idx]))  # per-frame embeds of IPAdapter & co.
                mo = dict(model_options)
                mo["transformer_options"] = to
                sub_t = timestep[idx] if timestep.ndim > 0 and timestep.shape[0] == frames else timestep
                sub_conds = self.controls.swap_into(slice_conds(conds, idx, frames), idx, frames, model)
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


def _end_chunk_controls(executor, *args, **kwargs):
    """Outer-sample wrapper: the run's chunk controls are cleaned up when the run ends
    (as core cleans up the originals), whatever the run's outcome."""
    handler = executor.class_obj.model_options.get("context_handler")
    ours = isinstance(handler, handler_class())
    if ours:
        handler.controls.cleanup()
    try:
        return executor(*args, **kwargs)
    finally:
        if ours:
            handler.controls.cleanup()


def apply(model_patcher, plan: ChunkPlan, on_chunk: Callable[[], None] | None = None):
    """A clone of ``model_patcher`` that evaluates videos in the chunks of ``plan``."""
    import comfy.patcher_extension

    audit.refuse_context_windows(model_patcher)
    other = model_patcher.model_options.get("context_handler")
    if other is not None and not isinstance(other, handler_class()):
        where = (f"the model already samples in context windows ({type(other).__name__}, from a Context Windows "
                 f"node or AnimateDiff context options)")
        if not plan.chunked:  # an unchunked part: its frames' global ids need the pack's handler
            raise UserError(f"{where}, and a part of a video (frame_start > 0) needs the pack's own frame handling "
                            f"in their place. Remove the Context Windows node from the model's path.")
        raise UserError(
            f"{where}, and chunk_size would replace them. Remove the Context "
            f"Windows node from the model's path: chunk_size bounds memory the same way and keeps frame 0 as "
            f"every chunk's anchor; or set chunk_size to 0.")
    m = model_patcher.clone()
    m.model_options["context_handler"] = handler_class()(plan, on_chunk)
    m.remove_wrappers_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, CLEANUP_KEY)
    m.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, CLEANUP_KEY, _end_chunk_controls)
    return m
