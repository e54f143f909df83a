"""Text-to-video nodes: motion-field latent init, video sampler, and the two in one."""
from __future__ import annotations

import comfy.samplers
from comfy_api.latest import io

from ..t2vz_core import attention, chunking, sampling, timing
from ._common import advanced

CATEGORY = "Text2Video-Zero"
MIN_RES = 16
MAX_RES = 16384
SAMPLER_NAME = "Text2Video-Zero Sampler (T2VZ_Sampler)"


def _sampling_inputs() -> list[io.Input]:
    return [
        io.Model.Input("model", tooltip="The model to sample with. Connect it through Cross-Frame Attention (T2VZ) "
                       "for the consistent frames of Text2Video-Zero."),
        io.Conditioning.Input("positive", tooltip="What the video shows (CLIP Text Encode)."),
        io.Conditioning.Input("negative", tooltip="What to keep out of the video (CLIP Text Encode)."),
        io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                     tooltip="Fixes frame 0's noise (the same as a KSampler with this seed) and every other "
                         "frame's renoising noise (by frame index)."),
        io.Int.Input("steps", default=50, min=2, max=10000,
                     tooltip="Denoising steps of the whole schedule (the paper uses 50)."),
        io.Float.Input("cfg", default=7.5, min=0.0, max=100.0, step=0.1, round=0.01,
                       tooltip="Classifier-free guidance scale (the paper uses 7.5)."),
        io.Combo.Input("sampler_name", options=comfy.samplers.KSampler.SAMPLERS, default="ddim",
                       tooltip="Sampler. 'ddim' with the 'ddim_uniform' scheduler is the reference's DDIM."),
        io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default="ddim_uniform",
                       tooltip="Noise schedule. T0/T1 are positions in this schedule."),
    ]


def _video_inputs() -> list[io.Input]:
    return [
        io.Int.Input("width", default=0, min=0, max=MAX_RES, step=8,
                     tooltip="Frame width in pixels, a multiple of 8; 0 = the model's native size "
                         "(512 for SD1.x, 768 for SD2.x 768-v, 1024 for SDXL)."),
        io.Int.Input("height", default=0, min=0, max=MAX_RES, step=8,
                     tooltip="Frame height in pixels, a multiple of 8; 0 = the model's native size."),
        io.Int.Input("video_length", default=8, min=1, max=4096,
                     tooltip="Number of frames."),
        io.Float.Input("motion_field_strength_x", default=12.0, min=-512.0, max=512.0, step=0.5,
                       tooltip="Camera motion per frame along x, in pixels of a 512-pixel-wide frame "
                           "(the same meaning at every resolution). Frame k moves by k times this."),
        io.Float.Input("motion_field_strength_y", default=12.0, min=-512.0, max=512.0, step=0.5,
                       tooltip="Camera motion per frame along y, in pixels of a 512-pixel-high frame."),
        io.Int.Input("t0", default=44, min=0, max=9999,
                     tooltip="Step index (counted from the end) where frame 0 is copied to the other frames; "
                         "must be smaller than t1. Paper default 44 (of 50 steps)."),
        io.Int.Input("t1", default=47, min=0, max=9999,
                     tooltip="Step index (counted from the end) the copied frames are renoised back to and "
                         "sampling of all frames starts from. Paper default 47 (of 50 steps)."),
        advanced(io.Combo.Input("t_mode", options=timing.MODES, default=timing.REL_50,
                       tooltip="'scaled from 50 steps': t0/t1 are read for a 50-step schedule and moved to the "
                           "same place in yours, so the defaults work at 20 or 30 steps. 'exact': t0/t1 "
                           "are indices of your schedule, as in diffusers.")),
        advanced(io.Boolean.Input("use_motion_field", default=True,
                         tooltip="Translate each frame's latent by the motion field before renoising "
                             "(off: every frame starts from the same latent).")),
        advanced(io.Int.Input("frame_start", default=0, min=0, max=100000,
                              tooltip="Make only part of a long video: the first frame to output. Frame 0 is "
                                  "still computed as the anchor (and not output), so frames k..k+m match the "
                                  "same frames of one long run with the same seed.")),
        advanced(io.Int.Input("frame_count", default=0, min=0, max=100000,
                              tooltip="How many frames to output from frame_start; 0 = to the end of the video.")),
    ]


