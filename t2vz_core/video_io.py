"""Video files: ffmpeg discovery and reading videos into frames (writing: video_write.py).

ffmpeg is found once: the ``T2VZ_FFMPEG`` environment variable (a path to an ffmpeg
binary) wins, then imageio-ffmpeg's bundled binary. It is always called with an
argument list (no shell), and its stderr goes into the error we raise.

Reading: ``probe_video`` makes one demux pass (no decoding) that gives the size, the sample
aspect ratio, the rotation and every frame's presentation time; ``video_select`` then decides
which frames and what size (and refuses outputs beyond the memory budget) before
``read_video`` decodes up to the last selected frame, resizing as frames arrive.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import subprocess
import tempfile

import numpy as np
import torch

from .video_select import (DEFAULTS, LOAD_VIDEO_OPTIONS, SIZE_MULTIPLE, Selection, Timeline, VideoIOError,  # noqa: F401
                           check_budget, check_options, check_value, select_frames, target_size)

logger = logging.getLogger(__name__)

ENV_FFMPEG = "T2VZ_FFMPEG"


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    forced = os.environ.get(ENV_FFMPEG)
    if forced:
        if not (os.path.isfile(forced) and os.access(forced, os.X_OK)):
            raise VideoIOError(f"{ENV_FFMPEG}={forced!r} is not an executable file")
        return forced
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as e:
        raise VideoIOError(f"no ffmpeg found: install imageio-ffmpeg (pip install imageio-ffmpeg) "
                           f"or set {ENV_FFMPEG} to an ffmpeg binary ({e})") from e


def to_uint8_frames(images) -> np.ndarray:
    """ComfyUI IMAGE (N, H, W, C) floats in [0, 1] → (N, H, W, 3) uint8 RGB."""
    arr = images.detach().cpu().float().numpy() if hasattr(images, "detach") else np.asarray(images)
    if arr.ndim != 4 or arr.shape[0] == 0:
        raise VideoIOError(f"expected a batch of images (frames, height, width, channels), got shape {arr.shape}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    arr = arr[..., :3]
    return (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


# -- reading ---------------------------------------------------------------------------------

VIDEO_EXTENSIONS = ("mp4", "webm", "mov", "mkv", "avi", "gif", "m4v")


def list_videos(folder: str) -> list[str]:
    """Names of the video files directly inside ``folder`` (by extension), sorted."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if not n.startswith(".") and os.path.isfile(os.path.join(folder, n))
                  and n.rsplit(".", 1)[-1].lower() in VIDEO_EXTENSIONS)


def resolve_in_folder(name: str, folder: str, what: str = "video") -> str:
    """Real path of ``name`` inside ``folder``; refuses anything that resolves outside it
    (``..``, absolute paths, symlinks pointing out) and files that are not there."""
    if not name or not str(name).strip():
        raise VideoIOError(f"{what}: no file chosen; upload a video with the node's upload button "
                           f"or copy one into ComfyUI's input folder and pick it")
    base = os.path.realpath(folder)
    if os.path.isabs(name) or os.path.splitdrive(name)[0]:
        raise VideoIOError(f"{what} '{name}' is an absolute path; only files inside ComfyUI's input folder "
                           f"can be loaded: upload the video (or copy it into that folder) and pick it by name")
    path = os.path.realpath(os.path.join(base, name))
    if os.path.commonpath([base, path]) != base:
        raise VideoIOError(f"{what} '{name}' points outside ComfyUI's input folder; "
                           f"upload the video (or copy it there) and pick it by name")
    if not os.path.exists(path):
        raise VideoIOError(f"{what} '{name}' was not found in ComfyUI's input folder; "
                           f"upload it with the node's upload button or copy it there")
    if not os.path.isfile(path):
        raise VideoIOError(f"{what} '{name}' is a folder, not a video file; pick a video file")
    return path


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    width: int          # as decoded (after the container's rotation is applied)
    height: int
    fps: float          # the container's rate; frames / duration for a variable frame rate
    frame_count: int
    duration: float | None  # the container's, in seconds (None when it has none)
    sar: float = 1.0    # sample (pixel) aspect ratio of the decoded frames: a player shows them sar times wider
    timeline: Timeline | None = None  # when each frame is shown (Timeline.constant(frame_count, fps) if None)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as a player shows the frames: non-square pixels widen (or narrow) them."""
        if abs(self.sar - 1.0) < 1e-3:
            return self.width, self.height
        return max(1, int(round(self.width * self.sar))), self.height

    def frames(self) -> Timeline:
        return self.timeline or Timeline.constant(self.frame_count, self.fps)


