"""Writing frames with ffmpeg: the animated GIF of Save GIF and the H.264 mp4 of the editor's
previews. One writer streams raw RGB frames to ffmpeg and puts the file in place only when
it is complete (a temporary name beside it until then, created with the permissions a plain
save would give: 0666 less the umask). ``output_place`` turns a filename prefix into a folder
that is really inside the output folder (symbolic links resolved)."""
from __future__ import annotations

import logging
import os
import re
import secrets
import subprocess
import tempfile

import numpy as np

from .video_io import VideoIOError, ffmpeg_exe

logger = logging.getLogger(__name__)

GIF_FILTER = "split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=sierra2_4a"
H264_ARGS = ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
             "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4"]


class FfmpegWriter:
    """``with FfmpegWriter(path, w, h, fps, output_args, what) as out: out.write(frames)``:
    (H, W, 3) or (N, H, W, 3) uint8 RGB frames in, the encoded file at ``path`` on a clean exit.
    ``overwrite=False`` never replaces an existing file (the error says so)."""

    def __init__(self, path: str, width: int, height: int, fps: float, output_args: list[str], what: str,
                 overwrite: bool = True):
        if not fps > 0:
            raise VideoIOError(f"fps ({fps}) must be greater than 0")
        if not overwrite and os.path.exists(path):
            raise VideoIOError(f"{os.path.basename(path)} already exists; refusing to overwrite it")
        self.path, self.what, self.overwrite = path, what, overwrite
        self.tmp = _new_temp_file(path)
        self.errors = tempfile.TemporaryFile()  # a file, not a pipe: a chatty ffmpeg cannot block
        self.proc = subprocess.Popen(
            [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
             "-s", f"{width}x{height}", "-framerate", f"{fps:.6g}", "-i", "pipe:0", *output_args, "-y", self.tmp],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.errors)

    def write(self, frames: np.ndarray) -> None:
        self.proc.stdin.write(np.ascontiguousarray(frames).tobytes())

    def __enter__(self) -> "FfmpegWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            code = self.proc.wait()
            if exc_type is not None:
                return
            if code != 0:
                self.errors.seek(0)
                err = self.errors.read().decode("utf-8", "replace").strip()[-2000:]
                err = err.replace(self.tmp, os.path.basename(self.path))  # no server paths in errors
                raise VideoIOError(f"ffmpeg failed to {self.what} (exit {code}): {err}")
            if self.overwrite:
                os.replace(self.tmp, self.path)
            else:
                try:
                    os.link(self.tmp, self.path)  # fails if path appeared meanwhile: never overwrite
                except FileExistsError as e:
                    raise VideoIOError(f"{os.path.basename(self.path)} already exists; refusing to overwrite it") from e
        finally:
            self.errors.close()
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)


def _new_temp_file(path: str) -> str:
    """An empty file beside ``path`` (same suffix, hidden name). Created with mode 0666 so the
    umask applies as for any saved file; ``tempfile.mkstemp`` would make it 0600, and the rename
    keeps the mode, so a web server or another account could not read the result."""
    folder, suffix = os.path.dirname(os.path.abspath(path)), os.path.splitext(path)[1]
    for _ in range(100):
        tmp = os.path.join(folder, f".t2vz-{secrets.token_hex(6)}{suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise VideoIOError("could not create a temporary file next to the output (100 names taken)")


def output_place(filename_prefix: str, output_dir: str) -> tuple[str, str]:
    """(subfolder, file name stem) of ``filename_prefix`` inside ``output_dir``; ValueError naming
    filename_prefix when it is absolute, climbs out with '..', or leads out of the folder through
    a symbolic link (real paths are compared, so ``outlink/x`` with output/outlink → /elsewhere is
    refused). The folder may not exist yet."""
    shown = filename_prefix if len(filename_prefix) <= 80 else filename_prefix[:77] + "..."
    norm = os.path.normpath(filename_prefix.replace("\\", "/")) if filename_prefix else ""
    if os.path.isabs(filename_prefix) or filename_prefix.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", filename_prefix):
        raise ValueError(f"filename_prefix '{shown}' is an absolute path; give a name inside ComfyUI's output "
                         "folder, optionally with subfolders (for example T2VZ/video)")
    if norm == ".." or norm.startswith("../"):
        raise ValueError(f"filename_prefix '{shown}' points outside ComfyUI's output folder ('..'); give a name "
                         "inside it, optionally with subfolders (for example T2VZ/video)")
    subfolder, stem = os.path.split(norm)
    if not stem or stem in (".", ".."):
        raise ValueError(f"filename_prefix '{shown}' has no file name; end it with a name (for example T2VZ/video)")
    base = os.path.realpath(output_dir)
    real = os.path.realpath(os.path.join(base, subfolder))
    if os.path.commonpath((base, real)) != base:
        raise ValueError(f"filename_prefix '{shown}' leads outside ComfyUI's output folder through a symbolic "
                         "link; choose a subfolder that is really inside the output folder")
    return subfolder, stem


def write_gif(path: str, frames: np.ndarray, fps: float, loop: int = 0) -> str:
    """Write (N, H, W, 3) uint8 frames as an animated GIF at ``path``; never overwrites.

    A palette is computed from the whole clip (palettegen/paletteuse) for clean colours.
    """
    n, h, w, _ = frames.shape
    with FfmpegWriter(path, w, h, fps, ["-filter_complex", GIF_FILTER, "-loop", str(int(loop)), "-f", "gif"],
                      "write the GIF", overwrite=False) as out:
        out.write(frames)
    logger.info("wrote %s (%d frames, %dx%d, %.3g fps)", path, n, w, h, fps)
    return path


def mp4_writer(path: str, width: int, height: int, fps: float) -> FfmpegWriter:
    """A writer of an H.264 mp4 (yuv420p: plays in every browser) that replaces ``path``."""
    return FfmpegWriter(path, width, height, fps, H264_ARGS, "write the preview")