def _chunk_input() -> io.Input:
    return io.Int.Input("chunk_size", default=8, min=0, max=4096,
                        tooltip="Frames denoised together in one model call (0 = all at once). Every chunk "
                            "attends to frame 0, so the video is the same for any chunk size; memory "
                            "grows with chunk_size, not with the video's length.")


def _check_video(video_length=None, frame_start=None, frame_count=None, chunk_size=None) -> bool | str:
    if chunk_size is not None:
        msg = chunking.check_chunk_size(chunk_size)
        if msg:
            return msg
    if None not in (video_length, frame_start, frame_count):
        msg = chunking.check_frames(video_length, frame_start, frame_count)
        if msg:
            return msg
    return True


def _check(steps=None, t0=None, t1=None, t_mode=None, width=None, height=None) -> bool | str:
    for name, val in (("width", width), ("height", height)):
        if val is not None:
            if val % 8:
                return f"{name} ({val}) must be a multiple of 8 (for example {max(MIN_RES, val // 8 * 8)})"
            if val != 0 and not MIN_RES <= val <= MAX_RES:
                return f"{name} ({val}) must be 0 (the model's native size) or between {MIN_RES} and {MAX_RES}"
    if None not in (steps, t0, t1):
        msg = timing.check(steps, t0, t1, t_mode or timing.REL_50)
        if msg:
            return msg
    return True


def _check_choices(sampler_name=None, scheduler=None) -> bool | str:
    """ComfyUI 0.3.75 does not check V3 combo values at queue time; we do."""
    for name, val, options in (("sampler_name", sampler_name, comfy.samplers.KSampler.SAMPLERS),
                               ("scheduler", scheduler, comfy.samplers.KSampler.SCHEDULERS)):
        if val is not None and val not in options:
            return f"{name} '{val}' is not a ComfyUI {name.split('_')[0]}; choose one of: {', '.join(options)}"
    return True


def _require_conditioning(positive, negative) -> None:
    for name, cond in (("positive", positive), ("negative", negative)):
        if not cond:
            raise ValueError(f"{name} conditioning is empty: connect a CLIP Text Encode (Prompt) node to "
                             f"'{name}' (an empty prompt text is fine, an empty conditioning list is not)")


def _run_init(model, positive, negative, seed, steps, cfg, sampler_name, scheduler, width, height,
              video_length, motion_field_strength_x, motion_field_strength_y, t0, t1, t_mode,
              use_motion_field, frame_start, frame_count, node: str, chunk_size: int | None = None):
    for msg in (_check(steps, t0, t1, t_mode, width, height), _check_choices(sampler_name, scheduler),
                _check_video(video_length, frame_start, frame_count, chunk_size)):
        if msg is not True:
            raise ValueError(msg)
    _require_conditioning(positive, negative)
    attention.unet_of(model, node)  # a clear error for non-UNet models before any work
    tm = timing.resolve(steps, t0, t1, t_mode)
    frame_ids, drop_first = chunking.select_frames(video_length, frame_start, frame_count)
    video_units = sampling.video_units(len(frame_ids), steps - tm.k1, chunk_size) if chunk_size is not None else 0
    sigmas = sampling.schedule(model, steps, sampler_name, scheduler)
    progress = sampling.Progress(model, tm.k0 + video_units)
    motion = sampling.MotionSettings(motion_field_strength_x, motion_field_strength_y, use_motion_field)
    res = sampling.init_video(model, positive, negative, seed, cfg, sampler_name, sigmas, tm,
                              width, height, frame_ids, motion, progress)
    latent = {"samples": res.latent_t1, "t2vz_frame_ids": frame_ids, "t2vz_drop_first": drop_first}
    return res, tm, progress, latent


