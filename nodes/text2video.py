"""Text-to-video nodes: motion-field latent init, video sampler, and the two in one.

Each node is its schema plus one call into t2vz_core.sampling; the settings travel as one
VideoRequest, checked by the same function at queue time and at run time.
"""
from __future__ import annotations

from comfy_api.latest import io

from ..t2vz_core import attention, image_anchor, sampling, timing
from . import _common as c
from ._common import advanced

SAMPLER_NAME = "Text2Video-Zero Sampler (T2VZ_Sampler)"
INIT_NAME = "Motion-Field Latent Init (T2VZ_MotionFieldLatentInit)"
VIDEO_SAMPLER_NAME = "Video Sampler (T2VZ_VideoSampler)"


INIT_DESCRIPTION = (
    "Steps 1–3 of Text2Video-Zero: denoises frame 0 alone to T1 and on to T0, copies it to "
    "every frame, moves frame k by k × motion, and renoises frames 1..N back to T1. Feed "
    "LATENT and SIGMAS to Video Sampler (T2VZ) to finish the video.")

VIDEO_SAMPLER_DESCRIPTION = (
    "Step 4 of Text2Video-Zero: denoises all frames together from T1 to the end with any "
    "sampler. Connect the model through Cross-Frame Attention (T2VZ) and the LATENT and "
    "SIGMAS from Motion-Field Latent Init (T2VZ).")

SAMPLER_DESCRIPTION = (
    "Text2Video-Zero in one node: a video from a text prompt with any Stable Diffusion UNet "
    "checkpoint. Frame 0 is denoised alone, copied to every frame with a global camera "
    "motion, and all frames are finished together with cross-frame attention. Gives the "
    "same result as Motion-Field Latent Init + Video Sampler.")


def _sampling_inputs() -> list[io.Input]:
    return [
        c.model_input("The model to sample with. Connect it through Cross-Frame Attention (T2VZ) for the "
                      "consistent frames of Text2Video-Zero."),
        *c.conditioning_inputs(),
        c.seed_input("Fixes frame 0's noise (the same as a KSampler with this seed) and every other frame's "
                     "renoising noise (by frame index)."),
        c.int_input("steps", 50, "Denoising steps of the whole schedule (the paper uses 50)."),
        c.cfg_input("Classifier-free guidance scale (the paper uses 7.5)."),
        c.sampler_input("ddim", "Sampler. 'ddim' with the 'ddim_uniform' scheduler is the reference's DDIM."),
        c.scheduler_input("ddim_uniform", "Noise schedule. T0/T1 are positions in this schedule."),
    ]


def _video_inputs() -> list[io.Input]:
    return [
        c.int_input("width", 0, "Frame width in pixels, a multiple of 8; 0 = the model's native size "
                    "(512 for SD1.x, 768 for SD2.x 768-v, 1024 for SDXL).", step=8),
        c.int_input("height", 0, "Frame height in pixels, a multiple of 8; 0 = the model's native size.", step=8),
        c.int_input("video_length", 8, "Number of frames."),
        c.float_input("motion_field_strength_x", 12.0, "Camera motion per frame along x, in pixels of a "
                      "512-pixel-wide frame (the same meaning at every resolution). Frame k moves by k times this.",
                      step=0.5),
        c.float_input("motion_field_strength_y", 12.0, "Camera motion per frame along y, in pixels of a "
                      "512-pixel-high frame.", step=0.5),
        c.int_input("t0", 44, "Step index (counted from the end) where frame 0 is copied to the other frames; "
                    "must be smaller than t1. Paper default 44 (of 50 steps)."),
        c.int_input("t1", 47, "Step index (counted from the end) the copied frames are renoised back to and "
                    "sampling of all frames starts from. Paper default 47 (of 50 steps)."),
        advanced(io.Combo.Input("t_mode", options=timing.MODES, default=timing.REL_50,
                                tooltip="'scaled from 50 steps': t0/t1 are read for a 50-step schedule and moved "
                                    "to the same place in yours, so the defaults work at 20 or 30 steps. "
                                    "'exact': t0/t1 are indices of your schedule, as in diffusers.")),
        advanced(io.Boolean.Input("use_motion_field", default=True,
                                  tooltip="Translate each frame's latent by the motion field before renoising "
                                      "(off: every frame starts from the same latent).")),
        advanced(c.int_input("frame_start", 0, "Make only part of a long video: the first frame to output. "
                             "Frame 0 is still computed as the anchor (and not output), so frames k..k+m match "
                             "the same frames of one long run with the same seed.")),
        advanced(c.int_input("frame_count", 0, "How many frames to output from frame_start; 0 = to the end of "
                             "the video.")),
    ]


