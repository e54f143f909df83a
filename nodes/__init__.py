"""The pack's V3 nodes, one file per family, registered by one ComfyExtension."""
from __future__ import annotations

import logging
import os

from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from .attention import CrossFrameAttention, CrossFrameControlNet
from . import routes
from .camera import CameraPathNode
from .conditioning import CannyEdges
from .parts import FramePart
from .prompts import PromptSchedule
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
    FramePart,
    CameraPathNode,
    PromptSchedule,
    BackgroundSmoothing,
]

logger = logging.getLogger(__name__)

# A second copy of the pack in custom_nodes/ (a git clone beside a zip download) registers
# nothing: no routes (ComfyUI would refuse to start), no nodes (the first copy's serve), no web
# folder (its scripts would register the same frontend extensions twice). One line says so.
_FIRST_COPY = routes.other_copy()
if _FIRST_COPY is not None:
    logger.warning("Text2Video-Zero is installed twice: using %s, ignoring %s; remove one of the two folders "
                   "from custom_nodes", _FIRST_COPY, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def web_directory() -> str | None:
    return None if _FIRST_COPY is not None else "./web"


class Text2VideoZeroExtension(ComfyExtension):
    _loaded = False

    @override
    async def on_load(self) -> None:
        if _FIRST_COPY is None:
            routes.register()
        self._loaded = True

    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        if not self._loaded:  # ComfyUI 0.3.75's loader does not call on_load (0.38.1's does, first)
            await self.on_load()
        return NODES if _FIRST_COPY is None else []


async def comfy_entrypoint() -> Text2VideoZeroExtension:
    return Text2VideoZeroExtension()
