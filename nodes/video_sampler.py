"""Samplers for videos whose frames are guided per frame (pose/edge ControlNet, Video
Instruct-Pix2Pix): all frames denoised together, in chunks that share frame 0."""
from __future__ import annotations

import comfy.samplers
from comfy_api.latest import io

from ..t2vz_core import noise, sampling
from . import _common as c

KSAMPLER_NAME = "Video KSampler (T2VZ_VideoKSampler)"
CUSTOM_NAME = "Video Sampler Custom (T2VZ_VideoSamplerCustom)"


def _noise_input() -> io.Input:
    return io.Combo.Input("noise_mode", options=noise.NOISE_MODES, default=noise.NOISE_SHARED,
                          tooltip="'shared': every frame starts from the same noise, as Text2Video-Zero does for "
                              "pose and edge videos (more consistent). 'per frame': each frame has its own noise, "
                              "fixed by seed and frame index.")


def _seed_input() -> io.Input:
    return c.seed_input("Noise seed; frame 0's noise equals KSampler's for this seed.")


def _latent_input(tooltip: str) -> io.Input:
    return io.Latent.Input("latent_image", tooltip=tooltip)


def _frame_range_inputs() -> list[io.Input]:
    """Optional (added after release): make only part of the video, for several servers."""
    return [
        c.advanced(c.int_input("frame_start", 0, "Make only part of a long video (e.g. from Frame Part): the first "
                               "frame to output, counted in latent_image's frames. Frame 0 (its chunk when "
                               "chunked) is still sampled as the anchor and not output, so the part equals the "
                               "same frames of one run of the whole video. Give every server the whole hint "
                               "video.", optional=True)),
        c.advanced(c.int_input("frame_count", 0, "How many frames to output from frame_start; 0 = to the end.",
                               optional=True)),
    ]


def _take_frame_range(inputs: dict) -> tuple[int, int]:
    """(frame_start, frame_count), taken out of the inputs: they count latent_image's frames,
    which the request (whose video_length they would be checked against) does not know."""
    return inputs.pop("frame_start", 0) or 0, inputs.pop("frame_count", 0) or 0


def _output() -> list[io.Output]:
    return [io.Latent.Output(display_name="LATENT", tooltip="The video latent; decode it with VAE Decode.")]


class VideoKSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_VideoKSampler",
            display_name="Video KSampler (T2VZ)",
            category=f"{c.CATEGORY}/sampling",
            description=(
                "A KSampler for videos: denoises one latent per frame together, with shared or per-frame "
                "noise, in chunks that all attend to frame 0. Use it for pose or edge videos (Cross-Frame "
                "Attention on the model, Cross-Frame ControlNet + Apply ControlNet with one hint per frame) "
                "and any other per-frame conditioning."),
            inputs=[
                c.model_input("The model, through Cross-Frame Attention (T2VZ)."),
                *c.conditioning_inputs("Positive conditioning, e.g. from Apply ControlNet with per-frame hints.",
                                       "Negative conditioning."),
                _latent_input("One latent per frame, e.g. Empty Latent Image with batch_size = frame count."),
                _seed_input(),
                io.Int.Input("steps", default=20, min=1, max=10000, tooltip="Denoising steps."),
                c.cfg_input(),
                c.sampler_input("euler", "Sampler."),
                c.scheduler_input("normal", "Noise schedule."),
                _noise_input(),
                c.chunk_input(),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="How much of the input latents to replace; 1.0 for new videos."),
                *_frame_range_inputs(),
            ],
            outputs=_output(),
        )

    @classmethod
    def validate_inputs(cls, sampler_name=None, scheduler=None, noise_mode=None, chunk_size=None):
        return c.validate(sampler_name, scheduler, noise_mode=noise_mode, chunk_size=chunk_size)

    @classmethod
    def execute(cls, latent_image, steps, denoise=1.0, **inputs) -> io.NodeOutput:
        g = c.Guidance.take(inputs).checked()
        start, count = _take_frame_range(inputs)
        request = c.checked_request(**inputs)
        ks = comfy.samplers.KSampler(g.model, steps=steps, device=g.model.load_device, sampler=g.sampler_name,
                                     scheduler=g.scheduler, denoise=denoise, model_options=g.model.model_options)
        with c.as_node(KSAMPLER_NAME):
            latent = sampling.select_frames(latent_image, start, count, request.chunk_size)
            return io.NodeOutput(sampling.frame_guided_video(g.guider(), comfy.samplers.sampler_object(g.sampler_name),
                                                             ks.sigmas.cpu(), latent, request))


class VideoSamplerCustom(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_VideoSamplerCustom",
            display_name="Video Sampler Custom (T2VZ)",
            category=f"{c.CATEGORY}/sampling",
            description=(
                "Like core SamplerCustomAdvanced, for videos: any GUIDER (e.g. DualCFGGuider for Video "
                "Instruct-Pix2Pix: text and image guidance), SAMPLER and SIGMAS; shared or per-frame "
                "noise; chunks that all attend to frame 0."),
            inputs=[
                io.Guider.Input("guider", tooltip="A guider whose model goes through Cross-Frame Attention (T2VZ), "
                                "e.g. DualCFGGuider for Instruct-Pix2Pix."),
                io.Sampler.Input("sampler", tooltip="From KSamplerSelect."),
                io.Sigmas.Input("sigmas", tooltip="From BasicScheduler (or any scheduler node)."),
                _latent_input("One latent per frame (e.g. from InstructPixToPixConditioning)."),
                _seed_input(),
                _noise_input(),
                c.chunk_input(),
                *_frame_range_inputs(),
            ],
            outputs=_output(),
        )

    @classmethod
    def validate_inputs(cls, noise_mode=None, chunk_size=None):
        return c.validate(noise_mode=noise_mode, chunk_size=chunk_size)

    @classmethod
    def execute(cls, guider, sampler, sigmas, latent_image, **inputs) -> io.NodeOutput:
        start, count = _take_frame_range(inputs)
        request = c.checked_request(**inputs)
        if sigmas.ndim != 1 or sigmas.shape[0] < 2:
            raise ValueError("sigmas: must hold at least two noise levels; connect a scheduler node such as "
                             "BasicScheduler")
        with c.as_node(CUSTOM_NAME):
            latent = sampling.select_frames(latent_image, start, count, request.chunk_size)
            return io.NodeOutput(sampling.frame_guided_video(guider, sampler, sigmas, latent, request))
