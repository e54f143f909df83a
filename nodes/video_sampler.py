"""Samplers for videos whose frames are guided per frame (pose/edge ControlNet, Video
Instruct-Pix2Pix): all frames denoised together, in chunks that share frame 0."""
from __future__ import annotations

import comfy.sample
import comfy.samplers
from comfy_api.latest import io

from ..t2vz_core import sampling
from .text2video import _check_choices, _check_video, _chunk_input, _finish, _require_conditioning

CATEGORY = "Text2Video-Zero"


def _noise_input() -> io.Input:
    return io.Combo.Input("noise_mode", options=sampling.NOISE_MODES, default=sampling.NOISE_SHARED,
                          tooltip="'shared': every frame starts from the same noise, as Text2Video-Zero does for "
                              "pose and edge videos (more consistent). 'per frame': each frame has its own noise, "
                              "fixed by seed and frame index.")


def _latent_frames(latent: dict, model):
    samples = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
    if samples.ndim != 4:
        raise ValueError(f"latent_image must be a batch of image latents, one per frame; got shape {tuple(samples.shape)}")
    ids = latent.get("t2vz_frame_ids") or list(range(samples.shape[0]))
    return samples, ids


def _check_noise(noise_mode=None):
    if noise_mode is not None and noise_mode not in sampling.NOISE_MODES:
        return f"noise_mode '{noise_mode}' is not one of: {', '.join(sampling.NOISE_MODES)}"
    return True


def _run(guider, model, sampler, sigmas, latent, seed, noise_mode, chunk_size):
    from ..t2vz_core import controlnet
    controlnet.check_controlnets_fit(model, *guider.original_conds.values())
    samples, ids = _latent_frames(latent, model)
    msg = _check_video(chunk_size=chunk_size)
    if msg is not True:
        raise ValueError(msg)
    noise = sampling.initial_noise(seed, ids, samples.shape[1:], noise_mode)
    steps = sigmas.shape[-1] - 1
    progress = sampling.Progress(model, sampling.video_units(samples.shape[0], steps, chunk_size))
    out = sampling.sample_frames(guider, sampler, sigmas, samples, noise, seed, chunk_size, progress,
                                 latent.get("noise_mask"))
    return io.NodeOutput(_finish(latent, out))


class VideoKSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_VideoKSampler",
            display_name="Video KSampler (T2VZ)",
            category=f"{CATEGORY}/sampling",
            description=(
                "A KSampler for videos: denoises one latent per frame together, with shared or per-frame "
                "noise, in chunks that all attend to frame 0. Use it for pose or edge videos (Cross-Frame "
                "Attention on the model, Cross-Frame ControlNet + Apply ControlNet with one hint per frame) "
                "and any other per-frame conditioning."),
            inputs=[
                io.Model.Input("model", tooltip="The model, through Cross-Frame Attention (T2VZ)."),
                io.Conditioning.Input("positive", tooltip="Positive conditioning, e.g. from Apply ControlNet with per-frame hints."),
                io.Conditioning.Input("negative", tooltip="Negative conditioning."),
                io.Latent.Input("latent_image", tooltip="One latent per frame, e.g. Empty Latent Image with batch_size = frame count."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Noise seed; frame 0's noise equals KSampler's for this seed."),
                io.Int.Input("steps", default=20, min=1, max=10000, tooltip="Denoising steps."),
                io.Float.Input("cfg", default=7.5, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance scale."),
                io.Combo.Input("sampler_name", options=comfy.samplers.KSampler.SAMPLERS, default="euler",
                               tooltip="Sampler."),
                io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default="normal",
                               tooltip="Noise schedule."),
                _noise_input(),
                _chunk_input(),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="How much of the input latents to replace; 1.0 for new videos."),
            ],
            outputs=[io.Latent.Output(display_name="LATENT", tooltip="The video latent; decode it with VAE Decode.")],
        )

    @classmethod
    def validate_inputs(cls, sampler_name=None, scheduler=None, noise_mode=None, chunk_size=None):
        for ok in (_check_choices(sampler_name, scheduler), _check_noise(noise_mode), _check_video(chunk_size=chunk_size)):
            if ok is not True:
                return ok
        return True

    @classmethod
    def execute(cls, model, positive, negative, latent_image, seed, steps, cfg, sampler_name, scheduler,
                noise_mode=sampling.NOISE_SHARED, chunk_size=8, denoise=1.0) -> io.NodeOutput:
        _require_conditioning(positive, negative)
        for ok in (_check_choices(sampler_name, scheduler), _check_noise(noise_mode)):
            if ok is not True:
                raise ValueError(ok)
        ks = comfy.samplers.KSampler(model, steps=steps, device=model.load_device, sampler=sampler_name,
                                     scheduler=scheduler, denoise=denoise, model_options=model.model_options)
        guider = comfy.samplers.CFGGuider(model)
        guider.set_conds(positive, negative)
        guider.set_cfg(cfg)
        return _run(guider, model, comfy.samplers.sampler_object(sampler_name), ks.sigmas.cpu(), latent_image,
                    seed, noise_mode, chunk_size)


class VideoSamplerCustom(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_VideoSamplerCustom",
            display_name="Video Sampler Custom (T2VZ)",
            category=f"{CATEGORY}/sampling",
            description=(
                "Like core SamplerCustomAdvanced, for videos: any GUIDER (e.g. DualCFGGuider for Video "
                "Instruct-Pix2Pix: text and image guidance), SAMPLER and SIGMAS; shared or per-frame "
                "noise; chunks that all attend to frame 0."),
            inputs=[
                io.Guider.Input("guider", tooltip="A guider whose model goes through Cross-Frame Attention (T2VZ), "
                                "e.g. DualCFGGuider for Instruct-Pix2Pix."),
                io.Sampler.Input("sampler", tooltip="From KSamplerSelect."),
                io.Sigmas.Input("sigmas", tooltip="From BasicScheduler (or any scheduler node)."),
                io.Latent.Input("latent_image", tooltip="One latent per frame (e.g. from InstructPixToPixConditioning)."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Noise seed; frame 0's noise equals KSampler's for this seed."),
                _noise_input(),
                _chunk_input(),
            ],
            outputs=[io.Latent.Output(display_name="LATENT", tooltip="The video latent; decode it with VAE Decode.")],
        )

    @classmethod
    def validate_inputs(cls, noise_mode=None, chunk_size=None):
        ok = _check_noise(noise_mode)
        return _check_video(chunk_size=chunk_size) if ok is True else ok

    @classmethod
    def execute(cls, guider, sampler, sigmas, latent_image, seed, noise_mode=sampling.NOISE_SHARED,
                chunk_size=8) -> io.NodeOutput:
        if sigmas.ndim != 1 or sigmas.shape[0] < 2:
            raise ValueError("sigmas must hold at least two noise levels: connect a scheduler node such as BasicScheduler")
        return _run(guider, guider.model_patcher, sampler, sigmas, latent_image, seed, noise_mode, chunk_size)
