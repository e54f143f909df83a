"""Control images for the ControlNet modes of Text2Video-Zero (edges)."""
from __future__ import annotations

import torch
from comfy_api.latest import io

from ..t2vz_core import edges, video_io
from ._common import CATEGORY


class CannyEdges(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_CannyEdges",
            display_name="Canny Edges (T2VZ)",
            category=f"{CATEGORY}/conditioning",
            description=(
                "Edge maps for a Canny ControlNet, frame by frame, exactly as the original Text2Video-Zero: "
                "OpenCV Canny on the 8-bit RGB frames, white edges on black, same size. Thresholds are on "
                "OpenCV's 0-255 scale (core's Canny node uses 0-1 and a different implementation)."),
            inputs=[
                io.Image.Input("images", tooltip="The frames (e.g. from Load Video (T2VZ))."),
                io.Int.Input("low_threshold", default=edges.LOW_DEFAULT, min=0, max=edges.THRESHOLD_MAX,
                             tooltip="Weaker edges are kept only where they connect to strong ones "
                                 "(hysteresis). Lower = more, longer edges. Original: 100."),
                io.Int.Input("high_threshold", default=edges.HIGH_DEFAULT, min=0, max=edges.THRESHOLD_MAX,
                             tooltip="Gradients above this start an edge. Lower = more edges. Must be at "
                                 "least low_threshold. Original: 200."),
            ],
            outputs=[
                io.Image.Output("edges", tooltip="Edge maps (frames, height, width, 3): 1.0 on edges, 0.0 "
                                "elsewhere. Connect to Apply ControlNet's image."),
            ],
        )

    @classmethod
    def validate_inputs(cls, low_threshold=None, high_threshold=None):
        return edges.check_thresholds(low_threshold, high_threshold) or True

    @classmethod
    def execute(cls, images, low_threshold=edges.LOW_DEFAULT, high_threshold=edges.HIGH_DEFAULT) -> io.NodeOutput:
        frames = video_io.to_uint8_frames(images)
        out = edges.canny(frames, low_threshold, high_threshold)
        return io.NodeOutput(torch.from_numpy(out).float().div_(255.0))
