"""Camera paths: the T2VZ_MOTION value (pan, zoom, roll around a centre, per frame).

A ``CameraPath`` generalises the paper's constant translation (``translation(sx, sy)``: frame
k moved by k·(sx, sy), bit-identical to the reference warp). Each component is a keyframed
schedule (``schedule.py``), read in one of two modes:

- ``accumulated``: the schedule gives each frame's step, added to the previous frame's value
  (pan, roll) or multiplying it (zoom), starting from frame 0 = no motion. A constant step
  moves the camera steadily, like the x/y strengths.
- ``absolute``: the schedule gives the camera at each frame, measured from frame 0 (frame 0's
  own value is subtracted, or divided out for zoom), so frame 0 is never moved.

After its last keyframe a schedule holds its last value (in accumulated mode the last step
keeps moving the camera). Units: pan in pixels of a 512-pixel frame (as
motion_field_strength; positive x shows content further right, so the picture moves left),
zoom as a scale factor (>1 enlarges), roll in degrees (positive turns the picture
counter-clockwise), centre as fractions of the frame (0.5, 0.5 = the middle).

Each frame becomes one inverse map, 3×3, in the 512-grid units of ``motion.py``. Rotation is
done in real pixels (the grid's x and y units are scaled to the frame's aspect first), so a
non-square frame rotates without shearing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch

from . import motion
from .schedule import Schedule, ScheduleError, parse

MODES = ("accumulated", "absolute")


ZOOM_LIMIT = 1e4  # how far a frame may zoom from frame 0, either way
LOG_ZOOM_LIMIT = math.log(ZOOM_LIMIT)


@dataclass(frozen=True)
class CameraPath:
    pan_x: Schedule = Schedule.constant(0.0)
    pan_y: Schedule = Schedule.constant(0.0)
    zoom: Schedule = Schedule.constant(1.0)
    roll: Schedule = Schedule.constant(0.0)
    centre_x: Schedule = Schedule.constant(0.5)
    centre_y: Schedule = Schedule.constant(0.5)
    mode: str = "accumulated"
    _table: dict = field(default_factory=dict, init=False, compare=False, hash=False, repr=False)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ScheduleError(f"mode: '{self.mode}' is not one of {', '.join(MODES)}")
        for frame, value in self.zoom.keys:
            if value <= 0:
                raise ScheduleError(f"zoom: {value} at frame {frame} must be above 0 (1 = no zoom, "
                                    f"1.02 = 2% closer, 0.98 = 2% further)")

    # -- building -------------------------------------------------------------------------

    @classmethod
    def translation(cls, strength_x: float, strength_y: float) -> "CameraPath":
        """The paper's motion: frame k moved by k·(strength_x, strength_y) pixels of a 512 frame."""
        return cls(pan_x=Schedule.constant(float(strength_x)), pan_y=Schedule.constant(float(strength_y)))

    @classmethod
    def from_schedules(cls, pan_x="0", pan_y="0", zoom="1", roll="0", centre_x="0.5", centre_y="0.5",
                       mode: str = "accumulated") -> "CameraPath":
        """Build from schedule strings (or numbers); errors start with the input's name."""
        return cls(pan_x=parse(pan_x, "pan_x"), pan_y=parse(pan_y, "pan_y"), zoom=parse(zoom, "zoom"),
                   roll=parse(roll, "roll"), centre_x=parse(centre_x, "centre_x"),
                   centre_y=parse(centre_y, "centre_y"), mode=mode)

    # -- reading --------------------------------------------------------------------------

    @property
    def is_identity(self) -> bool:
        """True when no frame moves."""
        if self.mode == "absolute":
            return all(s.is_constant for s in (self.pan_x, self.pan_y, self.zoom, self.roll))
        return (all(v == 0 for s in (self.pan_x, self.pan_y, self.roll) for _, v in s.keys)
                and all(v == 1 for _, v in self.zoom.keys))

    @property
    def last_keyframe(self) -> int:
        """The last frame any schedule names; later frames hold the last values."""
        return max(s.last_frame for s in (self.pan_x, self.pan_y, self.zoom, self.roll,
                                          self.centre_x, self.centre_y))

    def describe(self) -> str:
        """One short line for logs."""
        if self.is_identity:
            return "camera path: no motion"
        parts = [f"{name} {getattr(self, name).text()}" for name, default in
                 (("pan_x", "0"), ("pan_y", "0"), ("zoom", "1"), ("roll", "0"))
                 if getattr(self, name).text() != default]
        if self.zoom.text() != "1" or self.roll.text() != "0":
            parts.append(f"centre {self.centre_x.text()}, {self.centre_y.text()}")
        return f"camera path ({self.mode}): " + "; ".join(parts)

    def parameters(self, frame_ids: Sequence[int]) -> list[dict[str, float]]:
        """The camera at each frame: pan_x, pan_y, zoom, roll (from frame 0) and centre_x/_y."""
        ids = _check_ids(frame_ids)
        table = self._checked_values(max(ids, default=0) + 1)
        return [{k: col[i] for k, col in table.items()} for i in ids]

    def inverse_maps(self, frame_ids: Sequence[int], height: int, width: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per frame, the inverse map (n, 3, 3) and its centre (n, 2), in 512-grid units.

        ``height``/``width`` are the frame's (or latent's) size; only their ratio is used.
        """
        ids = _check_ids(frame_ids)
        table = self._checked_values(max(ids, default=0) + 1)
        maps = torch.eye(3, dtype=torch.float64).repeat(len(ids), 1, 1)
        centres = torch.empty((len(ids), 2), dtype=torch.float64)
        aspect = height / width  # grid y units per grid x unit, in real pixels
        for row, k in enumerate(ids):
            cos, sin = _cos_sin(table["roll"][k])
            z = table["zoom"][k]
            # R in real pixels, seen in grid units: S⁻¹ R S with S = diag(width, height) / 512
            maps[row, 0, 0] = cos / z
            maps[row, 0, 1] = -sin * aspect / z
            maps[row, 1, 0] = sin / aspect / z
            maps[row, 1, 1] = cos / z
            maps[row, 0, 2] = table["pan_x"][k]
            maps[row, 1, 2] = table["pan_y"][k]
            centres[row, 0] = table["centre_x"][k] * motion.FLOW_GRID
            centres[row, 1] = table["centre_y"][k] * motion.FLOW_GRID
        return maps, centres

    def warp(self, latents: torch.Tensor, frame_ids: Sequence[int]) -> torch.Tensor:
        """Move latent i (N, C, h, w) as frame frame_ids[i] of this path (frame 0: unmoved).

        For a translation this is bit-identical to ``motion.warp_latents`` and the reference.
        """
        if latents.ndim != 4:
            raise ValueError(f"the warp expects latents (frames, channels, height, width), "
                             f"got {tuple(latents.shape)}")
        if latents.shape[0] != len(frame_ids):
            raise ValueError(f"{latents.shape[0]} latents but {len(frame_ids)} frame ids")
        maps, centres = self.inverse_maps(frame_ids, latents.shape[-2], latents.shape[-1])
        return motion.warp_with_maps(latents, maps, centres)

    # -- per-frame values -----------------------------------------------------------------

    def _checked_values(self, count: int) -> dict[str, list[float]]:
        """``_values``, or a ScheduleError when the zoom of one of the frames 0 … count−1 is
        beyond ZOOM_LIMIT either way (a zoom that keeps compounding over a long video)."""
        cols = self._values(count)
        logs = self._table["log_zoom"][:count]
        worst = next((k for k, v in enumerate(logs) if abs(v) > LOG_ZOOM_LIMIT), None)
        if worst is not None:
            way = "closer" if logs[worst] > 0 else "further"
            raise ScheduleError(
                f"zoom: by frame {worst} the camera is more than {ZOOM_LIMIT:g} times {way} than at frame 0 "
                f"(zoom {self.zoom.text()}, mode {self.mode}, {count} frames); the picture would be "
                f"{'a few pixels blown up' if way == 'closer' else 'a dot'}. Use a zoom nearer 1, fewer frames, "
                f"keyframes that bring it back, or mode 'absolute'")
        return cols

    def _values(self, count: int) -> dict[str, list[float]]:
        """Columns of per-frame values for frames 0 … count−1 (cached; paths are immutable)."""
        cached = self._table.get("columns")
        if cached is not None and len(cached["pan_x"]) >= count:
            return cached
        # grow geometrically: a long video warped chunk by chunk asks for ever later frames
        count = max(count, 2 * len(cached["pan_x"]) if cached is not None else 1)
        cols: dict[str, list[float]] = {}
        for name in ("pan_x", "pan_y", "roll"):
            values = getattr(self, name).values(count)
            if self.mode == "accumulated":
                cols[name] = _running_sum([0.0] + values[1:])
            else:
                cols[name] = [v - values[0] for v in values]
        zooms = self.zoom.values(count)
        if self.mode == "accumulated":
            logs = _running_sum([0.0] + [math.log(z) for z in zooms[1:]])
        else:
            logs = [math.log(z) - math.log(zooms[0]) for z in zooms]
        self._table["log_zoom"] = logs
        cols["zoom"] = [math.exp(min(max(v, -LOG_ZOOM_LIMIT), LOG_ZOOM_LIMIT)) for v in logs]
        cols["centre_x"] = self.centre_x.values(count)
        cols["centre_y"] = self.centre_y.values(count)
        self._table["columns"] = cols
        return cols


def _check_ids(frame_ids: Sequence[int]) -> list[int]:
    ids = [int(k) for k in frame_ids]
    if any(k < 0 for k in ids):
        raise ValueError(f"frame ids must be 0 or more, got {min(ids)}")
    return ids


def _running_sum(values: list[float]) -> list[float]:
    """Running sums, each correctly rounded (as math.fsum), so n equal steps give exactly n·step."""
    partials: list[float] = []
    out = []
    for x in values:
        i = 0
        for y in partials:  # Shewchuk's exact partials, as in math.fsum
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]
        out.append(math.fsum(partials))
    return out


def _cos_sin(degrees: float) -> tuple[float, float]:
    """cos and sin of an angle in degrees, exact at multiples of 90°."""
    if degrees % 90 == 0:
        return ((1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0))[int(degrees // 90) % 4]
    rad = math.radians(degrees)
    return math.cos(rad), math.sin(rad)
