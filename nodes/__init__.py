"""The pack's V3 nodes, one file per family, registered by one ComfyExtension."""
from __future__ import annotations

from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from .attention import CrossFrameAttention, CrossFrameControlNet
from . import routes
from .conditioning import CannyEdges
from .smoothing import BackgroundSmoothing
from .text2video import MotionFieldLatentInit, Text2VideoZeroSampler, VideoSampler
from .video_io import LoadVideo, SaveGIF
from .video_sampler import VideoKSampler, VideoSamplerCustom

NODES: list[type[io.ComfyNode]] = [
    CrossFrameAttention,
    CrossFrameControlNet,
    MotionFieldLatentInit,
    VideoSampler,
    Text2VideoZeroSampler,
    VideoKSampler,
    VideoSamplerCustom,
    LoadVideo,
    CannyEdges,
    SaveGIF,
    BackgroundSmoothing,
]

routes.register()


class Text2VideoZeroExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES


async def comfy_entrypoint() -> Text2VideoZeroExtension:
    return Text2VideoZeroExtension()
