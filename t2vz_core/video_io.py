"""Video files: ffmpeg discovery and GIF writing.

ffmpeg is found once: the ``T2VZ_FFMPEG`` environment variable (a path to an ffmpeg
binary) wins, then imageio-ffmpeg's bundled binary. It is always called with an
argument list (no shell), and its stderr goes into the error we raise.
"""
from __future__ import annotations

import functools
import logging
import os
import subprocess
import tempfile

import numpy as np

logger = logging.getLogger(__name__)

ENV_FFMPEG = "T2VZ_FFMPEG"


class VideoIOError(RuntimeError):
    pass


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


def _run_ffmpeg(args: list[str], stdin: bytes, what: str) -> None:
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", *args],
                          input=stdin, capture_output=True, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()[-2000:]
        raise VideoIOError(f"ffmpeg failed to {what} (exit {proc.returncode}): {err}")


def write_gif(path: str, frames: np.ndarray, fps: float, loop: int = 0) -> str:
    """Write (N, H, W, 3) uint8 frames as an animated GIF at ``path``; never overwrites.

    A palette is computed from the whole clip (palettegen/paletteuse) for clean colours.
    """
    if not fps > 0:
        raise VideoIOError(f"fps ({fps}) must be greater than 0")
    if os.path.exists(path):
        raise VideoIOError(f"{path} already exists; refusing to overwrite it")
    n, h, w, _ = frames.shape
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".t2vz-", suffix=".gif", dir=folder)
    os.close(fd)
    try:
        _run_ffmpeg(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate", f"{fps:.6g}",
                     "-i", "pipe:0",
                     "-filter_complex", "split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=sierra2_4a",
                     "-loop", str(int(loop)), "-f", "gif", "-y", tmp],
                    np.ascontiguousarray(frames).tobytes(), "write the GIF")
        os.link(tmp, path)  # fails if path appeared meanwhile: never overwrite
    except FileExistsError as e:
        raise VideoIOError(f"{path} already exists; refusing to overwrite it") from e
    finally:
        os.unlink(tmp)
    logger.info("wrote %s (%d frames, %dx%d, %.3g fps)", path, n, w, h, fps)
    return path