def _anchor_inputs() -> list[io.Input]:
    """Optional: a camera path instead of the x/y strengths, and a user's image as frame 0."""
    return [
        c.MOTION.Input("motion", optional=True,
                       tooltip="A camera path from Camera Path (T2VZ): pan, zoom and roll per frame. When "
                           "connected it replaces motion_field_strength_x/_y."),
        io.Latent.Input("first_frame", optional=True,
                        tooltip="Your image as frame 0: Load Image → VAE Encode at the video's width/height. "
                            "Every frame starts from it and attends to it."),
        advanced(io.Combo.Input("first_frame_mode", options=image_anchor.MODES, default=image_anchor.PINNED, optional=True,
                                tooltip="With first_frame: 'pinned' keeps frame 0 exactly your image; 'refine' "
                                    "holds it, then lets it be denoised for the last steps (first_frame_release); "
                                    "'free' denoises it like img2img.")),
        advanced(c.float_input("image_strength", 0.5, "With first_frame: how much of the schedule is skipped "
                               "before the video starts. Higher keeps more of your image's layout in every "
                               "frame; lower lets the frames depart from it (0 starts from almost pure noise, "
                               "where the image's layout is lost). Replaces t0/t1's place; their gap is kept.",
                               step=0.01, optional=True)),
        advanced(c.float_input("first_frame_release", 0.5, "With first_frame_mode 'refine': the share of the "
                               "video's steps during which frame 0 is held as your image before it is "
                               "denoised with the others.", step=0.01, optional=True)),
    ]


class _Text2VideoNode(io.ComfyNode):
    """The validation both text-to-video nodes share. Only the inputs named here skip
    ComfyUI's own range check; each message lands on the input it is about."""

    @classmethod
    def validate_inputs(cls, steps=None, t0=None, t1=None, t_mode=None, sampler_name=None, scheduler=None,
                        width=None, height=None, video_length=None, frame_start=None, frame_count=None,
                        chunk_size=None, first_frame_mode=None):
        return c.validate(sampler_name, scheduler, steps=steps, t0=t0, t1=t1, t_mode=t_mode, width=width,
                          height=height, video_length=video_length, frame_start=frame_start,
                          frame_count=frame_count, chunk_size=chunk_size, first_frame_mode=first_frame_mode)

    @staticmethod
    def prepare(inputs: dict, cross_frame: bool = False):
        """The checked guidance (on a cross-frame copy of the model when asked) and request,
        or a ValueError saying what to change."""
        guidance = c.Guidance.take(inputs).checked()
        request = c.checked_request(**inputs)
        model = guidance.model
        if cross_frame:
            model = attention.patch_model(model, request.token_merge_ratio)  # checks that it is a UNet
        else:
            if request.token_merge_ratio:
                raise ValueError(f"token_merge_ratio ({request.token_merge_ratio:g}) needs use_cf_attn on; "
                                 "set it to 0 or turn use_cf_attn on")
            attention.unet_of(model)  # a clear error for non-UNet models before any work
        return guidance, guidance.guider(model), request


