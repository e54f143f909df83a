"""Cross-frame attention (paper §3.3.2) as a ComfyUI attn1 patch.

Every frame's self-attention takes its keys and values from the anchor frame (frame 0)
of its own guidance group, which keeps identity and background consistent.

Batch layout: ComfyUI concatenates one block of frames per entry of
``transformer_options["cond_or_uncond"]`` (cond and uncond may come together or in
separate calls, and there may be any number of groups, e.g. three for InstructPix2Pix).
Each block is the video, frame 0 first.

Two hooks of ComfyUI's BasicTransformerBlock work together, scoped to the blocks we
registered:
  * an ``attn1_patch`` swaps the self-attention context for the anchor frame's hidden
    states, so the block projects keys/values for one frame per group, not for N;
  * an ``attn1_replace`` lets every frame's queries attend to those anchor keys/values.
    The queries of a group are laid end to end ((G, N·L, C)) and attend to the anchor's
    (G, L, C) in one call of ComfyUI's active attention backend: no per-frame copies
    of the keys and values are made.
"""
from __future__ import annotations

import logging
from typing import Iterable

import torch

logger = logging.getLogger(__name__)

from . import audit, tome
from .problem import UserError


class NotAUNetError(UserError):
    """The model is not a UNet (Flux, SD3 ...): cross-frame attention has nothing to patch."""


def _groups(extra_options: dict, batch: int) -> int:
    cou = extra_options.get("cond_or_uncond") or [0]
    groups = len(cou)
    if batch % groups:
        raise RuntimeError(f"cross-frame attention: batch {batch} does not split into "
                           f"{groups} guidance groups {cou}")
    return groups


def anchor_of(t: torch.Tensor, groups: int, anchor: int = 0) -> torch.Tensor:
    """Rows of ``t`` (B, L, C) that belong to the anchor frame of each group → (G, L, C)."""
    b = t.shape[0]
    return t.view(groups, b // groups, *t.shape[1:])[:, anchor]


def cross_frame_kernel():
    """ComfyUI's active attention function, except where it is sub-quadratic or split (the CPU
    default and a low-memory choice): the cross-frame call then uses PyTorch SDPA. It attends to
    one anchor's keys only, so SDPA's memory stays small, and bench/bench_t2vz.py measured it at
    0.23-0.29x the time of sub-quadratic for this call (8 frames at 256², 4 at 512², CPU),
    which brings the whole pack from 2.7x to 1.2x diffusers' time. SDPA, xformers, sage and
    flash are kept as the user chose them."""
    from comfy.ldm.modules import attention as comfy_attention
    fn = comfy_attention.optimized_attention
    slow = {getattr(comfy_attention, name, None) for name in ("attention_sub_quad", "attention_split")}
    if fn in slow and hasattr(comfy_attention, "attention_pytorch"):
        return comfy_attention.attention_pytorch
    return fn


def cross_frame_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                          groups: int, attention_fn=None, **attn_kwargs) -> torch.Tensor:
    """Attention of every frame's queries onto its group's anchor keys/values.

    q: (G·N, L, C). k, v: (G, L', C) anchor-only, or (G·N, L', C) for all frames (the
    anchor rows are picked). Returns (G·N, L, C).
    """
    if attention_fn is None:
        attention_fn = cross_frame_kernel()
    b, seq, _ = q.shape
    frames = b // groups
    if k.shape[0] == b and frames > 1:
        k, v = anchor_of(k, groups), anchor_of(v, groups)
    elif k.shape[0] != groups:
        raise RuntimeError(f"cross-frame attention: keys for {k.shape[0]} rows, "
                           f"expected {groups} anchors or {b} frames")
    out = attention_fn(q.reshape(groups, frames * seq, q.shape[-1]), k, v, heads, **attn_kwargs)
    return out.reshape(b, seq, out.shape[-1])


ANCHOR_KEY = "t2vz_anchor"  # transformer_options entry set by chunked sampling (see chunking.py)


class AnchorStore:
    """Frame 0's self-attention context per block and guidance group, shared by the chunks
    of one model evaluation.

    ``record``: the batch holds frame 0 first in each group; its context is kept.
    ``use``: the batch holds only later frames; frame 0's kept context is used.
    Groups are keyed by their ``cond_or_uncond`` entry (and its occurrence), so chunks may
    batch cond and uncond differently from the chunk that recorded them.
    """

    def __init__(self):
        self.mode = "record"
        self.context: dict[tuple, dict[tuple, tuple[torch.Tensor, torch.Tensor]]] = {}

    @staticmethod
    def tags(cond_or_uncond) -> list[tuple]:
        seen: dict = {}
        out = []
        for c in cond_or_uncond:
            out.append((c, seen.get(c, 0)))
            seen[c] = seen.get(c, 0) + 1
        return out

    def put(self, block, cond_or_uncond, context, value):
        slot = self.context.setdefault(block, {})
        for i, tag in enumerate(self.tags(cond_or_uncond)):
            slot[tag] = (context[i:i + 1], value[i:i + 1])

    def get(self, block, cond_or_uncond):
        slot = self.context.get(block)
        if slot is None:
            raise RuntimeError(f"cross-frame attention: no anchor context recorded for block {block}; "
                               "the chunk holding frame 0 must run first")
        try:
            pairs = [slot[tag] for tag in self.tags(cond_or_uncond)]
        except KeyError as e:
            raise RuntimeError(f"cross-frame attention: no anchor for guidance group {e} in block {block}") from None
        return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])


