"""Parts of a long video: a balanced contiguous split of its frames.

Noise and motion depend only on (seed, frame index) and every part recomputes frame 0 as
its anchor, so a part made on any server equals the same frames of one run. A part is
(frame_start, frame_count), the two inputs of the samplers that make only part of a video.
The split is balanced (part sizes differ by at most one frame, the longer parts first) and
contiguous (part i+1 starts where part i ends), so every frame is in exactly one part.
"""
from __future__ import annotations

from typing import NamedTuple


class Part(NamedTuple):
    index: int
    frame_start: int
    frame_count: int

    @property
    def frame_end(self) -> int:
        """One past the part's last frame."""
        return self.frame_start + self.frame_count


def check(video_length: int | None = None, part_count: int | None = None,
          part_index: int | None = None) -> str | None:
    """A message naming the bad input, or None. Inputs that are not known yet (None) pass."""
    if video_length is not None and video_length < 1:
        return f"video_length ({video_length}) must be at least 1"
    if part_count is not None and part_count < 1:
        return f"part_count ({part_count}) must be at least 1"
    if part_index is not None and part_index < 0:
        return f"part_index ({part_index}) must be 0 or more"
    if None not in (video_length, part_count) and part_count > video_length:
        return (f"part_count ({part_count}) is larger than video_length ({video_length}): every part needs "
                f"at least one frame, so use at most {video_length} parts")
    if None not in (part_count, part_index) and part_index >= part_count:
        return (f"part_index ({part_index}) must be smaller than part_count ({part_count}): parts are "
                f"numbered 0 to {part_count - 1}")
    return None


def part(video_length: int, part_count: int, part_index: int) -> Part:
    """Part ``part_index`` of ``video_length`` frames split into ``part_count`` parts."""
    msg = check(video_length, part_count, part_index)
    if msg:
        raise ValueError(msg)
    size, longer = divmod(video_length, part_count)
    start = part_index * size + min(part_index, longer)
    return Part(part_index, start, size + (1 if part_index < longer else 0))


def split(video_length: int, part_count: int) -> list[Part]:
    """All parts, in frame order."""
    msg = check(video_length, part_count)
    if msg:
        raise ValueError(msg)
    return [part(video_length, part_count, i) for i in range(part_count)]
