"""One ComfyUI progress bar, with latent previews, across the phases of a video run.

Counted in units: a step of frame 0 alone is one unit, a video step is one unit per chunk
(from the run's ChunkPlan), so long chunked videos move the bar chunk by chunk.
"""
from __future__ import annotations

from typing import Callable

import torch


class Progress:
    def __init__(self, model, total_units: int, preview_frames: int = 4):
        import comfy.utils
        import latent_preview
        self.total = max(1, int(total_units))
        self.value = 0
        self.limit = self.total
        self.preview_frames = preview_frames
        self.pbar = comfy.utils.ProgressBar(self.total)
        self.previewer = latent_preview.get_previewer(model.load_device, model.model.latent_format)

    def _strip(self, x0: torch.Tensor) -> torch.Tensor:
        """Up to ``preview_frames`` evenly spaced frames side by side, as one latent image."""
        n = x0.shape[0]
        if n <= 1 or x0.ndim != 4:
            return x0[:1]
        idx = torch.linspace(0, n - 1, min(n, self.preview_frames)).round().long().unique()
        return torch.cat(list(x0[idx]), dim=-1)[None]

    def tick(self) -> None:
        """One chunk done (no preview); never runs past the end of the current step."""
        if self.value < self.limit:
            self.value += 1
            self.pbar.update_absolute(self.value, self.total)

    def callback(self, offset: int, units_per_step: int = 1) -> Callable:
        """The sampler callback of a phase that starts at ``offset`` units."""
        self.value = offset
        self.limit = offset + units_per_step

        def cb(step, x0, x, total_steps):
            preview = None
            if self.previewer is not None:
                preview = self.previewer.decode_latent_to_preview_image("JPEG", self._strip(x0))
            self.value = offset + (step + 1) * units_per_step
            self.limit = self.value + units_per_step
            self.pbar.update_absolute(self.value, self.total, preview)
        return cb
