"""Frame Part: which frames one server makes when a long video is split over several."""
from __future__ import annotations

from comfy_api.latest import io

from ..t2vz_core import parts
from ..t2vz_core.request import RANGES
from ._common import CATEGORY

MAX_FRAMES = int(RANGES["video_length"][1])  # the samplers' video_length limit


class FramePart(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_FramePart",
            display_name="Frame Part (T2VZ)",
            category=f"{CATEGORY}/video",
            description=(
                "Splits a video's frames into part_count contiguous parts of nearly equal length (the longer "
                "parts first), on the samplers' chunk boundaries, and gives part part_index's frame_start and "
                "frame_count. Connect them to the sampler's frame_start and frame_count (advanced inputs) on "
                "every server, with the same seed, video_length and chunk_size everywhere: the parts put "
                "together are the whole video, bit for bit."),
            inputs=[
                io.Int.Input("video_length", default=48, min=1, max=MAX_FRAMES,
                             tooltip="Frames of the whole video: the same value as the sampler's video_length (for Video "
                                 "KSampler / Video Sampler Custom: the frames of their latent_image, e.g. Get Image "
                                 "Size's batch_size of the hint frames)."),
                io.Int.Input("part_count", default=2, min=1, max=MAX_FRAMES,
                             tooltip="How many parts (servers) the video is split into; at most video_length."),
                io.Int.Input("part_index", default=0, min=0, max=MAX_FRAMES - 1,
                             tooltip="Which part this server makes, 0 to part_count − 1 (e.g. from "
                                 "ComfyUI-Distributed's Distributed Value: 0 on the master, 1, 2 ... on the workers)."),
                io.Int.Input("chunk_size", default=8, min=0, max=MAX_FRAMES, optional=True,
                             tooltip="The samplers' chunk_size (8 by default there too). Parts then start and end "
                                 "on chunk boundaries, so each part's frames are denoised in exactly the batches "
                                 "of one run of the whole video and equal it bit for bit. 0 = split the frames "
                                 "evenly (the parts then equal one run only up to float rounding); prompts made before this input "
                                 "existed split evenly."),
            ],
            outputs=[
                io.Int.Output("frame_start", display_name="frame_start",
                              tooltip="The part's first frame; connect to the sampler's frame_start."),
                io.Int.Output("frame_count", display_name="frame_count",
                              tooltip="The part's number of frames (at least 1, never 0, which would mean 'to the "
                                  "end'); connect to the sampler's frame_count."),
            ],
        )

    @classmethod
    def validate_inputs(cls, video_length=None, part_count=None, part_index=None, chunk_size=None):
        return parts.check(video_length, part_count, part_index, chunk_size) or True

    @classmethod
    def execute(cls, video_length, part_count, part_index, chunk_size=0) -> io.NodeOutput:
        p = parts.part(video_length, part_count, part_index, chunk_size)
        return io.NodeOutput(p.frame_start, p.frame_count)
