"""Cross-frame attention inside a ControlNet (the reference sets CrossFrameAttnProcessor
on the ControlNet too).

ComfyUI calls a ControlNet's model without ``transformer_options``, so the UNet's attn1
patches never reach it. Instead, ``CrossFrameControlNet`` (a ``comfy.controlnet.ControlNet``)
owns a *clone* of the control model's ModelPatcher whose object patches swap each
self-attention module for a wrapper while the clone is loaded; ``get_control`` tells the
wrappers the batch layout (``cond_or_uncond``, and the chunk's anchor store when sampling
in chunks). The CONTROL_NET the user passed in keeps its own patcher and behaves as before.
"""
from __future__ import annotations

import itertools

import torch
from torch import nn

import comfy.controlnet
from comfy.ldm.modules.attention import CrossAttention

from .attention import ANCHOR_KEY, AnchorStore, anchor_of, cross_frame_attention
from .chunking import VIDEO_FRAMES_KEY
from .problem import UserError

_ids = itertools.count()


class FrameLayout:
    """Set by get_control for the duration of one control-model call."""

    def __init__(self):
        self.uid = next(_ids)
        self.cond_or_uncond: list | None = None
        self.store: AnchorStore | None = None
        self.calls = 0


class CrossFrameSelfAttention(nn.Module):
    """Wraps one CrossAttention: self-attention reads the anchor frame's keys/values."""

    def __init__(self, inner: CrossAttention, layout: FrameLayout, key: str):
        super().__init__()
        self.inner = inner  # a submodule, so the patcher still moves its weights
        self.__dict__["_layout"] = layout
        self.__dict__["_key"] = ("controlnet", layout.uid, key)

    def forward(self, x, context=None, value=None, mask=None, transformer_options={}):
        layout = self._layout
        inner = self.inner
        cou = layout.cond_or_uncond
        if context is not None or value is not None or mask is not None or cou is None:
            return inner(x, context=context, value=value, mask=mask, transformer_options=transformer_options)
        groups = len(cou)
        if x.shape[0] % groups:
            raise RuntimeError(f"cross-frame ControlNet: batch {x.shape[0]} does not split into {groups} guidance groups")
        store = layout.store
        if store is not None and store.mode == "use":
            anchor, _ = store.get(self._key, cou)
            anchor = anchor.to(x)
        else:
            anchor = anchor_of(x, groups)
            if store is not None:
                store.put(self._key, cou, anchor, anchor)
        layout.calls += 1
        q = inner.to_q(x)
        k = inner.to_k(anchor)
        v = inner.to_v(anchor)
        out = cross_frame_attention(q, k, v, inner.heads, groups, attn_precision=inner.attn_precision)
        return inner.to_out(out)


def _self_attention_paths(control_model: nn.Module) -> list[str]:
    return [name for name, mod in control_model.named_modules()
            if name.endswith(".attn1") and isinstance(mod, CrossAttention)]


class CrossFrameControlNet(comfy.controlnet.ControlNet):
    t2vz_cross_frame = True

    def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
        hint = self.cond_hint_original
        frames = x_noisy.shape[0] // max(1, batched_number)
        if isinstance(hint, torch.Tensor) and hint.shape[0] not in (1, frames):
            video_frames = transformer_options.get(VIDEO_FRAMES_KEY, frames)  # chunks: say the video's length
            raise UserError(f"the cross-frame ControlNet got {hint.shape[0]} hint images for {video_frames} frames; "
                            f"give one hint image per frame to Apply ControlNet (e.g. the frames of the video you "
                            f"load), or a single image for all frames")
        layout = self.t2vz_layout
        layout.cond_or_uncond = list(transformer_options.get("cond_or_uncond") or [0] * batched_number)
        layout.store = transformer_options.get(ANCHOR_KEY)
        try:
            return super().get_control(x_noisy, t, cond, batched_number, transformer_options)
        finally:
            layout.cond_or_uncond = None
            layout.store = None

    def copy(self):
        c = CrossFrameControlNet(None, global_average_pooling=self.global_average_pooling, load_device=self.load_device,
                                 manual_cast_dtype=self.manual_cast_dtype)
        c.control_model = self.control_model
        c.control_model_wrapped = self.control_model_wrapped
        c.t2vz_layout = self.t2vz_layout
        self.copy_to(c)
        return c


    def deepclone_multigpu(self, load_device, autoregister=False):
        """Newer ComfyUI (MultiGPU CFG Split) asks every ControlNet for a deep clone per extra
        GPU. The cross-frame attention lives in object patches on this control's own patcher
        and in one frame layout shared with the sampler's thread; a clone on another GPU
        would run plain self-attention there (a different video without a word), so refuse."""
        raise UserError(MULTI_GPU_REFUSAL)