@dataclasses.dataclass(frozen=True)
class Video:
    images: torch.Tensor  # (N, H, W, 3) float32 in [0, 1]
    fps: float
    source: VideoInfo


def resize_images(images: torch.Tensor, width: int, height: int, batch: int = 16) -> torch.Tensor:
    """(N, H, W, C) -> (N, height, width, C): bilinear with antialiasing, as prepare_video's
    torchvision Resize(BILINEAR, antialias=True)."""
    if images.shape[1:3] == (height, width):
        return images
    out = [torch.nn.functional.interpolate(images[i:i + batch].movedim(-1, 1), size=(height, width),
                                           mode="bilinear", align_corners=False, antialias=True).movedim(1, -1)
           for i in range(0, images.shape[0], batch)]
    return torch.cat(out).clamp_(0.0, 1.0)


_SIGNATURES = ((4, b"ftyp", "an MP4/MOV"), (0, b"\x1a\x45\xdf\xa3", "a WebM/MKV"), (0, b"GIF8", "a GIF"),
               (0, b"RIFF", "an AVI"))


def _looks_like(path: str) -> str | None:
    with open(path, "rb") as f:
        head = f.read(16)
    for offset, magic, kind in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return kind
    return None


def _tail(text: str, limit: int = 800, errors_only: bool = False) -> str:
    """ffmpeg's stderr on one line, without its memory addresses (errors_only: its log lines only)."""
    lines = [re.sub(r" @ 0x[0-9a-f]+", "", ln.strip()) for ln in text.splitlines() if ln.strip()]
    if errors_only:
        lines = [ln for ln in lines if ln.startswith("[") and not ln.startswith("[out#")]
    return " | ".join(lines)[-limit:]


def _unreadable(path: str, name: str, detail: str) -> VideoIOError:
    kind = _looks_like(path)
    why = (f"it starts like {kind} file but is truncated or corrupt" if kind
           else "its content is not a video format ffmpeg knows (a renamed file?)")
    return VideoIOError(f"video '{name}' is not a readable video: {why}; ffmpeg: {detail}")


def _rate(text: str, unit: str) -> float | None:
    m = re.search(r"([\d.]+)(k?) " + unit + r"\b", text)
    return float(m.group(1)) * (1000 if m.group(2) else 1) if m else None


_NOPTS = -(2 ** 63)  # how framecrc writes a missing timestamp
_STILL_IMAGE_FORMATS = re.compile(r"^(image2|\w+_pipe)$")  # ffmpeg's demuxers for single pictures


def _scrub(text: str, path: str, name: str) -> str:
    """ffmpeg's words with the file's real path replaced by the name the user gave: a client
    need not learn the server's folders."""
    return text.replace(path, name).replace(os.path.realpath(path), name)


def _timeline(crc: str, fps: float) -> Timeline | None:
    """The frames' presentation times from ffmpeg's framecrc listing (one line per packet:
    stream, dts, pts, duration, size, checksum); None when a timestamp is missing (then the
    container's rate stands)."""
    tb = re.search(r"^#tb 0: (\d+)/(\d+)", crc, re.MULTILINE)
    pts, last = [], (None, 0)
    for line in crc.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split(",")
        if len(fields) < 5:
            return None
        p, d = int(fields[2]), int(fields[3])
        if p == _NOPTS:
            return None
        pts.append(p)
        if last[0] is None or p > last[0]:
            last = (p, d)
    if not tb or not pts or int(tb.group(2)) == 0:
        return None
    return Timeline.from_pts(pts, last[1], int(tb.group(1)) / int(tb.group(2)), fps)


