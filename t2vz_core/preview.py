"""Previews for the graph editor: what a Load Video node will feed in, as a small mp4.

The frames are picked and resized by the same code as the node's ``execute``
(``select_frames``, ``target_size``, ``resize_images``), so the count, size, fps and pixels
are the node's output. The work is bounded whatever the video: the count, size and fps come
from probing alone, at most ``PREVIEW_MAX_FRAMES`` frames are decoded (one at a time, never
the whole video in memory), a preview larger than ``PREVIEW_MAX_SIDE`` is shown scaled down,
one preview is made at a time, and only the newest ``PREVIEW_KEEP`` files are kept. Files go
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

from . import video_io

PREVIEW_SUBFOLDER = "t2vz_preview"
PREVIEW_MAX_FRAMES = 120
PREVIEW_MAX_SIDE = 1024
PREVIEW_KEEP = 100

# Load Video's options: name -> (type, default, maximum), as the node's schema.
LOAD_VIDEO_OPTIONS: dict[str, tuple[type, float, float]] = {
    "frame_load_cap": (int, 0, 100000),
    "skip_first_frames": (int, 0, 100000),
    "select_every_nth": (int, 1, 1000),
    "resolution": (int, 512, 16384),
    "output_fps": (float, 0.0, 1000.0),
    "start_time": (float, 0.0, 1e6),
    "end_time": (float, 0.0, 1e6),
}

_one_at_a_time = threading.Lock()


class PreviewError(ValueError):
    """Bad request: the message names the input and what is allowed."""


def parse_options(query: dict[str, str]) -> dict:
    """Typed Load Video options from a query string; unknown keys are refused."""
    unknown = sorted(set(query) - set(LOAD_VIDEO_OPTIONS) - {"video"})
    if unknown:
        raise PreviewError(f"unknown option(s) {', '.join(unknown)}; allowed: video, "
                           f"{', '.join(LOAD_VIDEO_OPTIONS)}")
    opts = {}
    for name, (kind, default, maximum) in LOAD_VIDEO_OPTIONS.items():
        text = query.get(name)
        if text is None or text == "":
            opts[name] = default
            continue
        try:
            value = float(text)
        except ValueError:
            raise PreviewError(f"{name} ({text!r}) must be a number") from None
        if kind is int:
            if not math.isfinite(value) or value != int(value):
                raise PreviewError(f"{name} ({text!r}) must be a whole number")
            value = int(value)
        if value > maximum:
            raise PreviewError(f"{name} ({text}) must be at most {maximum:g}")
        opts[name] = value
    msg = video_io.check_options(opts["start_time"], opts["end_time"], opts["output_fps"],
                                 opts["skip_first_frames"], opts["select_every_nth"],
                                 opts["frame_load_cap"], opts["resolution"])
    if msg:
        raise PreviewError(msg)
    return opts


def write_mp4(path: str, frames: np.ndarray, fps: float) -> None:
    """(N, H, W, 3) uint8 frames → H.264 mp4 (yuv420p, plays in every browser), atomically."""
    n, h, w, _ = frames.shape
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".t2vz-", suffix=".mp4", dir=folder)
    os.close(fd)
    try:
        video_io.run_ffmpeg(
            ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate", f"{fps:.6g}", "-i", "pipe:0",
             "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
             "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-frames:v", str(n), "-f", "mp4", "-y", tmp],
            np.ascontiguousarray(frames).tobytes(), "write the preview")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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


def load_video_preview(video: str, options: dict, input_dir: str, temp_dir: str) -> dict:
    """Make (or reuse) the preview of what Load Video outputs for ``video`` and ``options``.

    Returns the file entry for ComfyUI's /view (type "temp") and what the node will output:
    frame_count, width, height, fps; shown_frames (the preview's first frames, at most
    PREVIEW_MAX_FRAMES); the source video's size, fps and frame count.
    """
    path = video_io.resolve_in_folder(video, input_dir)
    st = os.stat(path)
    key = json.dumps([video, st.st_mtime_ns, st.st_size, sorted(options.items())])
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    folder = os.path.join(temp_dir, PREVIEW_SUBFOLDER)
    name, meta_path = f"{digest}.mp4", os.path.join(folder, f"{digest}.json")
    with _one_at_a_time:
        if os.path.exists(meta_path) and os.path.exists(os.path.join(folder, name)):
            with open(meta_path, encoding="utf-8") as f:
                return json.load(f)
        os.makedirs(folder, exist_ok=True)
        info = video_io.probe_video(path, video)
        sel = video_io.select_frames(
            info.frame_count, info.fps, start_time=options["start_time"], end_time=options["end_time"],
            output_fps=options["output_fps"], skip_first_frames=options["skip_first_frames"],
            select_every_nth=options["select_every_nth"], frame_load_cap=options["frame_load_cap"],
            name=f"video '{video}'")
        width, height = video_io.target_size(info.width, info.height, options["resolution"])
        shown = sel.indices[:PREVIEW_MAX_FRAMES]
        dw, dh = _display_size(width, height)
        frames = np.empty((len(shown), dh, dw, 3), dtype=np.uint8)

        def keep(pos: int, frame: np.ndarray) -> None:
            image = torch.from_numpy(frame.copy()).float().div_(255.0)[None]
            image = video_io.resize_images(image, width, height)  # as the node does
            if (dw, dh) != (width, height):
                image = video_io.resize_images(image, dw, dh)
            frames[pos] = video_io.to_uint8_frames(image)[0]

        video_io.decode_each(path, info, shown, keep, video)
        write_mp4(os.path.join(folder, name), frames, sel.fps)
        meta = {
            "filename": name, "subfolder": PREVIEW_SUBFOLDER, "type": "temp", "format": "video/mp4",
            "video": video, "frame_count": len(sel.indices), "shown_frames": len(shown),
            "width": width, "height": height, "fps": float(sel.fps),
            "source": {"width": info.width, "height": info.height, "fps": info.fps,
                       "frame_count": info.frame_count},
        }
        fd, tmp = tempfile.mkstemp(prefix=".t2vz-", suffix=".json", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(meta, f)
        os.replace(tmp, meta_path)
        _prune(folder)
        return meta
