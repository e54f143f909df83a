"""Reading what the pack wrote: video frames and metadata, as a user's player would."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def read_video(path: Path) -> tuple[np.ndarray, float]:
    """(frames (N, H, W, 3) uint8, fps) of a video file, decoded with PyAV."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.base_rate or Fraction(0)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    return np.stack(frames), float(rate)


def read_gif(path: Path) -> tuple[np.ndarray, list[float]]:
    """(frames (N, H, W, 3) uint8, per-frame durations in seconds) of an animated GIF."""
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        frames, durations = [], []
        for fr in ImageSequence.Iterator(im):
            frames.append(np.asarray(fr.convert("RGB")))
            durations.append(fr.info.get("duration", 0) / 1000.0)
    return np.stack(frames), durations