def probe_video(path: str, name: str | None = None) -> VideoInfo:
    """Size, sample aspect ratio, fps, exact frame count and every frame's presentation time of the
    first video stream: one ffmpeg pass that copies packets to the framecrc muxer (demuxing only,
    no decoding; one line per packet)."""
    name = name or os.path.basename(path)
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path, "-map", "0:v:0",
                           "-c", "copy", "-f", "framecrc", "-"], capture_output=True, check=False)
    err = _scrub(proc.stderr.decode("utf-8", "replace"), path, name)
    if proc.returncode != 0:
        if "matches no streams" in err:
            raise VideoIOError(f"video '{name}' has no video stream (audio only?); pick a video file")
        raise _unreadable(path, name, _tail(err))
    header, _, rest = err.partition("Stream mapping:")
    demuxer = re.search(r"^Input #0, ([\w,]+), from", header, re.MULTILINE)
    if demuxer and _STILL_IMAGE_FORMATS.match(demuxer.group(1)):
        kind = demuxer.group(1).removesuffix("_pipe")
        raise VideoIOError(f"video '{name}' is a still picture ({kind}), not a video; load pictures with "
                           f"core's Load Image node, or pick a video file")
    stream = re.search(r"Stream #0:\d+.*?: Video: (.*)", header)
    size = stream and re.search(r", (\d+)x(\d+)(?=[\s,\[]|$)", stream.group(1))
    if not size:
        raise _unreadable(path, name, "no video size in its header: " + _tail(header))
    width, height = int(size.group(1)), int(size.group(2))
    fps = _rate(stream.group(1), "fps") or _rate(stream.group(1), "tbr")
    if not fps:
        raise VideoIOError(f"video '{name}' has no frame rate ffmpeg can read: {_tail(header)}")
    if fps != int(fps) and abs(fps * 1.001 - round(fps * 1.001)) < 0.01:
        fps = round(fps * 1.001) / 1.001  # ffmpeg prints 29.97 for 30000/1001
    sar_m = re.search(r"\[SAR (\d+):(\d+) DAR", stream.group(1))
    sar = int(sar_m.group(1)) / int(sar_m.group(2)) if sar_m and int(sar_m.group(1)) and int(sar_m.group(2)) else 1.0
    rot = re.search(r"display ?matrix: rotation of (-?[\d.]+)", header, re.IGNORECASE) \
        or re.search(r"^\s*rotate\s*:\s*(-?\d+)", header, re.MULTILINE)
    if rot and round(abs(float(rot.group(1)))) % 180 == 90:
        width, height = height, width  # ffmpeg applies the rotation when decoding
        sar = 1.0 / sar  # the pixels turn with the picture
    if re.search(r"partial file|corrupt input packet|Packet corrupt|Invalid data found", rest):
        raise _unreadable(path, name, _tail(rest, errors_only=True))
    crc = proc.stdout.decode("ascii", "replace")
    frame_count = sum(1 for ln in crc.splitlines() if ln.strip() and not ln.startswith("#"))
    if frame_count < 1:
        raise VideoIOError(f"video '{name}' contains no video frames")
    timeline = _timeline(crc, fps) or Timeline.constant(frame_count, fps)
    dur = re.search(r"Duration: (\d+):(\d+):([\d.]+)", header)
    duration = int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)) if dur else None
    if timeline.variable:
        fps = timeline.fps
        logger.info("%s has a variable frame rate (%d frames in %.4g s): frames are picked by their timestamps",
                    name, frame_count, timeline.duration)
    return VideoInfo(width, height, fps, frame_count, duration, sar, timeline)


def decode_frames(path: str, info: VideoInfo, indices: list[int], name: str | None = None) -> np.ndarray:
    """(len(indices), H, W, 3) uint8 RGB of the source frames at ``indices`` (non-decreasing).
    Decodes from the start up to the last index only; other frames are not kept."""
    out = np.empty((len(indices), info.height, info.width, 3), dtype=np.uint8)

    def keep(pos: int, frame: np.ndarray) -> None:
        out[pos] = frame

    decode_each(path, info, indices, keep, name)
    return out


def decode_each(path: str, info: VideoInfo, indices: list[int], sink, name: str | None = None,
                only_selected: bool = False) -> None:
    """Call ``sink(position, frame)`` for each of ``indices`` (non-decreasing source frame
    indices) in order, ``frame`` being an (H, W, 3) uint8 RGB array valid during the call only.
    Decodes from the start up to the last index; nothing else is kept in memory.
    ``only_selected``: ffmpeg converts and sends only the selected frames (a ``select``
    filter; for a few indices: its expression grows with their number).

    Every decoded frame comes out exactly once ("passthrough"): by default ffmpeg duplicates and
    drops frames of variable-frame-rate videos to a constant rate. The option is -fps_mode since
    ffmpeg 5.1; -vsync, used before it, is gone from recent versions."""
    name = name or os.path.basename(path)
    run = functools.partial(_decode, path, info, indices, sink=sink, only_selected=only_selected)
    complete, decoded, surplus, returncode, err = run(("-fps_mode", "passthrough"))
    if not complete and decoded == 0 and "Unrecognized option 'fps_mode'" in err:  # ffmpeg < 5.1
        complete, decoded, surplus, returncode, err = run(("-vsync", "passthrough"))
    err = _scrub(err, path, name)
    if not complete:
        needed = len(set(indices)) if only_selected else indices[-1] + 1
        raise _unreadable(path, name, f"decoded only {decoded} of the {needed} frames needed (its header says "
                                      f"{info.frame_count}) (exit {returncode}): {_tail(err) or 'no error message'}")
    if surplus:
        raise VideoIOError(f"video '{name}': ffmpeg's frames are not {info.width}x{info.height} as its header "
                           f"says; re-encode the video (e.g. ffmpeg -i in.mp4 out.mp4)")
    if err.strip():
        logger.warning("ffmpeg reported problems decoding %s: %s", name, _tail(err))