class MotionFieldLatentInit(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_MotionFieldLatentInit",
            display_name="Motion-Field Latent Init (T2VZ)",
            category=f"{CATEGORY}/sampling",
            description=(
                "Steps 1–3 of Text2Video-Zero: denoises frame 0 alone to T1 and on to T0, copies it to "
                "every frame, moves frame k by k × motion, and renoises frames 1..N back to T1. Feed "
                "LATENT and SIGMAS to Video Sampler (T2VZ) to finish the video."),
            inputs=_sampling_inputs() + _video_inputs(),
            outputs=[
                io.Latent.Output(display_name="LATENT", tooltip="The video latent at T1 (one latent per frame)."),
                io.Sigmas.Output(display_name="SIGMAS",
                                 tooltip="The rest of the schedule, from T1 to the end, for Video Sampler (T2VZ)."),
            ],
        )

    @classmethod
    def validate_inputs(cls, steps=None, t0=None, t1=None, t_mode=None, sampler_name=None, scheduler=None,
                        video_length=None, frame_start=None, frame_count=None):
        # width/height are checked when the node runs, so core's own min/max checks stay on
        for ok in (_check(steps, t0, t1, t_mode), _check_choices(sampler_name, scheduler),
                   _check_video(video_length, frame_start, frame_count)):
            if ok is not True:
                return ok
        return True

    @classmethod
    def execute(cls, model, positive, negative, seed, steps, cfg, sampler_name, scheduler, width, height,
                video_length, motion_field_strength_x, motion_field_strength_y, t0, t1,
                t_mode=timing.REL_50, use_motion_field=True, frame_start=0, frame_count=0) -> io.NodeOutput:
        res, _, _, latent = _run_init(model, positive, negative, seed, steps, cfg, sampler_name, scheduler, width,
                                      height, video_length, motion_field_strength_x, motion_field_strength_y, t0,
                                      t1, t_mode, use_motion_field, frame_start, frame_count,
                                      "Motion-Field Latent Init (T2VZ_MotionFieldLatentInit)")
        return io.NodeOutput(latent, res.sigmas_tail)


class VideoSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_VideoSampler",
            display_name="Video Sampler (T2VZ)",
            category=f"{CATEGORY}/sampling",
            description=(
                "Step 4 of Text2Video-Zero: denoises all frames together from T1 to the end with any "
                "sampler. Connect the model through Cross-Frame Attention (T2VZ) and the LATENT and "
                "SIGMAS from Motion-Field Latent Init (T2VZ)."),
            inputs=[
                io.Model.Input("model", tooltip="The model, patched by Cross-Frame Attention (T2VZ)."),
                io.Conditioning.Input("positive", tooltip="The same positive conditioning as the init."),
                io.Conditioning.Input("negative", tooltip="The same negative conditioning as the init."),
                io.Latent.Input("latent", tooltip="The video latent at T1 from Motion-Field Latent Init (T2VZ)."),
                io.Sigmas.Input("sigmas", tooltip="The schedule from T1 to the end, from Motion-Field Latent Init (T2VZ)."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Noise seed for samplers that add noise while sampling (ancestral, SDE); "
                                 "deterministic samplers such as ddim and euler ignore it."),
                io.Float.Input("cfg", default=7.5, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance scale."),
                io.Combo.Input("sampler_name", options=comfy.samplers.KSampler.SAMPLERS, default="ddim",
                               tooltip="Sampler for the video steps."),
                _chunk_input(),
            ],
            outputs=[io.Latent.Output(display_name="LATENT", tooltip="The denoised video latent; decode it with VAE Decode.")],
        )

    @classmethod
    def validate_inputs(cls, sampler_name=None, chunk_size=None):
        ok = _check_choices(sampler_name)
        return _check_video(chunk_size=chunk_size) if ok is True else ok

    @classmethod
    def execute(cls, model, positive, negative, latent, sigmas, seed, cfg, sampler_name,
                chunk_size=8) -> io.NodeOutput:
        _require_conditioning(positive, negative)
        samples = latent["samples"]
        if samples.ndim != 4:
            raise ValueError(f"latent must be a batch of image latents (frames, channels, h, w); got {tuple(samples.shape)}")
        if sigmas.ndim != 1 or sigmas.shape[0] < 2:
            raise ValueError("sigmas must hold at least two noise levels (T1 and the end): connect the SIGMAS "
                             "output of Motion-Field Latent Init (T2VZ)")
        for ok in (_check_choices(sampler_name), _check_video(chunk_size=chunk_size)):
            if ok is not True:
                raise ValueError(ok)
        progress = sampling.Progress(model, sampling.video_units(samples.shape[0], sigmas.shape[0] - 1, chunk_size))
        out = sampling.sample_video(model, positive, negative, samples, sigmas, cfg, sampler_name, seed,
                                    chunk_size, progress)
        return io.NodeOutput(_finish(latent, out))


