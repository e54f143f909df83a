"""One video request: everything a user set on a video sampler, as one frozen object.

Built once, with keyword arguments named as the node inputs, and checked by one function
(``find_problem``) that returns the first problem as a ``Problem`` (the input it is about
and a sentence) or None. The node layer calls it from ``validate_inputs`` with the widget
values it has (a linked input is absent there) and from ``execute`` with everything; the
core never re-checks what it checked.

    size      width, height (0 = the model's native size)
    frames    video_length, frame_start, frame_count (which frames this run outputs)
    timing    steps, t0, t1, t_mode (where frame 0 is copied and the video starts)
    motion    motion_field_strength_x/_y, use_motion_field
    chunking  chunk_size (frames per model call)
    attention token_merge_ratio (token merging with a seed-fixed partition, 0 = off)
    noise     seed, noise_mode
    image     first_frame_mode, image_strength, first_frame_release (with a first_frame image)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import cached_property

from . import image_anchor, noise, parts, timing
from .chunking import ChunkPlan, check_chunk_size
from .problem import Problem, UserError, first

MIN_SIDE = 16
# The allowed range of every numeric request field. The node schemas take their min/max
# from here (nodes/_common.py), and find_problem enforces them: ComfyUI skips its own range
# check for the inputs a node's validate_inputs names.
RANGES: dict[str, tuple[float, float]] = {
    "width": (0, 16384),
    "height": (0, 16384),
    "video_length": (1, 4096),
    "frame_start": (0, 100000),
    "frame_count": (0, 100000),
    "steps": (2, 10000),
    "t0": (0, 9999),
    "t1": (0, 9999),
    "motion_field_strength_x": (-512.0, 512.0),
    "motion_field_strength_y": (-512.0, 512.0),
    "chunk_size": (0, 4096),
    "token_merge_ratio": (0.0, 0.75),
    "seed": (0, 0xFFFFFFFFFFFFFFFF),
    "image_strength": (0.0, 1.0),
    "first_frame_release": (0.0, 1.0),
}
CHOICES: dict[str, list[str]] = {"t_mode": timing.MODES, "noise_mode": noise.NOISE_MODES,
                                 "first_frame_mode": image_anchor.MODES}


@dataclass(frozen=True)
class FrameSelection:
    """The global frame ids a run samples, frame 0 (the anchor) first, and the ids it outputs.

    A run that outputs only part of a video also samples frame 0 as the anchor; when the
    whole video would be sampled in chunks, it samples all of frame 0's chunk, so that chunk
    (whose frame 0 every other chunk attends to) is computed exactly as in one run of the
    whole video, and the part's frames equal that run's bit for bit when the part is made
    of whole chunks (see parts.py). Frames sampled only for that are dropped from the output.
    """

    ids: tuple[int, ...]
    output_ids: tuple[int, ...]

    @property
    def anchor_only(self) -> int:
        """How many of the sampled frames are there only for the anchor."""
        return len(self.ids) - len(self.output_ids)

    @classmethod
    def of(cls, video_length: int, frame_start: int, frame_count: int, chunk_size: int) -> "FrameSelection":
        end = frame_start + frame_count if frame_count else video_length
        wanted = tuple(range(frame_start, end))
        if len(wanted) == video_length:
            return cls(wanted, wanted)
        anchor = range(chunk_size) if parts.chunked(video_length, chunk_size) else range(1)
        return cls(tuple(sorted(set(anchor) | set(wanted))), wanted)


def _range_problem(name: str, value) -> Problem | None:
    lo, hi = RANGES[name]
    if isinstance(value, float) and not math.isfinite(value):
        return Problem(name, f"{name} ({value}) must be a number between {lo:g} and {hi:g}")
    if not lo <= value <= hi:
        return Problem(name, f"{name} ({value}) must be between {lo:g} and {hi:g}")
    return None


def _size_problem(name: str, value: int) -> Problem | None:
    if value % 8:
        return Problem(name, f"{name} ({value}) must be a multiple of 8 (for example {max(MIN_SIDE, value // 8 * 8)})")
    if value != 0 and value < MIN_SIDE:
        return Problem(name, f"{name} ({value}) must be 0 (the model's native size) or at least {MIN_SIDE}")
    return None


def _frames_problem(video_length: int, frame_start: int, frame_count: int) -> Problem | None:
    if frame_start >= video_length:
        return Problem("frame_start", f"frame_start ({frame_start}) is beyond the video: frames are numbered 0 to "
                                      f"{video_length - 1} (video_length {video_length})")
    if frame_count and frame_start + frame_count > video_length:
        return Problem("frame_count", f"frame_start ({frame_start}) + frame_count ({frame_count}) goes beyond "
                                      f"video_length ({video_length}); the last frame is {video_length - 1}")
    return None


def find_problem(**values) -> Problem | None:
    """The first problem among the given request fields (any subset; None values are
    skipped), or None. Unknown names are a programming error (KeyError)."""
    given = {k: v for k, v in values.items() if v is not None}
    known = {f.name for f in fields(VideoRequest)}
    unknown = set(given) - known
    if unknown:
        raise KeyError(f"not request fields: {sorted(unknown)}")
    for name, value in given.items():
        if name in RANGES:
            p = _range_problem(name, value)
        elif name in CHOICES and value not in CHOICES[name]:
            p = Problem(name, f"{name} '{value}' is not one of: {', '.join(CHOICES[name])}")
        else:
            p = None
        if p:
            return p
    g = given.get
    problems = [_size_problem(n, given[n]) for n in ("width", "height") if n in given]
    if "chunk_size" in given:
        msg = check_chunk_size(given["chunk_size"])
        problems.append(Problem("chunk_size", msg) if msg else None)
    if {"steps", "t0", "t1"} <= set(given):
        problems.append(timing.check(g("steps"), g("t0"), g("t1"), g("t_mode", timing.REL_50)))
    if {"video_length", "frame_start", "frame_count"} <= set(given):
        problems.append(_frames_problem(g("video_length"), g("frame_start"), g("frame_count")))
    return first(*problems)


@dataclass(frozen=True)
class VideoRequest:
    """What one video sampler run makes. Defaults are the nodes' defaults (the paper's)."""

    # size
    width: int = 0
    height: int = 0
    # frames
    video_length: int = 8
    frame_start: int = 0
    frame_count: int = 0
    # timing
    steps: int = 50
    t0: int = 44
    t1: int = 47
    t_mode: str = timing.REL_50
    # motion
    motion_field_strength_x: float = 12.0
    motion_field_strength_y: float = 12.0
    use_motion_field: bool = True
    # chunking
    chunk_size: int = 8
    # attention
    token_merge_ratio: float = 0.0
    # noise
    seed: int = 0
    noise_mode: str = noise.NOISE_SHARED
    # a user's image as frame 0 (used when a first_frame latent is connected)
    first_frame_mode: str = image_anchor.PINNED
    image_strength: float = 0.5
    first_frame_release: float = 0.5

    def problem(self) -> Problem | None:
        return find_problem(**asdict(self))

    def checked(self) -> "VideoRequest":
        """This request, or UserError with its first problem."""
        p = self.problem()
        if p:
            raise UserError(str(p))
        return self

    @cached_property
    def timing(self) -> timing.Timing:
        return timing.resolve(self.steps, self.t0, self.t1, self.t_mode)

    @cached_property
    def frames(self) -> FrameSelection:
        return FrameSelection.of(self.video_length, self.frame_start, self.frame_count, self.chunk_size)

    def chunk_plan(self, frame_ids, video_length: int | None = None) -> ChunkPlan:
        """The chunks of a batch holding the frames ``frame_ids`` (global ids, frame 0 first)
        of a video of ``video_length`` frames (default: the last id + 1)."""
        return ChunkPlan.of(list(frame_ids), self.chunk_size, video_length)

    def timing_for(self, with_image: bool, schedule_steps: int | None = None) -> timing.Timing:
        """t0/t1 as set, or, with an image as frame 0, placed by image_strength (keeping the
        gap between T1 and T0), for a schedule of ``schedule_steps`` steps: what the
        scheduler really makes, which may differ from ``steps`` (ComfyUI's ddim_uniform makes
        13 at 12). t0/t1 count from the end of it, as in the reference, so the video runs
        t1 + 1 steps whatever the scheduler adds at the start."""
        n = schedule_steps or self.steps
        tm = self.timing if n == self.steps else timing.resolve(n, self.t0, self.t1, self.t_mode)
        if not with_image:
            return tm
        return image_anchor.image_timing(n, self.image_strength, tm.k0 - tm.k1)
