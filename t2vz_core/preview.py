"""Previews for the graph editor: what a Load Video node will feed in, as a small mp4.

The preview is made by the same ``read_video`` call the node's ``execute`` makes, so the
frames, their count, size and fps are exactly the node's output. Files go to ComfyUI's
temp folder (emptied at every server start), named by a hash of the file's identity and
the options, so moving a slider back to an earlier value reuses the earlier preview.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile

import numpy as np

from . import video_io

PREVIEW_SUBFOLDER = "t2vz_preview"

# Load Video's options: name -> (type, default). Query strings carry them as text.
LOAD_VIDEO_OPTIONS: dict[str, tuple[type, float]] = {
    "frame_load_cap": (int, 0),
    "skip_first_frames": (int, 0),
    "select_every_nth": (int, 1),
    "resolution": (int, 512),
    "output_fps": (float, 0.0),
    "start_time": (float, 0.0),
    "end_time": (float, 0.0),
}


class PreviewError(ValueError):
    """Bad request: the message names the input and what is allowed."""


def parse_options(query: dict[str, str]) -> dict:
    """Typed Load Video options from a query string; unknown keys are refused."""
    unknown = sorted(set(query) - set(LOAD_VIDEO_OPTIONS) - {"video"})
    if unknown:
        raise PreviewError(f"unknown option(s) {', '.join(unknown)}; allowed: video, "
                           f"{', '.join(LOAD_VIDEO_OPTIONS)}")
    opts = {}
    for name, (kind, default) in LOAD_VIDEO_OPTIONS.items():
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


def load_video_preview(video: str, options: dict, input_dir: str, temp_dir: str) -> dict:
    """Make (or reuse) the preview of what Load Video outputs for ``video`` and ``options``.

    Returns the file entry for ComfyUI's /view (type "temp") and what the node will output:
    frame_count, width, height, fps; plus the source video's size, fps and frame count.
    """
    path = video_io.resolve_in_folder(video, input_dir)
    st = os.stat(path)
    key = json.dumps([video, st.st_mtime_ns, st.st_size, sorted(options.items())])
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    folder = os.path.join(temp_dir, PREVIEW_SUBFOLDER)
    os.makedirs(folder, exist_ok=True)
    name = f"{digest}.mp4"
    meta_path = os.path.join(folder, f"{digest}.json")
    if os.path.exists(meta_path) and os.path.exists(os.path.join(folder, name)):
        with open(meta_path, encoding="utf-8") as f:
            return json.load(f)
    out = video_io.read_video(path, name=video, **options)
    frames = video_io.to_uint8_frames(out.images)
    write_mp4(os.path.join(folder, name), frames, out.fps)
    n, h, w, _ = frames.shape
    meta = {
        "filename": name, "subfolder": PREVIEW_SUBFOLDER, "type": "temp", "format": "video/mp4",
        "frame_count": int(n), "width": int(w), "height": int(h), "fps": float(out.fps),
        "source": {"width": out.source.width, "height": out.source.height, "fps": out.source.fps,
                   "frame_count": out.source.frame_count},
    }
    with open(meta_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(meta, f)
    os.replace(meta_path + ".tmp", meta_path)
    return meta