def _finish(latent: dict, samples):
    """The output LATENT: frame 0 is dropped when it was only sampled as the anchor."""
    if latent.get("t2vz_drop_first"):
        samples = samples[1:]
    ids = latent.get("t2vz_frame_ids")
    return {"samples": samples, **({"t2vz_frame_ids": [i for i in ids if i != 0 or not latent.get("t2vz_drop_first")]}
                                   if ids is not None else {})}


class Text2VideoZeroSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_Sampler",
            display_name="Text2Video-Zero Sampler",
            category=f"{CATEGORY}/sampling",
            description=(
                "Text2Video-Zero in one node: a video from a text prompt with any Stable Diffusion UNet "
                "checkpoint. Frame 0 is denoised alone, copied to every frame with a global camera "
                "motion, and all frames are finished together with cross-frame attention. Gives the "
                "same result as Motion-Field Latent Init + Video Sampler."),
            inputs=_sampling_inputs() + _video_inputs() + [
                _chunk_input(),
                advanced(io.Boolean.Input("use_cf_attn", default=True,
                                 tooltip="Cross-frame attention on a copy of the model (off: frames are denoised "
                                     "independently; the model you connect is used as it is).")),
            ],
            outputs=[io.Latent.Output(display_name="LATENT", tooltip="The video latent; decode it with VAE Decode.")],
        )

    @classmethod
    def validate_inputs(cls, steps=None, t0=None, t1=None, t_mode=None, sampler_name=None, scheduler=None,
                        video_length=None, frame_start=None, frame_count=None, chunk_size=None):
        # width/height are checked when the node runs, so core's own min/max checks stay on
        for ok in (_check(steps, t0, t1, t_mode), _check_choices(sampler_name, scheduler),
                   _check_video(video_length, frame_start, frame_count, chunk_size)):
            if ok is not True:
                return ok
        return True

    @classmethod
    def execute(cls, model, positive, negative, seed, steps, cfg, sampler_name, scheduler, width, height,
                video_length, motion_field_strength_x, motion_field_strength_y, t0, t1,
                t_mode=timing.REL_50, use_motion_field=True, frame_start=0, frame_count=0, chunk_size=8,
                use_cf_attn=True) -> io.NodeOutput:
        attention.unet_of(model, SAMPLER_NAME)
        if use_cf_attn:
            model = attention.patch_model(model)
        res, tm, progress, latent = _run_init(model, positive, negative, seed, steps, cfg, sampler_name, scheduler,
                                              width, height, video_length, motion_field_strength_x,
                                              motion_field_strength_y, t0, t1, t_mode, use_motion_field,
                                              frame_start, frame_count, SAMPLER_NAME, chunk_size)
        out = sampling.sample_video(model, positive, negative, res.latent_t1, res.sigmas_tail, cfg,
                                    sampler_name, seed, chunk_size, progress, offset=tm.k0)
        return io.NodeOutput(_finish(latent, out))
