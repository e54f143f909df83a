"""Background Smoothing node: T1 LATENT + foreground MASKs → smoothed T1 LATENT."""
from __future__ import annotations

from comfy_api.latest import io

from ..t2vz_core import smoothing
from ._common import CATEGORY, advanced


class BackgroundSmoothing(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_BackgroundSmoothing",
            display_name="Background Smoothing (T2VZ)",
            category=f"{CATEGORY}/sampling",
            description=(
                "Background smoothing of Text2Video-Zero (paper §3.3): blends the background of every "
                "frame's latent at T1 towards frame 0's background, moved with the video's camera motion, "
                "so the background flickers less. Make the video once (Motion-Field Latent Init → Video "
                "Sampler → VAE Decode), get a foreground mask per frame from any background-removal node "
                "(1 = foreground), then feed the init's LATENT through this node into a second Video "
                "Sampler with the same SIGMAS. Frame 0 is unchanged."),
            inputs=[
                io.Latent.Input("latent", tooltip="The video latent at T1 from Motion-Field Latent Init (T2VZ), "
                                "the same one the first Video Sampler got."),
                io.Mask.Input("masks", tooltip="Foreground masks of the decoded video (1 = foreground, e.g. from a "
                              "background-removal node): one per frame of the whole video, frame 0 first, or one "
                              "mask for every frame. Any size: resized to the latent's."),
                io.Float.Input("strength", default=smoothing.DEFAULT_STRENGTH, min=0.0, max=1.0, step=0.05,
                               tooltip="How much of each frame's own background stays: 1 = unchanged, 0 = frame "
                                   "0's background, moved. The paper uses 0.4."),
                advanced(io.Int.Input("dilation", default=smoothing.DEFAULT_DILATION, min=1,
                                      max=smoothing.MAX_DILATION, step=2,
                                      tooltip="Grow the foreground by a square of this side (odd, in latent "
                                          "pixels: 8 image pixels each) centred on every foreground pixel, so "
                                          "the subject's edge is never smoothed away. 1 = none; the paper uses 5.")),
                advanced(io.Boolean.Input("invert", default=False,
                                          tooltip="Use when your masks mark the background with 1 instead of "
                                              "the foreground.")),
            ],
            outputs=[
                io.Latent.Output(display_name="LATENT",
                                 tooltip="The smoothed video latent at T1: denoise it with a second Video Sampler "
                                     "(T2VZ) and the same SIGMAS."),
            ],
        )

    @classmethod
    def validate_inputs(cls, strength=None, dilation=None):
        msg = smoothing.check(smoothing.SmoothingSettings(
            strength=smoothing.DEFAULT_STRENGTH if strength is None else strength,
            dilation=smoothing.DEFAULT_DILATION if dilation is None else dilation))
        return msg or True

    @classmethod
    def execute(cls, latent, masks, strength=smoothing.DEFAULT_STRENGTH, dilation=smoothing.DEFAULT_DILATION,
                invert=False) -> io.NodeOutput:
        settings = smoothing.SmoothingSettings(strength=strength, dilation=dilation, invert=invert)
        return io.NodeOutput(smoothing.smooth_latent(latent, masks, settings))
