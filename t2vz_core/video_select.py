"""What Load Video reads, decided before anything is decoded (pure: no ffmpeg here).

- ``LOAD_VIDEO_OPTIONS``: the node's options, declared once. The node's schema, the editor
  preview's query parser and (through the node's inputs) the web extension all read this table.
- ``Timeline``: when each frame is shown. Time windows and fps resampling pick frames by these
  presentation times, so they match what a player shows, variable frame rates included.
- ``select_frames``: time window -> fps resampling -> skip_first_frames -> select_every_nth ->
  frame_load_cap, as the original's ``prepare_video`` plus VideoHelperSuite's knobs. On a
  constant-rate video the picks are exactly ``prepare_video``'s index arithmetic.
- ``target_size`` and ``check_budget``: the output size (the display size, sample aspect ratio
  applied) and a refusal, with the numbers, of outputs larger than the memory budget.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os

import numpy as np

from .problem import Problem

SIZE_MULTIPLE = 8  # the original rounds both sides to multiples of 64; 8 is what SD latents need
_EPS = 1e-6  # so that e.g. 2.0 s * 4 fps lands on frame 8, not 7.999...
ENV_BUDGET = "T2VZ_LOAD_VIDEO_MAX_GB"


class VideoIOError(RuntimeError):
    # ComfyUI reports an error's type as module + class name, and imports the pack under a
    # module name made of its install path: keep the server's file system out of the report
    __module__ = "t2vz_core.video_io"


@dataclasses.dataclass(frozen=True)
class Option:
    """One Load Video option: its widget (type, default, range, step) and its tooltip."""
    name: str
    kind: type  # int or float
    default: int | float
    min: int | float
    max: int | float
    step: float | None  # None: the widget's default step (1 for whole numbers)
    tooltip: str
    advanced: bool = False


# In the node's input order (a saved workflow's widgets_values follow it: never reorder).
LOAD_VIDEO_OPTIONS: tuple[Option, ...] = (
    Option("frame_load_cap", int, 0, 0, 100000, None,
           "At most this many frames (after skipping and every-nth); 0 = all."),
    Option("skip_first_frames", int, 0, 0, 100000, None,
           "Drop this many frames at the start (counted after the time window and fps resampling)."),
    Option("select_every_nth", int, 1, 1, 1000, None,
           "Keep every n-th frame (1 = all, 2 = every second frame, which halves the fps)."),
    Option("resolution", int, 512, 0, 16384, 8,
           "Long side in pixels of the picture as a player shows it (non-square pixels and rotation "
           "applied); the other side keeps the aspect ratio. Both sides are rounded to multiples of 8 "
           "(the original rounds to 64). 0 = keep the displayed size as it is, even when it is not a "
           "multiple of 8 (the samplers need multiples of 8: then set a resolution)."),
    Option("output_fps", float, 0.0, 0.0, 1000.0, 0.01,
           "Resample in time to this fps by picking the frame shown at each output time (as the original's "
           "prepare_video). Above the video's fps frames are repeated, as asked (more frames than the video "
           "has). 0 = keep the video's frames and rate.", advanced=True),
    Option("start_time", float, 0.0, 0.0, 1e6, 0.01,
           "Start of the part to read, in seconds (the frame a player shows at this time is the first).",
           advanced=True),
    Option("end_time", float, 0.0, 0.0, 1e6, 0.01,
           "End of the part to read, in seconds (not included); 0 = to the end of the video.", advanced=True),
)
OPTIONS = {o.name: o for o in LOAD_VIDEO_OPTIONS}
DEFAULTS = {o.name: o.default for o in LOAD_VIDEO_OPTIONS}


def check_value(name: str, value, shown: str | None = None) -> str | None:
    """The problem with one option's value (against the table's range), or None. ``shown``: the
    value as the user typed it, for the message."""
    opt = OPTIONS[name]
    shown = str(value) if shown is None else shown
    if not math.isfinite(value) and value > 0:
        return f"{name} ({shown}) must be at most {opt.max:g}"
    if not math.isfinite(value) or value < opt.min:
        return f"{name} ({shown}) must be " + ("0 or more" if opt.min == 0 else f"at least {opt.min:g}")
    if value > opt.max:
        return f"{name} ({shown}) must be at most {opt.max:g}"
    return None


def check_options(**values) -> Problem | None:
    """The first bad option as a Problem (the input it is about, a sentence a user understands),
    or None. Options missing or None are unknown (e.g. inputs connected to another node) and
    not checked."""
    for name in OPTIONS:
        value = values.get(name)
        if value is not None:
            msg = check_value(name, value)
            if msg:
                return Problem(name, msg)
    start, end, res = values.get("start_time"), values.get("end_time"), values.get("resolution")
    if start is not None and end is not None and 0 < end <= start:
        return Problem("end_time", f"end_time ({end}) must be greater than start_time ({start}), "
                                   f"or 0 to read to the end of the video")
    if res is not None and 0 < res < SIZE_MULTIPLE:
        return Problem("resolution", f"resolution ({res}) must be 0 (keep the size) or at least {SIZE_MULTIPLE}")
    return None


def _floor(x: float) -> int:
    return int(math.floor(x + _EPS))


@dataclasses.dataclass(frozen=True, eq=False)
class Timeline:
    """When each of ``frame_count`` frames is shown, in seconds from the first one: ``times``
    (sorted presentation times; None for a constant rate, where frame i is at i / fps) and
    ``duration`` (when the last one ends). ``fps``: the container's rate for a constant-rate
    video, frames / duration otherwise."""
    frame_count: int
    fps: float
    duration: float
    times: np.ndarray | None = None

    @classmethod
    def constant(cls, frame_count: int, fps: float) -> "Timeline":
        return cls(frame_count, fps, frame_count / fps if fps > 0 else 0.0)

    @classmethod
    def from_pts(cls, pts: list[int], last_duration: int, time_base: float, fps: float) -> "Timeline":
        """From the packets' presentation timestamps (any order, in ``time_base`` seconds) and the
        last one's duration. Timestamps within a quarter frame of a constant ``fps`` give a
        constant-rate timeline (the container's rate, exactly)."""
        n = len(pts)
        times = (np.sort(np.asarray(pts, dtype=np.int64)) - min(pts)).astype(np.float64) * time_base
        if fps > 0 and np.all(np.abs(times - np.arange(n) / fps) <= 0.25 / fps):
            return cls.constant(n, fps)
        gaps = np.diff(times)
        last = last_duration * time_base if last_duration > 0 else float(np.median(gaps)) if n > 1 else 0.0
        if not last > 0:
            last = 1.0 / fps if fps > 0 else 0.04
        duration = float(times[-1] + last)
        return cls(n, n / duration, duration, times)

    @property
    def variable(self) -> bool:
        return self.times is not None

    def time_of(self, index: int) -> float:
        """When frame ``index`` starts (``frame_count``: the end of the video)."""
        if index >= self.frame_count:
            return self.duration
        return index / self.fps if self.times is None else float(self.times[index])

    def index_at(self, seconds):
        """The frame a player shows at ``seconds`` (array or scalar; ``frame_count`` at or after the end)."""
        if self.times is None:
            found = np.floor(np.asarray(seconds, dtype=np.float64) * self.fps + _EPS).astype(np.int64)
        else:
            bounds = np.append(self.times, self.duration)
            found = np.searchsorted(bounds, np.asarray(seconds, dtype=np.float64) + _EPS, side="right") - 1
        found = np.clip(found, 0, self.frame_count)
        return int(found) if np.ndim(found) == 0 else found


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which source frames to load. ``count`` and ``fps`` are known at once; ``indices`` (source
    frame indices, non-decreasing, repeats when output_fps is above the video's rate) are
    computed when first read, so a refusal of a huge selection costs nothing."""
    count: int
    fps: float
    positions: range  # which of the window's (resampled) frames are kept
    pick: object      # numpy array of positions -> numpy array of source indices

    @functools.cached_property
    def indices(self) -> list[int]:
        return self.pick(np.asarray(self.positions, dtype=np.int64)).tolist() if self.count else []

    def repeats(self) -> int:
        """How many selected frames repeat the one before (output_fps above the video's rate)."""
        idx = self.indices
        return sum(1 for a, b in zip(idx, idx[1:]) if a == b)


def select_frames(timeline: Timeline, *, start_time: float = 0.0, end_time: float = 0.0,
                  output_fps: float = 0.0, skip_first_frames: int = 0, select_every_nth: int = 1,
                  frame_load_cap: int = 0, name: str = "the video") -> Selection:
    """The frames to load, in order, and their fps.

    Window: from the frame shown at start_time up to (not including) the frame shown at end_time
    (prepare_video's ``[start_time*fps, end_time*fps)`` on a constant rate). output_fps > 0:
    ``int(seconds * output_fps)`` output times spread evenly over the window's frames, each taking
    the frame shown then (prepare_video's ``np.linspace(start, end, n, endpoint=False)``). Then
    skip / every-nth / cap, as in VideoHelperSuite. Raises VideoIOError, saying why, when nothing
    is left."""
    problem = check_options(start_time=start_time, end_time=end_time, output_fps=output_fps,
                            skip_first_frames=skip_first_frames, select_every_nth=select_every_nth,
                            frame_load_cap=frame_load_cap)
    if problem:
        raise VideoIOError(problem.message)
    n, duration = timeline.frame_count, timeline.duration
    if n < 1 or not duration > 0:
        raise VideoIOError(f"{name} has no frames to read ({n} frames, {duration:.4g} s)")
    rate_text = f"at {timeline.fps:.4g} fps" if not timeline.variable else f"at a variable rate, {timeline.fps:.4g} fps on average"
    about = f"{name} has {n} frames ({duration:.4g} s {rate_text})"
    if start_time >= duration - _EPS:
        raise VideoIOError(f"start_time ({start_time} s) is at or after the end of the video: {about}; "
                           f"choose a start_time below {duration:.4g}")
    end_t = duration if end_time <= 0 else min(duration, end_time)
    start_f = timeline.index_at(start_time)
    end_f = n if end_time <= 0 else timeline.index_at(end_t)
    if output_fps > 0:
        num = _floor((end_t - start_time) * output_fps)
        if not timeline.variable:  # prepare_video's arithmetic, to the bit
            step = (end_f - start_f) / num if num else 0.0

            def pick(k):
                return (k * step + start_f).astype(np.int64)
        else:  # the same rule on the frames' own times
            t0, t1 = timeline.time_of(start_f), timeline.time_of(end_f)
            step = (t1 - t0) / num if num else 0.0

            def pick(k):
                return np.minimum(timeline.index_at(k * step + t0), n - 1)
        rate = float(output_fps)
    else:
        num = end_f - start_f

        def pick(k):
            return k + start_f
        span = timeline.time_of(end_f) - timeline.time_of(start_f)
        rate = float(timeline.fps) if not timeline.variable else (num / span if span > 0 else timeline.fps)
    if num <= 0:
        raise VideoIOError(f"the time window {start_time}-{end_t:.4g} s"
                           + (f" at output_fps {output_fps}" if output_fps > 0 else "")
                           + f" holds no frame: {about}; widen the window"
                           + (" or raise output_fps" if output_fps > 0 else ""))
    window_note = "" if num == n else f", {num} of them in the time window / at output_fps"
    if skip_first_frames >= num:
        raise VideoIOError(f"skip_first_frames ({skip_first_frames}) skips every frame: {about}{window_note}; "
                           f"use a value below {num}")
    positions = range(skip_first_frames, num, select_every_nth)
    if frame_load_cap > 0:
        positions = positions[:frame_load_cap]
    return Selection(count=len(positions), fps=rate / select_every_nth, positions=positions, pick=pick)


def target_size(width: int, height: int, resolution: int, multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    """(width, height) with the long side scaled to ``resolution`` and both sides rounded to
    multiples of ``multiple`` (prepare_video's rule, which uses 64); 0 keeps the size."""
    if resolution <= 0:
        return width, height
    k = resolution / max(width, height)
    return (max(multiple, int(np.round(width * k / multiple)) * multiple),
            max(multiple, int(np.round(height * k / multiple)) * multiple))


def memory_budget() -> tuple[int, str]:
    """(bytes, where that number comes from) that one Load Video output may take: ``$T2VZ_LOAD_VIDEO_MAX_GB``
    gigabytes when set, otherwise half of this machine's memory."""
    forced = os.environ.get(ENV_BUDGET)
    if forced:
        try:
            gb = float(forced)
        except ValueError:
            raise VideoIOError(f"{ENV_BUDGET}={forced!r} must be a number of gigabytes (for example 8)") from None
        return int(gb * 1e9), f"set by {ENV_BUDGET}"
    try:
        import psutil
        total = psutil.virtual_memory().total
    except ImportError:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return total // 2, f"half of this machine's memory; {ENV_BUDGET} changes it"


def _gb(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9)):
        if n >= size:
            return f"{n / size:,.3g} {unit}" if n < 1000 * size or unit != "TB" else f"{n / size:,.0f} TB"
    return f"{n / 1e6:.3g} MB"


def check_budget(selection: Selection, width: int, height: int, source_fps: float, name: str = "the video",
                 output_fps: float = 0.0) -> None:
    """Refuses, before anything is decoded, an output (frames x height x width x 3 float32 values)
    larger than ``memory_budget()``; the message gives the numbers and the inputs that lower them."""
    need = selection.count * width * height * 3 * 4
    budget, why = memory_budget()
    if need <= budget:
        return
    knobs = "lower resolution, set frame_load_cap or select_every_nth, or narrow start_time / end_time"
    if output_fps > 0:
        knobs += ", or lower output_fps" + (
            f" (above the video's {source_fps:.4g} fps it repeats frames)" if output_fps > source_fps else "")
    raise VideoIOError(
        f"{name} would load as {selection.count} frames of {width}x{height}: {_gb(need)} as an IMAGE batch "
        f"({selection.count} x {width} x {height} x 3 values x 4 bytes), more than Load Video's limit of "
        f"{_gb(budget)} ({why}); {knobs}")