MULTI_GPU_REFUSAL = (
    "the Cross-Frame ControlNet runs on one GPU: its cross-frame attention is not carried to the copies "
    "that MultiGPU CFG Split makes for other GPUs. Remove MultiGPU CFG Split from the model's path, or "
    "connect the ControlNet without Cross-Frame ControlNet (T2VZ).")


def is_cross_frame(control) -> bool:
    return getattr(control, "t2vz_cross_frame", False)


def cross_frame_controlnet(control: comfy.controlnet.ControlNet) -> CrossFrameControlNet:
    """A copy of ``control`` whose control model attends across frames (clone-scoped)."""
    if is_cross_frame(control):
        return control.copy()
    if type(control) is not comfy.controlnet.ControlNet or getattr(control, "control_model", None) is None:
        raise UserError(f"cross-frame attention works on ControlNet models (SD1.x, SD2.x, SDXL); this CONTROL_NET is a "
                        f"{type(control).__name__}, which has no cross-frame form. Connect a regular ControlNet "
                        f"loaded with Load ControlNet Model.")
    if previous := getattr(control, "previous_controlnet", None):
        raise UserError(f"connect the CONTROL_NET straight from Load ControlNet Model, before "
                        f"Apply ControlNet ({type(previous).__name__} is already chained to it)")
    paths = _self_attention_paths(control.control_model)
    if not paths:
        raise UserError("this ControlNet has no self-attention layers to patch")
    c = CrossFrameControlNet(None, global_average_pooling=control.global_average_pooling,
                             load_device=control.load_device, manual_cast_dtype=control.manual_cast_dtype)
    c.control_model = control.control_model
    c.control_model_wrapped = control.control_model_wrapped.clone()
    control.copy_to(c)
    layout = FrameLayout()
    c.t2vz_layout = layout
    model = control.control_model
    for path in paths:
        c.control_model_wrapped.add_object_patch(path, CrossFrameSelfAttention(model.get_submodule(path), layout, path))
    return c


def _context_dim(module: nn.Module) -> int | None:
    for name, mod in module.named_modules():
        if name.endswith(".attn2") and isinstance(mod, CrossAttention):
            return mod.to_k.in_features if hasattr(mod.to_k, "in_features") else None
    return None


def _family(dim: int | None) -> str:
    return {768: "SD1.x", 1024: "SD2.x", 2048: "SDXL"}.get(dim, f"text width {dim}")


def check_controlnets_fit(model_patcher, *conds_lists) -> None:
    """A clear error, before sampling, for a ControlNet made for another model family
    (an SD1.5 ControlNet on SDXL, or the reverse), instead of a shape error mid-run."""
    unet_dim = _context_dim(model_patcher.get_model_object("diffusion_model"))
    if unet_dim is None:
        return
    seen = set()
    for conds in conds_lists:
        for c in conds or []:
            d = c if isinstance(c, dict) else (c[1] if isinstance(c, (list, tuple)) and len(c) > 1 else {})
            ctrl = d.get("control")
            while ctrl is not None and id(ctrl) not in seen:
                seen.add(id(ctrl))
                cm = getattr(ctrl, "control_model", None)
                dim = _context_dim(cm) if isinstance(cm, nn.Module) else None
                if dim is not None and dim != unet_dim:
                    raise UserError(
                        f"The ControlNet ({_family(dim)}, text width {dim}) does not fit the model "
                        f"({_family(unet_dim)}, text width {unet_dim}): load a {_family(unet_dim)} ControlNet "
                        f"in Load ControlNet Model, or a {_family(dim)} checkpoint.")
                ctrl = getattr(ctrl, "previous_controlnet", None)
