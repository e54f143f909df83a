"""Cross-frame attention node: MODEL → MODEL (a patched clone)."""
from __future__ import annotations

from comfy_api.latest import io

from ..t2vz_core import attention
from ._common import CATEGORY, TOKEN_MERGE_TOOLTIP, advanced, as_node, float_input


class CrossFrameAttention(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_CrossFrameAttention",
            display_name="Cross-Frame Attention (T2VZ)",
            category=f"{CATEGORY}/model",
            description=(
                "Makes every frame's self-attention look at the first frame (Text2Video-Zero §3.3), "
                "which keeps identity and background consistent across a video. Patches a copy of "
                "the model; the model you connect is left as it was. Works on SD1.x, SD2.x and SDXL "
                "UNets with any attention backend."),
            inputs=[
                io.Model.Input("model", tooltip="A UNet model (SD1.x, SD2.x, SDXL, fine-tunes, LoRA-patched)."),
                advanced(float_input("token_merge_ratio", 0.0, TOKEN_MERGE_TOOLTIP, step=0.05, optional=True)),
                advanced(io.Boolean.Input("merge_anchor_keys", default=False, optional=True,
                                          tooltip="With token merging: also merge the first frame's keys and values "
                                              "(as the original tomesd does; faster, a little further from "
                                              "token_merge_ratio 0). Off: only each frame's queries are merged.")),
            ],
            outputs=[
                io.Model.Output(display_name="MODEL",
                                tooltip="A copy of the model whose frames attend to frame 0 of the video."),
            ],
        )

    @classmethod
    def execute(cls, model, token_merge_ratio=0.0, merge_anchor_keys=False) -> io.NodeOutput:
        with as_node("Cross-Frame Attention (T2VZ_CrossFrameAttention)"):
            return io.NodeOutput(attention.patch_model(model, token_merge_ratio, merge_anchor_keys))


class CrossFrameControlNet(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_CrossFrameControlNet",
            display_name="Cross-Frame ControlNet (T2VZ)",
            category=f"{CATEGORY}/model",
            description=(
                "Makes a ControlNet's own attention layers attend to the first frame, as Text2Video-Zero "
                "does for pose, edge and depth videos. Connect it between Load ControlNet Model and the "
                "core Apply ControlNet node, with one hint image per frame. The ControlNet you connect is "
                "left as it was."),
            inputs=[
                io.ControlNet.Input("control_net", tooltip="A ControlNet from Load ControlNet Model (SD1.x, SD2.x or SDXL)."),
            ],
            outputs=[
                io.ControlNet.Output(display_name="CONTROL_NET",
                                     tooltip="A copy of the ControlNet whose frames attend to frame 0 of the video."),
            ],
        )

    @classmethod
    def execute(cls, control_net) -> io.NodeOutput:
        from ..t2vz_core import controlnet
        with as_node("Cross-Frame ControlNet (T2VZ_CrossFrameControlNet)"):
            return io.NodeOutput(controlnet.cross_frame_controlnet(control_net))
