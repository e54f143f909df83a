"""Prompt travel: keyframed prompts → one conditioning row per frame."""
from __future__ import annotations

from comfy_api.latest import io

from ..t2vz_core import prompts
from . import _common as c

DISPLAY_NAME = "Prompt Schedule (T2VZ_PromptSchedule)"


def _encoder(clip):
    """encode(text) → prompts.Encoded, exactly as core CLIP Text Encode encodes a prompt."""
    def encode(text: str) -> prompts.Encoded:
        out = clip.encode_from_tokens_scheduled(clip.tokenize(text))
        if len(out) != 1:
            raise prompts.PromptScheduleError(
                "clip: this CLIP has scheduled hooks (several encodings per prompt); connect a CLIP "
                "without scheduled hooks to the prompt schedule")
        cond, extras = out[0]
        extras = dict(extras)
        return prompts.Encoded(cond=cond, pooled=extras.pop("pooled_output", None), extras=extras)
    return encode


class PromptSchedule(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_PromptSchedule",
            display_name="Prompt Schedule (T2VZ)",
            category=f"{c.CATEGORY}/conditioning",
            description=(
                "Prompt travel: prompts at keyframes, blended frame by frame into one conditioning row per "
                "frame (text and pooled embeddings, linearly between keyframes). Frame 0 is the anchor every "
                "frame attends to: style and attribute changes travel well, swapping the subject fights "
                "the anchor."),
            inputs=[
                io.Clip.Input("clip", tooltip="The text encoder (from Load Checkpoint), as for CLIP Text Encode."),
                io.String.Input("keyframes", multiline=True, default=prompts.EXAMPLE,
                                tooltip="One \"frame\": \"prompt\" pair per line (a trailing comma is fine), or a "
                                    "JSON object. Frames between two keyframes blend their prompts; before "
                                    "the first and after the last keyframe its prompt holds. Long prompts are "
                                    "fine: shorter ones are padded with empty-prompt chunks to the same length."),
                c.int_input("video_length", 8, "Number of frames: one conditioning row per frame. Must equal "
                            "the sampler's video_length."),
            ],
            outputs=[
                io.Conditioning.Output("conditioning", tooltip="One row per frame (frame k = row k). Connect to "
                                       "the sampler's positive."),
            ],
        )

    @classmethod
    def validate_inputs(cls, keyframes=None, video_length=None):
        checked = c.validate(video_length=video_length)
        if checked is not True:
            return checked
        if keyframes is not None:
            try:
                prompts.parse_keyframes(keyframes)
            except prompts.PromptScheduleError as err:
                return str(err)
        return True

    @classmethod
    def execute(cls, clip, keyframes, video_length=8) -> io.NodeOutput:
        with c.as_node(DISPLAY_NAME):
            if clip is None:
                raise prompts.PromptScheduleError("clip: no CLIP connected; connect Load Checkpoint's CLIP output")
            return io.NodeOutput(prompts.schedule_conditioning(_encoder(clip), keyframes, video_length))