class MotionFieldLatentInit(_Text2VideoNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return c.schema("T2VZ_MotionFieldLatentInit", "Motion-Field Latent Init (T2VZ)", "sampling", INIT_DESCRIPTION,
                        inputs=_sampling_inputs() + _video_inputs() + _anchor_inputs() + [advanced(c.int_input(
                            "chunk_size", 8, "Give the Video Sampler's chunk_size here. Used only when making part "
                            "of a video (frame_start / frame_count): the part also prepares frame 0's chunk, so "
                            "the Video Sampler denoises the part in exactly the batches of one run of the whole "
                            "video and its frames equal that run's bit for bit.", optional=True))],
            outputs=[
                io.Latent.Output(display_name="LATENT", tooltip="The video latent at T1 (one latent per frame)."),
                io.Sigmas.Output(display_name="SIGMAS",
                                 tooltip="The rest of the schedule, from T1 to the end, for Video Sampler (T2VZ)."),
            ],
        )

    @classmethod
    def execute(cls, motion=None, first_frame=None, **inputs) -> io.NodeOutput:
        with c.as_node(INIT_NAME):
            guidance, guider, request = cls.prepare(inputs)
            latent, sigmas = sampling.init_video(guider, request, guidance.sampler_name, guidance.scheduler,
                                                 motion=motion, first_frame=first_frame)
        return io.NodeOutput(latent, sigmas)


class VideoSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return c.schema("T2VZ_VideoSampler", "Video Sampler (T2VZ)", "sampling", VIDEO_SAMPLER_DESCRIPTION,
                        inputs=[
                c.model_input("The model, patched by Cross-Frame Attention (T2VZ)."),
                *c.conditioning_inputs("The same positive conditioning as the init.",
                                       "The same negative conditioning as the init."),
                io.Latent.Input("latent", tooltip="The video latent at T1 from Motion-Field Latent Init (T2VZ)."),
                io.Sigmas.Input("sigmas", tooltip="The schedule from T1 to the end, from Motion-Field Latent Init (T2VZ)."),
                c.seed_input("Noise seed for samplers that add noise while sampling (ancestral, SDE); "
                             "deterministic samplers such as ddim and euler ignore it."),
                c.cfg_input(),
                c.sampler_input("ddim", "Sampler for the video steps."),
                c.chunk_input(),
            ],
            outputs=[io.Latent.Output(display_name="LATENT", tooltip="The denoised video latent; decode it with VAE Decode.")],
        )

    @classmethod
    def validate_inputs(cls, sampler_name=None, chunk_size=None):
        return c.validate(sampler_name, chunk_size=chunk_size)

    @classmethod
    def execute(cls, latent, sigmas, **inputs) -> io.NodeOutput:
        guidance = c.Guidance.take(inputs).checked()
        request = c.checked_request(**inputs)
        if latent["samples"].ndim != 4:
            raise ValueError(f"latent: must be a batch of image latents (frames, channels, h, w); "
                             f"got {tuple(latent['samples'].shape)}")
        if sigmas.ndim != 1 or sigmas.shape[0] < 2:
            raise ValueError("sigmas: must hold at least two noise levels (T1 and the end): connect the SIGMAS "
                             "output of Motion-Field Latent Init (T2VZ)")
        with c.as_node(VIDEO_SAMPLER_NAME):
            return io.NodeOutput(sampling.finish_video(guidance.guider(), guidance.sampler_name, latent, sigmas,
                                                       request))


class Text2VideoZeroSampler(_Text2VideoNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return c.schema("T2VZ_Sampler", "Text2Video-Zero Sampler", "sampling", SAMPLER_DESCRIPTION,
                        inputs=_sampling_inputs() + _video_inputs() + [
                c.chunk_input(),
                advanced(io.Boolean.Input("use_cf_attn", default=True,
                                          tooltip="Cross-frame attention on a copy of the model (off: frames are "
                                              "denoised independently; the model you connect is used as it is).")),
                # inputs added after the first release come last, so saved workflows keep their values,
                # and are optional, so API prompts saved before them still run (with their defaults)
                *_anchor_inputs(),
                advanced(c.float_input("token_merge_ratio", 0.0, c.TOKEN_MERGE_TOOLTIP, step=0.05, optional=True)),
            ],
            outputs=[io.Latent.Output(display_name="LATENT", tooltip="The video latent; decode it with VAE Decode.")],
        )

    @classmethod
    def execute(cls, use_cf_attn=True, motion=None, first_frame=None, **inputs) -> io.NodeOutput:
        with c.as_node(SAMPLER_NAME):
            guidance, guider, request = cls.prepare(inputs, cross_frame=use_cf_attn)
            return io.NodeOutput(sampling.text_to_video(guider, request, guidance.sampler_name, guidance.scheduler,
                                                        motion=motion, first_frame=first_frame))
