"""Keyframed number schedules, Deforum-style: ``"0:(0), 12:(8), 24:(-4)"`` or a plain number.

Values between keyframes are interpolated linearly; before the first keyframe the first value
holds, after the last keyframe the last value holds. Parentheses around a value are optional.
A syntax error names the input and the (1-based) character position.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .problem import UserError

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_FRAME = re.compile(r"\d+")
MAX_FRAME = 1_000_000


class ScheduleError(UserError):
    """A schedule string that cannot be read; the message starts with the input's name."""


@dataclass(frozen=True)
class Schedule:
    """Keyframes ((frame, value), ...) sorted by frame, at least one."""

    keys: tuple[tuple[int, float], ...]

    @classmethod
    def constant(cls, value: float) -> "Schedule":
        return cls(((0, float(value)),))

    @property
    def is_constant(self) -> bool:
        return all(v == self.keys[0][1] for _, v in self.keys)

    @property
    def last_frame(self) -> int:
        return self.keys[-1][0]

    def value(self, frame: int) -> float:
        """The value at ``frame``: linear between keyframes, held outside them."""
        keys = self.keys
        if frame <= keys[0][0]:
            return keys[0][1]
        for (fa, va), (fb, vb) in zip(keys, keys[1:]):
            if frame == fb:
                return vb
            if frame < fb:
                return va + (vb - va) * (frame - fa) / (fb - fa)
        return keys[-1][1]

    def values(self, count: int) -> list[float]:
        """Values at frames 0 … count−1."""
        return [self.value(f) for f in range(count)]

    def text(self) -> str:
        if len(self.keys) == 1 and self.keys[0][0] == 0:
            return _num(self.keys[0][1])
        return ", ".join(f"{f}:({_num(v)})" for f, v in self.keys)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(v)


def parse(text: str | float | int, name: str) -> Schedule:
    """Read a schedule string (or a number) given for input ``name``."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return Schedule.constant(_finite(float(text), name, None))
    if not isinstance(text, str):
        raise ScheduleError(f"{name}: expected a number or a schedule like \"0:(0), 12:(8)\", "
                            f"got {type(text).__name__}")
    src = text
    pos = _skip(src, 0)
    if pos == len(src):
        raise ScheduleError(f"{name}: empty; give a number (e.g. 0) or keyframes like \"0:(0), 12:(8)\"")
    number = _NUMBER.match(src, pos)
    if number and _skip(src, number.end()) == len(src) and ":" not in src:
        return Schedule.constant(_finite(float(number.group()), name, pos))
    keys: dict[int, float] = {}
    while True:
        frame = _FRAME.match(src, pos)
        if not frame:
            raise _syntax(name, src, pos, "a frame number (0, 1, 2 ...)")
        frame_no = int(frame.group())
        if frame_no > MAX_FRAME:
            raise ScheduleError(f"{name}: frame {frame_no} at character {pos + 1} is beyond {MAX_FRAME}")
        pos = _skip(src, frame.end())
        if not src.startswith(":", pos):
            raise _syntax(name, src, pos, "':' after the frame number")
        pos = _skip(src, pos + 1)
        paren = src.startswith("(", pos)
        if paren:
            pos = _skip(src, pos + 1)
        number = _NUMBER.match(src, pos)
        if not number:
            raise _syntax(name, src, pos, "a number")
        value = _finite(float(number.group()), name, pos)
        pos = _skip(src, number.end())
        if paren:
            if not src.startswith(")", pos):
                raise _syntax(name, src, pos, "')'")
            pos = _skip(src, pos + 1)
        if frame_no in keys:
            raise ScheduleError(f"{name}: frame {frame_no} is given twice (second time at character "
                                f"{frame.start() + 1}); give each keyframe once")
        keys[frame_no] = value
        if pos == len(src):
            break
        if not src.startswith(",", pos):
            raise _syntax(name, src, pos, "',' between keyframes")
        pos = _skip(src, pos + 1)
        if pos == len(src):  # a trailing comma is fine
            break
    return Schedule(tuple(sorted(keys.items())))


def _skip(src: str, pos: int) -> int:
    while pos < len(src) and src[pos].isspace():
        pos += 1
    return pos


def _finite(value: float, name: str, pos: int | None) -> float:
    if not math.isfinite(value):
        where = f" at character {pos + 1}" if pos is not None else ""
        raise ScheduleError(f"{name}: {value} is not a finite number{where}")
    return value


def _syntax(name: str, src: str, pos: int, expected: str) -> ScheduleError:
    found = repr(src[pos]) if pos < len(src) else "the end"
    return ScheduleError(f"{name}: expected {expected} at character {pos + 1}, found {found} "
                         f"(schedules look like \"0:(0), 12:(8)\" or a plain number)")
