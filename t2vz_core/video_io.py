"""Video files: ffmpeg discovery and reading videos into frames (writing: video_write.py).

ffmpeg is found once: the ``T2VZ_FFMPEG`` environment variable (a path to an ffmpeg
binary) wins, then imageio-ffmpeg's bundled binary. It is always called with an
argument list (no shell), and its stderr goes into the error we raise.

Reading follows the original Text2Video-Zero's ``prepare_video`` (time window, then
resampling to a new fps by picking frames, then resizing the long side) with the frame
selection knobs of VideoHelperSuite in between:

    time window -> fps resampling -> skip_first_frames -> select_every_nth -> frame_load_cap -> resize

``select_frames`` and ``target_size`` are the pure parts; ``read_video`` probes the file
(one demux pass, no decoding), then decodes only up to the last selected frame.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import re
import subprocess
import tempfile

import numpy as np
import torch

logger = logging.getLogger(__name__)

ENV_FFMPEG = "T2VZ_FFMPEG"


class VideoIOError(RuntimeError):
    # ComfyUI reports an error's type as module + class name, and imports the pack under a
    # module name made of its install path: keep the server's file system out of the report
    __module__ = "t2vz_core.video_io"


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
SIZE_MULTIPLE = 8  # the original rounds both sides to multiples of 64; 8 is what SD latents need
_EPS = 1e-6  # so that e.g. 2.0 s * 4 fps lands on frame 8, not 7.999...


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
                           f"can be loaded: upload the video (or copy it into {base}) and pick it by name")
    path = os.path.realpath(os.path.join(base, name))
    if os.path.commonpath([base, path]) != base:
        raise VideoIOError(f"{what} '{name}' points outside ComfyUI's input folder ({base}); "
                           f"upload the video (or copy it there) and pick it by name")
    if not os.path.exists(path):
        raise VideoIOError(f"{what} '{name}' was not found in ComfyUI's input folder ({base}); "
                           f"upload it with the node's upload button or copy it there")
    if not os.path.isfile(path):
        raise VideoIOError(f"{what} '{name}' is a folder, not a video file; pick a video file")
    return path


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    width: int          # as decoded (after the container's rotation is applied)
    height: int
    fps: float
    frame_count: int
    duration: float | None  # the container's, in seconds (None when it has none)


@dataclasses.dataclass(frozen=True)
class Selection:
    indices: list[int]  # source frame indices, non-decreasing (repeats when output_fps > source fps)
    fps: float          # frames per second of the selected frames


@dataclasses.dataclass(frozen=True)
class Video:
    images: torch.Tensor  # (N, H, W, 3) float32 in [0, 1]
    fps: float
    source: VideoInfo


def check_options(start_time=None, end_time=None, output_fps=None, skip_first_frames=None,
                  select_every_nth=None, frame_load_cap=None, resolution=None) -> str | None:
    """A message a user understands for the first bad option, or None. None values are unknown
    (e.g. inputs connected to another node) and not checked."""
    for name, val in (("start_time", start_time), ("end_time", end_time), ("output_fps", output_fps),
                      ("skip_first_frames", skip_first_frames), ("frame_load_cap", frame_load_cap),
                      ("resolution", resolution)):
        if val is not None and (not math.isfinite(val) or val < 0):
            return f"{name} ({val}) must be 0 or more"
    if select_every_nth is not None and select_every_nth < 1:
        return f"select_every_nth ({select_every_nth}) must be at least 1 (1 keeps every frame)"
    if start_time is not None and end_time is not None and 0 < end_time <= start_time:
        return (f"end_time ({end_time}) must be greater than start_time ({start_time}), "
                f"or 0 to read to the end of the video")
    if resolution is not None and 0 < resolution < SIZE_MULTIPLE:
        return f"resolution ({resolution}) must be 0 (keep the size) or at least {SIZE_MULTIPLE}"
    return None


def _floor(x: float) -> int:
    return int(math.floor(x + _EPS))


def select_frames(frame_count: int, fps: float, *, start_time: float = 0.0, end_time: float = 0.0,
                  output_fps: float = 0.0, skip_first_frames: int = 0, select_every_nth: int = 1,
                  frame_load_cap: int = 0, name: str = "the video") -> Selection:
    """Which source frames to load, in order, and their fps.

    The time window and resampling are prepare_video's: frames [start_time*fps, end_time*fps)
    and, for output_fps > 0, ``int(seconds * output_fps)`` frames picked evenly from that range
    (``np.linspace(start, end, n, endpoint=False)``). Then skip / every-nth / cap, as in
    VideoHelperSuite. Raises VideoIOError, saying why, when nothing is left."""
    msg = check_options(start_time, end_time, output_fps, skip_first_frames, select_every_nth, frame_load_cap)
    if msg:
        raise VideoIOError(msg)
    if frame_count < 1 or not fps > 0:
        raise VideoIOError(f"{name} has no frames to read ({frame_count} frames at {fps} fps)")
    duration = frame_count / fps
    about = f"{name} has {frame_count} frames ({duration:.4g} s at {fps:.4g} fps)"
    if start_time >= duration - _EPS:
        raise VideoIOError(f"start_time ({start_time} s) is at or after the end of the video: {about}; "
                           f"choose a start_time below {duration:.4g}")
    end_t = duration if end_time <= 0 else min(duration, end_time)
    start_f = _floor(start_time * fps)
    end_f = frame_count if end_time <= 0 else min(frame_count, _floor(end_t * fps))
    if output_fps > 0:
        num = _floor((end_t - start_time) * output_fps)
        indices = np.linspace(start_f, end_f, num, endpoint=False).astype(int).tolist()
        rate = float(output_fps)
    else:
        indices = list(range(start_f, end_f))
        rate = float(fps)
    if not indices:
        raise VideoIOError(f"the time window {start_time}-{end_t:.4g} s"
                           + (f" at output_fps {output_fps}" if output_fps > 0 else "")
                           + f" holds no frame: {about}; widen the window"
                           + (" or raise output_fps" if output_fps > 0 else ""))
    in_window = len(indices)
    window_note = "" if in_window == frame_count else f", {in_window} of them in the time window / at output_fps"
    indices = indices[skip_first_frames:]
    if not indices:
        raise VideoIOError(f"skip_first_frames ({skip_first_frames}) skips every frame: {about}{window_note}; "
                           f"use a value below {in_window}")
    indices = indices[::select_every_nth]
    rate /= select_every_nth
    if frame_load_cap > 0:
        indices = indices[:frame_load_cap]
    return Selection(indices=indices, fps=rate)


def target_size(width: int, height: int, resolution: int, multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    """(width, height) with the long side scaled to ``resolution`` and both sides rounded to
    multiples of ``multiple`` (prepare_video's rule, which uses 64); 0 keeps the size."""
    if resolution <= 0:
        return width, height
    k = resolution / max(width, height)
    return (max(multiple, int(np.round(width * k / multiple)) * multiple),
            max(multiple, int(np.round(height * k / multiple)) * multiple))


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


def probe_video(path: str, name: str | None = None) -> VideoInfo:
    """Size, fps and exact frame count of the first video stream: one ffmpeg pass that copies
    packets to the null muxer (demuxing only, no decoding)."""
    name = name or os.path.basename(path)
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path, "-map", "0:v:0",
                           "-c", "copy", "-f", "null", "-"], capture_output=True, check=False)
    err = proc.stderr.decode("utf-8", "replace").replace(path, name)  # errors name the file, not the server's folders
    if proc.returncode != 0:
        if "matches no streams" in err:
            raise VideoIOError(f"video '{name}' has no video stream (audio only?); pick a video file")
        raise _unreadable(path, name, _tail(err))
    header, _, rest = err.partition("Stream mapping:")
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
    rot = re.search(r"display ?matrix: rotation of (-?[\d.]+)", header, re.IGNORECASE) \
        or re.search(r"^\s*rotate\s*:\s*(-?\d+)", header, re.MULTILINE)
    if rot and round(abs(float(rot.group(1)))) % 180 == 90:
        width, height = height, width  # ffmpeg applies the rotation when decoding
    if re.search(r"partial file|corrupt input packet|Packet corrupt|Invalid data found", rest):
        raise _unreadable(path, name, _tail(rest, errors_only=True))
    counts = re.findall(r"frame=\s*(\d+)", rest)
    frame_count = int(counts[-1]) if counts else 0
    if frame_count < 1:
        raise VideoIOError(f"video '{name}' contains no video frames")
    dur = re.search(r"Duration: (\d+):(\d+):([\d.]+)", header)
    duration = int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)) if dur else None
    return VideoInfo(width, height, fps, frame_count, duration)


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