def _decode(path: str, info: VideoInfo, indices: list[int], passthrough: tuple[str, str], *, sink,
            only_selected: bool):
    """(whether every index was reached; frames received; whether ffmpeg sent more bytes than
    expected of frames of the probed size; exit code; stderr)."""
    w, h = info.width, info.height
    frame_bytes = w * h * 3
    if only_selected:
        source_ids = sorted(set(indices))  # the k-th frame out is source frame source_ids[k]
        expr = "+".join(f"eq(n,{i})" for i in source_ids)
        select = ["-vf", f"select='{expr}'"]
    else:
        source_ids = range(indices[-1] + 1)
        select = []
    expected = len(source_ids)
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", path, "-map", "0:v:0",
            *passthrough, *select, "-frames:v", str(expected), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    pos = received = 0
    surplus = False
    with tempfile.TemporaryFile() as errf:  # a file, not a pipe: a chatty ffmpeg cannot block
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errf, stdin=subprocess.DEVNULL)
        try:
            while received < expected:
                buf = proc.stdout.read(frame_bytes)
                if len(buf) < frame_bytes:
                    break
                source_id = source_ids[received]
                while pos < len(indices) and indices[pos] == source_id:
                    sink(pos, np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3))
                    pos += 1
                received += 1
            surplus = received == expected and bool(proc.stdout.read(1))  # -frames:v stops there
        finally:
            proc.stdout.close()
            returncode = proc.wait()
        errf.seek(0)
        err = errf.read().decode("utf-8", "replace").replace(path, os.path.basename(path))
    return pos == len(indices), received, surplus, returncode, err


def read_video(path: str, *, name: str | None = None, **options) -> Video:
    """The selected frames of a video file as a ComfyUI IMAGE batch, and their fps. ``options``:
    Load Video's (``LOAD_VIDEO_OPTIONS``); missing ones take their defaults, except resolution:
    0, the displayed size. The output's size
    in memory is checked before anything is decoded; frames are resized as they arrive, so the
    source frames are never all held at once."""
    name = name or os.path.basename(path)
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"read_video() got unknown option(s) {', '.join(unknown)}")
    opts = {**DEFAULTS, "resolution": 0, **options}
    problem = check_options(**opts)
    if problem:
        raise VideoIOError(problem.message)
    info, sel, (width, height) = plan_video(path, name, opts)
    indices = sel.indices
    out = torch.empty((len(indices), height, width, 3), dtype=torch.float32)
    batch = max(1, min(16, (64 << 20) // (info.width * info.height * 3 * 4)))  # ~64 MB of source floats
    pending: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        frames = torch.from_numpy(np.stack([f for _, f in pending])).float().div_(255.0)
        frames = resize_images(frames, width, height)
        for j, (pos, _) in enumerate(pending):
            out[pos] = frames[j]
        pending.clear()

    def keep(pos: int, frame: np.ndarray) -> None:
        if pos and indices[pos] == indices[pos - 1]:
            if pending and pending[-1][0] == pos - 1:
                flush()
            out[pos] = out[pos - 1]  # output_fps above the video's: the same frame again
            return
        pending.append((pos, frame.copy()))
        if len(pending) >= batch:
            flush()

    decode_each(path, info, indices, keep, name)
    if pending:
        flush()
    if width % SIZE_MULTIPLE or height % SIZE_MULTIPLE:
        logger.warning("%s loads as %dx%d, not a multiple of %d, which the samplers need: set a resolution",
                       name, width, height, SIZE_MULTIPLE)
    repeats = sel.repeats()
    logger.info("loaded %d frames of %s (%dx%d -> %dx%d, %.4g fps%s)", len(indices), name, info.width,
                info.height, width, height, sel.fps, f", {repeats} of them repeats" if repeats else "")
    return Video(images=out, fps=sel.fps, source=info)


def plan_video(path: str, name: str, options: dict) -> tuple[VideoInfo, Selection, tuple[int, int]]:
    """Probe ``path`` and decide what Load Video outputs with ``options`` (all of them, checked):
    the source's info, the selection and the output (width, height). Refuses an output beyond
    the memory budget (the numbers in the message) before anything is decoded."""
    info = probe_video(path, name)
    sel = select_frames(info.frames(), name=f"video '{name}'",
                        **{k: v for k, v in options.items() if k != "resolution"})
    width, height = target_size(*info.display_size, options["resolution"])
    check_budget(sel, width, height, info.fps, f"video '{name}'", options["output_fps"])
    return info, sel, (width, height)
