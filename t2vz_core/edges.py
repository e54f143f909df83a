"""Edge maps for edge-conditioned ControlNets: the original Text2Video-Zero's Canny.

The original (``utils.pre_process_canny``) runs ``cv2.Canny(frame, low, high)`` on each
uint8 RGB frame (OpenCV takes the strongest gradient over the three channels) and stacks
the single-channel result into 3 channels: white (255) edges on black.
"""
from __future__ import annotations

import cv2
import numpy as np

LOW_DEFAULT = 100   # the original's defaults
HIGH_DEFAULT = 200
THRESHOLD_MAX = 255


def check_thresholds(low_threshold=None, high_threshold=None) -> str | None:
    """A message a user understands for bad thresholds, or None (None values are not checked)."""
    for name, val in (("low_threshold", low_threshold), ("high_threshold", high_threshold)):
        if val is not None and not 0 <= val <= THRESHOLD_MAX:
            return f"{name} ({val}) must be between 0 and {THRESHOLD_MAX}"
    if low_threshold is not None and high_threshold is not None and low_threshold > high_threshold:
        return (f"low_threshold ({low_threshold}) must not be greater than high_threshold ({high_threshold}); "
                f"the original uses 100 and 200")
    return None


def canny(frames: np.ndarray, low_threshold: int = LOW_DEFAULT, high_threshold: int = HIGH_DEFAULT) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB frames -> (N, H, W, 3) uint8 edge maps (255 on edges, 0 elsewhere)."""
    msg = check_thresholds(low_threshold, high_threshold)
    if msg:
        raise ValueError(msg)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected (frames, height, width, 3) uint8 RGB, got {frames.dtype} {frames.shape}")
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        edges = cv2.Canny(np.ascontiguousarray(frame), float(low_threshold), float(high_threshold))
        out[i] = edges[..., None]
    return out