def read_video(path: str, *, frame_load_cap: int = 0, skip_first_frames: int = 0, select_every_nth: int = 1,
               output_fps: float = 0.0, start_time: float = 0.0, end_time: float = 0.0, resolution: int = 0,
               name: str | None = None) -> Video:
    """The selected frames of a video file as a ComfyUI IMAGE batch, and their fps."""
    name = name or os.path.basename(path)
    msg = check_options(start_time, end_time, output_fps, skip_first_frames, select_every_nth,
                        frame_load_cap, resolution)
    if msg:
        raise VideoIOError(msg)
    info = probe_video(path, name)
    sel = select_frames(info.frame_count, info.fps, start_time=start_time, end_time=end_time,
                        output_fps=output_fps, skip_first_frames=skip_first_frames,
                        select_every_nth=select_every_nth, frame_load_cap=frame_load_cap, name=f"video '{name}'")
    frames = decode_frames(path, info, sel.indices, name)
    images = torch.from_numpy(frames).float().div_(255.0)
    images = resize_images(images, *target_size(info.width, info.height, resolution))
    logger.info("loaded %d frames of %s (%dx%d -> %dx%d, %.4g fps)", images.shape[0], name, info.width,
                info.height, images.shape[2], images.shape[1], sel.fps)
    return Video(images=images, fps=sel.fps, source=info)
