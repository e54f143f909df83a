"""Cross-frame attention through ComfyUI's BasicTransformerBlock equals diffusers'.

The same weights are loaded into a ComfyUI block (with our attn1 patch + replace) and a
diffusers block (with ``CrossFrameAttnProcessor2_0(batch_size=groups)`` on attn1), and
both run the same hidden states. Tolerance 1e-5: both compute the same float32 ops
(SDPA softmax) but ComfyUI lays a group's queries end to end and attends once, while
diffusers repeats the anchor keys per frame, so reductions may round differently.
"""
from __future__ import annotations

import pytest
import torch

import comfy.ldm.modules.attention as comfy_attention
import comfy.ops
from diffusers.models.attention import BasicTransformerBlock as DiffusersBlock
from diffusers.pipelines.deprecated.text_to_video_synthesis.pipeline_text_to_video_zero import (
    CrossFrameAttnProcessor2_0,
)

from t2vz_core.attention import CrossFrameAttentionPatch, cross_frame_attention

DIM, HEADS, DHEAD, CTX = 64, 2, 32, 48
BLOCK_KEY = ("input", 1, 0)


# SDXL's attention blocks: 64-channel heads, 2048-wide text context (scaled down in width)
SDXL_SHAPE = dict(dim=128, heads=2, dhead=64, ctx=2048)


def _blocks(seed=0, dim=DIM, heads=HEADS, dhead=DHEAD, ctx=CTX):
    torch.manual_seed(seed)
    cb = comfy_attention.BasicTransformerBlock(dim, heads, dhead, context_dim=ctx, gated_ff=True,
                                               operations=comfy.ops.disable_weight_init)
    db = DiffusersBlock(dim, heads, dhead, cross_attention_dim=ctx, activation_fn="geglu")
    # fan-in scaled weights keep activations O(1) at SD1.5 and SDXL widths alike
    sd = {k: torch.randn_like(v) * (v.shape[-1] ** -0.5 if v.ndim == 2 else 0.2) for k, v in db.state_dict().items()}
    db.load_state_dict(sd)
    cb.load_state_dict(sd)
    return cb.eval(), db.eval()


def _options(patch, cond_or_uncond):
    return {
        "patches": {"attn1_patch": [patch.context_patch]},
        "patches_replace": {"attn1": {BLOCK_KEY: patch}},
        "block": BLOCK_KEY[:2],
        "block_index": BLOCK_KEY[2],
        "cond_or_uncond": list(cond_or_uncond),
    }


@pytest.mark.parametrize("cond_or_uncond", [[0], [1, 0], [0, 1, 2]], ids=["1group", "2groups", "3groups"])
@pytest.mark.parametrize("frames", [1, 4])
@pytest.mark.parametrize("shape", ["sd15", "sdxl"])
def test_block_matches_diffusers_cross_frame_processor(cond_or_uncond, frames, shape):
    dims = SDXL_SHAPE if shape == "sdxl" else dict(dim=DIM, heads=HEADS, dhead=DHEAD, ctx=CTX)
    cb, db = _blocks(**dims)
    groups = len(cond_or_uncond)
    torch.manual_seed(1)
    x = torch.randn(groups * frames, 16, dims["dim"])
    context = torch.randn(groups * frames, 7, dims["ctx"])
    db.attn1.set_processor(CrossFrameAttnProcessor2_0(batch_size=groups))
    patch = CrossFrameAttentionPatch([BLOCK_KEY])
    with torch.no_grad():
        ours = cb(x, context=context, transformer_options=_options(patch, cond_or_uncond))
        ref = db(x, encoder_hidden_states=context)
    assert ours.shape == ref.shape
    assert (ours - ref).abs().max().item() <= 1e-5


def test_frames_really_attend_to_frame_zero():
    """Changing frame 0 changes every frame's output; changing frame 2 changes only frame 2."""
    cb, _ = _blocks()
    patch = CrossFrameAttentionPatch([BLOCK_KEY])
    torch.manual_seed(2)
    x = torch.randn(4, 16, DIM)
    opts = _options(patch, [0])
    with torch.no_grad():
        base = cb(x, context=torch.zeros(4, 7, CTX), transformer_options=opts)
        x0 = x.clone(); x0[0] += torch.randn(16, DIM)
        moved0 = cb(x0, context=torch.zeros(4, 7, CTX), transformer_options=opts)
        x2 = x.clone(); x2[2] += torch.randn(16, DIM)
        moved2 = cb(x2, context=torch.zeros(4, 7, CTX), transformer_options=opts)
    per_frame0 = (moved0 - base).abs().amax(dim=(1, 2))
    per_frame2 = (moved2 - base).abs().amax(dim=(1, 2))
    assert (per_frame0 > 1e-3).all()
    assert per_frame2[2] > 1e-3 and torch.all(per_frame2[[0, 1, 3]] == 0)


def test_block_not_covered_is_left_alone():
    """The attn1_patch only acts on the blocks the patch registered."""
    cb, db = _blocks()
    patch = CrossFrameAttentionPatch([("output", 5, 0)])
    torch.manual_seed(3)
    x = torch.randn(3, 16, DIM)
    opts = {"patches": {"attn1_patch": [patch.context_patch]}, "block": ("input", 1), "block_index": 0,
            "cond_or_uncond": [0]}
    with torch.no_grad():
        ctx = torch.randn(3, 7, CTX)
        ours = cb(x, context=ctx, transformer_options=opts)
        plain = cb(x, context=ctx, transformer_options={"block": ("input", 1), "block_index": 0})
    assert torch.equal(ours, plain)


@pytest.mark.parametrize("backend", ["attention_basic", "attention_split", "attention_sub_quad", "attention_pytorch"])
def test_every_comfy_attention_backend(backend):
    """The replace goes through whichever ComfyUI attention function is active."""
    fn = getattr(comfy_attention, backend)
    torch.manual_seed(4)
    q = torch.randn(2 * 3, 10, 64)
    k = torch.randn(2 * 3, 10, 64)
    v = torch.randn(2 * 3, 10, 64)
    out = cross_frame_attention(q, k, v, 2, 2, attention_fn=fn)
    # naive: each frame attends to its group's frame 0, frame by frame
    ref = []
    for g in range(2):
        for f in range(3):
            i, a = g * 3 + f, g * 3
            ref.append(comfy_attention.attention_basic(q[i:i + 1], k[a:a + 1], v[a:a + 1], 2))
    ref = torch.cat(ref)
    assert (out - ref).abs().max().item() <= 1e-5


def test_anchor_keys_are_projected_once_per_group():
    """The context patch hands the block one anchor row per group, not one per frame."""
    patch = CrossFrameAttentionPatch([BLOCK_KEY])
    n = torch.randn(2 * 5, 16, DIM)
    opts = {"block": BLOCK_KEY[:2], "block_index": 0, "cond_or_uncond": [1, 0]}
    _, ctx, val = patch.context_patch(n, n, n, opts)
    assert ctx.shape == (2, 16, DIM) and val.shape == (2, 16, DIM)
    assert torch.equal(ctx[0], n[0]) and torch.equal(ctx[1], n[5])
