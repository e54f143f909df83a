"""Previews for the graph editor: what a Load Video node will feed in, as a small mp4.

The frames are picked and resized by the same code as the node's ``execute`` (``plan_video``:
probe, ``select_frames``, ``target_size``, ``check_budget``; then ``resize_images``), so the
count, size, fps, pixels and refusals are the node's. The work is bounded whatever the video: the count, size and fps come
from probing alone; only the first ``PREVIEW_MAX_FRAMES`` selected frames are converted
(ffmpeg's ``select``), resized one at a time and streamed to the encoder (never the whole
clip in memory); a selection that starts more than ``PREVIEW_MAX_DECODE`` frames into the
video gets its numbers but no pictures (ffmpeg would have to decode everything before it);
a preview larger than ``PREVIEW_MAX_SIDE`` is shown scaled down; and only the newest
``PREVIEW_KEEP`` previews (by last use) are kept. Callers make one at a time. Files go
to ComfyUI's temp folder (emptied at every server start), named by a hash of the file's
identity and the options, so going back to earlier settings reuses the earlier preview.
"""
from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import tempfile
import threading

import numpy as np
import torch

from . import video_io, video_write

PREVIEW_SUBFOLDER = "t2vz_preview"
PREVIEW_MAX_FRAMES = 120
PREVIEW_MAX_SIDE = 1024
PREVIEW_KEEP = 100
PREVIEW_MAX_DECODE = 5000  # source frames ffmpeg may decode for one preview (~3 min at 30 fps)

_one_at_a_time = threading.Lock()


class PreviewError(ValueError):
    """Bad request: the message names the input and what is allowed."""


def parse_options(query: dict[str, str]) -> dict:
    """Typed Load Video options from a query string (``LOAD_VIDEO_OPTIONS``: names, types, ranges;
    missing ones take the node's defaults); unknown keys are refused."""
    unknown = sorted(set(query) - set(video_io.DEFAULTS) - {"video"})
    if unknown:
        raise PreviewError(f"unknown option(s) {', '.join(unknown)}; allowed: video, "
                           f"{', '.join(video_io.DEFAULTS)}")
    opts = {}
    for opt in video_io.LOAD_VIDEO_OPTIONS:
        text = query.get(opt.name)
        if text is None or text == "":
            opts[opt.name] = opt.default
            continue
        try:
            value = float(text)
        except ValueError:
            raise PreviewError(f"{opt.name} ({text!r}) must be a number") from None
        if opt.kind is int:
            if not math.isfinite(value) or value != int(value):
                raise PreviewError(f"{opt.name} ({text!r}) must be a whole number")
            value = int(value)
        msg = video_io.check_value(opt.name, value, text)
        if msg:
            raise PreviewError(msg)
        opts[opt.name] = value
    problem = video_io.check_options(**opts)
    if problem:
        raise PreviewError(problem.message)
    return opts


def notes(width: int, height: int, sel: video_io.Selection, source_fps: float) -> list[str]:
    """What a user should know about this output beyond its numbers."""
    out = []
    repeats = sel.repeats()
    if repeats:
        out.append(f"{repeats} repeated frames (output_fps above the video's {source_fps:.4g} fps)")
    if width % video_io.SIZE_MULTIPLE or height % video_io.SIZE_MULTIPLE:
        out.append(f"{width}×{height} is not a multiple of {video_io.SIZE_MULTIPLE}, which the samplers need: "
                   f"set a resolution")
    return out


def _display_size(width: int, height: int) -> tuple[int, int]:
    k = min(1.0, PREVIEW_MAX_SIDE / max(width, height))
    return max(2, int(round(width * k / 2)) * 2), max(2, int(round(height * k / 2)) * 2)


def _prune(folder: str) -> None:
    """Keep the newest PREVIEW_KEEP previews."""
    metas = sorted(glob.glob(os.path.join(folder, "*.json")), key=os.path.getmtime, reverse=True)
    for meta in metas[PREVIEW_KEEP:]:
        for path in (meta, meta[:-len(".json")] + ".mp4"):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _cache_paths(video: str, options: dict, input_dir: str, temp_dir: str) -> tuple[str, str, str]:
    """(source path, mp4 path, metadata path) of this preview."""
    path = video_io.resolve_in_folder(video, input_dir)
    st = os.stat(path)
    key = json.dumps([video, st.st_mtime_ns, st.st_size, sorted(options.items())])
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    folder = os.path.join(temp_dir, PREVIEW_SUBFOLDER)
    return path, os.path.join(folder, f"{digest}.mp4"), os.path.join(folder, f"{digest}.json")


def cached_preview(video: str, options: dict, input_dir: str, temp_dir: str) -> dict | None:
    """The stored preview for these settings, marked as just used; None if there is none."""
    _, mp4, meta_path = _cache_paths(video, options, input_dir, temp_dir)
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("shown_frames") and not os.path.exists(mp4):
            return None
        os.utime(meta_path)  # pruning goes by last use
        return meta
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def load_video_preview(video: str, options: dict, input_dir: str, temp_dir: str) -> dict:
    """Make (or reuse) the preview of what Load Video outputs for ``video`` and ``options``.

    Returns what the node will output (frame_count, width, height, fps), shown_frames (the
    preview's first frames: at most PREVIEW_MAX_FRAMES, 0 when the selection starts too far
    into the video to preview), the source video's size, fps and frame count, and, when
    there are pictures, the mp4's entry for ComfyUI's /view (filename, subfolder, type "temp").
    """
    with _one_at_a_time:
        meta = cached_preview(video, options, input_dir, temp_dir)
        if meta is not None:
            return meta
        path, mp4, meta_path = _cache_paths(video, options, input_dir, temp_dir)
        folder = os.path.dirname(mp4)
        os.makedirs(folder, exist_ok=True)
        info, sel, (width, height) = video_io.plan_video(path, video, options)  # the node's own plan
        shown = sel.indices[:PREVIEW_MAX_FRAMES]
        if shown[-1] >= PREVIEW_MAX_DECODE:
            shown = []
        meta = {
            "video": video, "frame_count": sel.count, "shown_frames": len(shown),
            "width": width, "height": height, "fps": float(sel.fps), "notes": notes(width, height, sel, info.fps),
            "source": {"width": info.width, "height": info.height, "fps": info.fps,
                       "frame_count": info.frame_count, "sample_aspect_ratio": info.sar,
                       "variable_frame_rate": info.frames().variable},
        }
        if shown:
            dw, dh = _display_size(width, height)
            with video_write.mp4_writer(mp4, dw, dh, sel.fps) as out:
                def encode(pos: int, frame: np.ndarray) -> None:
                    image = torch.from_numpy(frame.copy()).float().div_(255.0)[None]
                    image = video_io.resize_images(image, width, height)  # as the node does
                    if (dw, dh) != (width, height):
                        image = video_io.resize_images(image, dw, dh)
                    out.write(video_io.to_uint8_frames(image)[0])

                video_io.decode_each(path, info, shown, encode, video, only_selected=True)
            meta.update({"filename": os.path.basename(mp4), "subfolder": PREVIEW_SUBFOLDER, "type": "temp",
                         "format": "video/mp4"})
        fd, tmp = tempfile.mkstemp(prefix=".t2vz-", suffix=".json", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(meta, f)
        os.replace(tmp, meta_path)
        _prune(folder)
        return meta
