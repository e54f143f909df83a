"""What the editor's camera-path view draws (web/js/camera_path_view.js, via nodes/routes.py).

The view is computed here from ``CameraPath`` itself, so the editor never re-implements the
schedule grammar: one request gives, per frame, the camera's values (``CameraPath.parameters``)
and the frame's outline as the camera sees it, in frame 0's picture. Output pixel p of frame k
shows frame 0's point A(p − c) + c + b (the inverse map of ``CameraPath.inverse_maps``), so
the outline is the frame's four corners (and its middle) sent through that map. Coordinates
are fractions of the frame: (0, 0) is frame 0's top-left corner, (1, 1) its bottom-right.
"""
from __future__ import annotations

import math

import torch

from . import motion
from .camera import CameraPath
from .problem import UserError
from .request import RANGES

MAX_FRAMES = int(RANGES["video_length"][1])  # the samplers' limits
MAX_SIDE = int(RANGES["width"][1])
SCHEDULES = ("pan_x", "pan_y", "zoom", "roll")
OPTIONS = SCHEDULES + ("centre_x", "centre_y", "mode", "frames", "width", "height")
_DEFAULTS = {"pan_x": "0", "pan_y": "0", "zoom": "1", "roll": "0"}
_CORNERS = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


class ViewError(UserError):
    """A request the view cannot draw; the message names the option and what is allowed."""


def parse_query(query: dict[str, str]) -> tuple[CameraPath, int, int, int]:
    """(path, frames, width, height) from the route's query; the node's defaults fill gaps.

    Schedule errors are ``ScheduleError``s naming the input and the character position;
    anything else wrong is a ``ViewError`` naming the option.
    """
    unknown = sorted(set(query) - set(OPTIONS))
    if unknown:
        raise ViewError(f"unknown option(s) {', '.join(unknown)}; allowed: {', '.join(OPTIONS)}")
    frames = _whole(query, "frames", 24, 1, MAX_FRAMES)
    width = _whole(query, "width", 0, 0, MAX_SIDE)
    height = _whole(query, "height", 0, 0, MAX_SIDE)
    centre = {name: _centre(query, name) for name in ("centre_x", "centre_y")}
    mode = query.get("mode") or "accumulated"  # CameraPath refuses an unknown one, naming the input
    # a schedule left out is the node's default; one given empty is the node's error
    schedules = {name: query.get(name, default) for name, default in _DEFAULTS.items()}
    path = CameraPath.from_schedules(**schedules, **centre, mode=mode)
    return path, frames, width, height


def view(path: CameraPath, frames: int, width: int = 0, height: int = 0) -> dict:
    """Per-frame values and outlines for frames 0 … frames−1, and a one-line summary.

    ``width``/``height`` (0 = a square frame) only set the aspect that roll turns in.
    """
    if width <= 0 or height <= 0:
        width = height = motion.FLOW_GRID
    ids = list(range(frames))
    params = path.parameters(ids)  # a zoom compounding past camera.ZOOM_LIMIT: ScheduleError
    maps, centres = path.inverse_maps(ids, height, width)
    grid = float(motion.FLOW_GRID)
    pts = torch.tensor(_CORNERS + ((0.5, 0.5),), dtype=torch.float64) * grid     # (5, 2)
    a, b = maps[:, :2, :2], maps[:, :2, 2]                                        # (n, 2, 2), (n, 2)
    seen = torch.einsum("nij,npj->npi", a, pts[None] - centres[:, None]) + centres[:, None] + b[:, None]
    seen = (seen / grid).tolist()
    outlines = [{"corners": [[_round(x), _round(y)] for x, y in frame[:4]],
                 "middle": [_round(frame[4][0]), _round(frame[4][1])]} for frame in seen]
    flat = [v for o in outlines for xy in o["corners"] for v in xy]
    if not all(math.isfinite(v) for v in flat):
        raise ViewError("the camera leaves any drawable range within these frames; use smaller steps")
    return {
        "frames": frames,
        "width": width,
        "height": height,
        "mode": path.mode,
        "parameters": params,
        "outlines": outlines,
        "summary": summary(params),
    }


def summary(params: list[dict[str, float]]) -> str:
    """'24 frames: pan x 0→96 px, zoom 1→1.27, roll 0→10°' (first → last frame, and the
    extreme when the path goes further in between)."""
    n = len(params)
    head = f"{n} frame{'s' if n != 1 else ''}"
    parts = []
    for key, name, unit in (("pan_x", "pan x", " px"), ("pan_y", "pan y", " px"), ("zoom", "zoom", ""),
                            ("roll", "roll", "°")):
        col = [p[key] for p in params]
        if all(_same(v, col[0]) for v in col):
            continue
        text = f"{name} {_fmt(col[0])}→{_fmt(col[-1])}{unit}"
        lo, hi = min(col), max(col)
        peak = hi if not (_same(hi, col[0]) or _same(hi, col[-1])) and hi > max(col[0], col[-1]) else None
        if peak is None and lo < min(col[0], col[-1]) and not (_same(lo, col[0]) or _same(lo, col[-1])):
            peak = lo
        if peak is not None:
            text += f" (reaches {_fmt(peak)}{unit})"
        parts.append(text)
    return f"{head}: " + (", ".join(parts) if parts else "camera still")


def _whole(query: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise ViewError(f"{name} ({text!r}) must be a whole number from {lo} to {hi}") from None
    if not math.isfinite(value) or value != int(value) or not lo <= value <= hi:
        raise ViewError(f"{name} ({text!r}) must be a whole number from {lo} to {hi}")
    return int(value)


def _centre(query: dict[str, str], name: str) -> float:
    text = query.get(name)
    if text is None or text == "":
        return 0.5
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ViewError(f"{name} ({text!r}) must be a number from 0 (one edge) to 1 (the other edge); "
                        f"0.5 is the middle")
    return value


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _round(v: float) -> float:
    return round(v, 9)


def _fmt(v: float) -> str:
    text = f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return "0" if text in ("-0", "0.0", "-0.0") else text