class CrossFrameAttentionPatch:
    """Callable for both hooks; ``blocks`` is the set of (block, id, index) keys it covers."""

    t2vz_cross_frame = True  # marks our patches so re-applying replaces instead of stacking

    def __init__(self, blocks: Iterable[tuple]):
        self.blocks = frozenset(blocks)

    def _key(self, extra_options: dict):
        block = extra_options.get("block")
        if block is None:
            return None
        key = (block[0], block[1], extra_options.get("block_index", 0))
        return key if key in self.blocks else None

    @staticmethod
    def _perturbed(key, extra_options) -> bool:
        """In core PAG's perturbed pass, its block's self-attention is the identity (see audit.py)."""
        return key is not None and extra_options.get(audit.PERTURB_KEY) == key[:2]

    # attn1_patch: (n, context, value, extra_options) -> (n, context, value)
    def context_patch(self, n, context_attn1, value_attn1, extra_options):
        key = self._key(extra_options)
        if key is None or self._perturbed(key, extra_options):
            return n, context_attn1, value_attn1
        cou = extra_options.get("cond_or_uncond") or [0]
        groups = _groups(extra_options, n.shape[0])
        store: AnchorStore | None = extra_options.get(ANCHOR_KEY)
        if store is not None and store.mode == "use":
            ctx, val = store.get(key, cou)
            return n, ctx.to(n), val.to(n)
        rows = context_attn1.shape[0]
        if value_attn1.shape[0] != rows or rows % groups or n.shape[0] % rows:
            return n, context_attn1, value_attn1  # someone else changed the layout; replace picks anchors
        # rows < n's rows: a patch before ours split the queries into tiles (HyperTile); the
        # context still holds one row per frame, so frame 0's rows are found the same way
        ctx, val = anchor_of(context_attn1, groups), anchor_of(value_attn1, groups)
        if store is not None:
            store.put(key, cou, ctx, val)
        if rows == groups:  # one frame per group: plain self-attention
            return n, context_attn1, value_attn1
        return n, ctx, val

    # attn1_replace: (q, k, v, extra_options) -> attention output
    def __call__(self, q, k, v, extra_options):
        if self._perturbed(self._key(extra_options), extra_options):
            return v  # what PAG's own replace returns
        groups = _groups(extra_options, q.shape[0])
        return cross_frame_attention(q, k, v, extra_options["n_heads"], groups,
                                     attn_precision=extra_options.get("attn_precision"),
                                     transformer_options=extra_options)


def unet_of(model_patcher):
    """The UNetModel behind a ModelPatcher, or NotAUNetError."""
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel
    dm = model_patcher.get_model_object("diffusion_model")
    if not isinstance(dm, UNetModel):
        arch = type(model_patcher.model).__name__
        raise NotAUNetError(
            f"cross-frame attention works on UNet models (SD1.x, SD2.x, SDXL and their fine-tunes); "
            f"this MODEL is {arch} ({type(dm).__name__}). Connect a UNet checkpoint.")
    return dm


def transformer_block_keys(unet) -> list[tuple]:
    """(block, id, index) of every self-attention transformer block, as ComfyUI names them."""
    from comfy.ldm.modules.attention import SpatialTransformer
    keys = []

    def scan(name, blocks):
        for i, block in enumerate(blocks):
            for layer in block.modules():
                if isinstance(layer, SpatialTransformer):
                    keys.extend((name, i, j) for j in range(len(layer.transformer_blocks)))

    scan("input", unet.input_blocks)
    scan("middle", [unet.middle_block])
    scan("output", unet.output_blocks)
    return keys


def patch_model(model_patcher, token_merge_ratio: float = 0.0, merge_anchor_keys: bool = False):
    """A clone of ``model_patcher`` with cross-frame attention on every UNet transformer block,
    and token merging at ``token_merge_ratio`` (0 = off; see tome.py).

    Re-applying to an already patched model gives the same result (our previous attn1
    patches are removed, the replace entries overwritten).
    """
    unet = unet_of(model_patcher)
    keys = transformer_block_keys(unet)
    if not keys:
        raise NotAUNetError("this UNet has no attention blocks to patch")
    m = model_patcher.clone()
    to = m.model_options["transformer_options"]
    patches = dict(to.get("patches", {}))
    patches["attn1_patch"] = [p for p in patches.get("attn1_patch", [])
                              if not getattr(getattr(p, "__self__", p), "t2vz_cross_frame", False)]
    to["patches"] = patches
    patch = CrossFrameAttentionPatch(keys)
    m.set_model_attn1_patch(patch.context_patch)
    for name, i, j in keys:
        m.set_model_attn1_replace(patch, name, i, j)
    tome.apply(m, token_merge_ratio, merge_anchor_keys)
    audit.check(m.model_options, m, blocks=patch.blocks, warn=False)  # warnings once, when sampling starts
    audit.install(m)
    logger.debug("cross-frame attention on %d transformer blocks", len(keys))
    return m


def is_patched(model_patcher) -> bool:
    to = model_patcher.model_options.get("transformer_options", {})
    return any(getattr(getattr(p, "__self__", p), "t2vz_cross_frame", False)
               for p in to.get("patches", {}).get("attn1_patch", []))
