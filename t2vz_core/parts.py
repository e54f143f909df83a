"""Parts of a long video: a contiguous split of its frames, on chunk boundaries.

Noise and motion depend only on (seed, frame index), and every part samples frame 0's
chunk again as its anchor (request.FrameSelection), so a part made on any server equals the
same frames of one run. Bit for bit when the part is made of whole chunks: the model then
sees exactly the batches of one run (CPU and GPU kernels may round a frame differently in a
batch of another size or layout). So with a chunk size (the samplers' chunk_size, smaller
than the video) the parts start and end on multiples of it; without one (0) the frames are
split evenly. Either way the split is balanced (part sizes differ by at most one chunk or
frame, the longer parts first) and contiguous, so every frame is in exactly one part.
A part is (frame_start, frame_count), the two inputs of the samplers that make only part
of a video.
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


def chunked(video_length: int, chunk_size: int) -> bool:
    """Whether one run of the whole video is sampled in chunks (so parts follow them)."""
    return 0 < chunk_size < video_length


def units(start: int, end: int, video_length: int, chunk_size: int) -> list[tuple[int, int]]:
    """The frames [start, end) cut into what a part is made of: whole chunks of the video (the
    first and last may be cut by start and end), or single frames when it is not chunked."""
    step = chunk_size if chunked(video_length, chunk_size) else 1
    cuts = [start, *range((start // step + 1) * step, end, step), end]
    return list(zip(cuts, cuts[1:]))


def check(video_length: int | None = None, part_count: int | None = None,
          part_index: int | None = None, chunk_size: int | None = 0) -> str | None:
    """A message naming the bad input, or None. Inputs that are not known yet (None) pass."""
    if video_length is not None and video_length < 1:
        return f"video_length ({video_length}) must be at least 1"
    if part_count is not None and part_count < 1:
        return f"part_count ({part_count}) must be at least 1"
    if part_index is not None and part_index < 0:
        return f"part_index ({part_index}) must be 0 or more"
    if chunk_size is not None and chunk_size < 0:
        return f"chunk_size ({chunk_size}) must be 0 (split frames evenly) or the samplers' chunk_size"
    if None not in (video_length, part_count) and part_count > video_length:
        return (f"part_count ({part_count}) is larger than video_length ({video_length}): every part needs "
                f"at least one frame, so use at most {video_length} parts")
    if None not in (video_length, part_count, chunk_size) and chunked(video_length, chunk_size):
        n = len(units(0, video_length, video_length, chunk_size))
        if part_count > n:
            return (f"part_count ({part_count}) is larger than the video's {n} chunks (video_length "
                    f"{video_length}, chunk_size {chunk_size}): parts are made of whole chunks so that they "
                    f"equal one run bit for bit; use at most {n} parts, or a smaller chunk_size here and in "
                    f"the samplers")
    if None not in (part_count, part_index) and part_index >= part_count:
        return (f"part_index ({part_index}) must be smaller than part_count ({part_count}): parts are "
                f"numbered 0 to {part_count - 1}")
    return None


def split_range(start: int, end: int, part_count: int, video_length: int, chunk_size: int = 0) -> list[Part]:
    """The frames [start, end) of a video of ``video_length`` frames in ``part_count`` parts,
    in frame order, cut on the video's chunk boundaries when it is chunked."""
    pieces = units(start, end, video_length, chunk_size)
    if not 1 <= part_count <= len(pieces):
        raise ValueError(f"part_count ({part_count}) must be between 1 and {len(pieces)} (the frames "
                         f"{start}-{end - 1} are {len(pieces)} {'chunks' if chunked(video_length, chunk_size) else 'frames'})")
    size, longer = divmod(len(pieces), part_count)
    out, first = [], 0
    for i in range(part_count):
        last = first + size + (1 if i < longer else 0)
        s, e = pieces[first][0], pieces[last - 1][1]
        out.append(Part(i, s, e - s))
        first = last
    return out


def split(video_length: int, part_count: int, chunk_size: int = 0) -> list[Part]:
    """All parts of the whole video, in frame order."""
    msg = check(video_length, part_count, chunk_size=chunk_size)
    if msg:
        raise ValueError(msg)
    return split_range(0, video_length, part_count, video_length, chunk_size)


def part(video_length: int, part_count: int, part_index: int, chunk_size: int = 0) -> Part:
    """Part ``part_index`` of ``video_length`` frames split into ``part_count`` parts."""
    msg = check(video_length, part_count, part_index, chunk_size)
    if msg:
        raise ValueError(msg)
    return split_range(0, video_length, part_count, video_length, chunk_size)[part_index]
