"""Other patches in the same graph as cross-frame attention (t2vz_core/audit.py).

Every core node is applied before and after Cross-Frame Attention on the tiny UNet and
gives the documented result (equal to a reference computed another way) or the
documented error. Third-party packs are not installable here: their stand-ins carry the
class names and patch keys the real packs use (read from their code)."""
from __future__ import annotations

import logging
import random
import types

import pytest
import torch

import comfy.samplers
import nodes
from comfy.ldm.modules.attention import optimized_attention
from comfy_extras.nodes_context_windows import ContextWindowsManualNode
from comfy_extras.nodes_hypertile import HyperTile
from comfy_extras.nodes_pag import PerturbedAttentionGuidance
from comfy_extras.nodes_sag import SelfAttentionGuidance
from comfy_extras.nodes_tomesd import TomePatchModel
from t2vz_core import attention, audit, chunking, parts, sampling
from t2vz_core.problem import UserError

FRAMES = 4
STEPS = 2
REL_TOL = 1e-5  # same math on differently shaped batches (see test_chunking.py)


@pytest.fixture(scope="module")
def tiny(tiny_dog):
    return tiny_dog[:3]


def _node(cls, model, **inputs):
    out = cls.execute(model, **inputs)
    return out[0] if isinstance(out, tuple) else out.result[0]


def _latent(frames=FRAMES):
    return torch.randn(frames, 4, 8, 8, generator=torch.Generator().manual_seed(3)) * 10


def _sample(model, pos, neg, chunk_size=0, frames=FRAMES):
    lat = _latent(frames)
    if chunk_size:
        model = chunking.apply(model, chunking.ChunkPlan.make(frames, chunk_size))
    g = comfy.samplers.CFGGuider(model)
    g.set_conds(pos, neg)
    g.set_cfg(7.5)
    sig = sampling.schedule(model, STEPS, "euler", "normal")
    torch.manual_seed(0)  # core ToMe / HyperTile draw from the global RNGs
    random.seed(0)
    with torch.inference_mode():
        return g.sample(torch.zeros_like(lat), lat, comfy.samplers.sampler_object("euler"), sig, seed=1)


def _close(a, b):
    return (a - b).abs().max().item() <= REL_TOL * b.abs().max().item()


def _warnings(caplog, text):
    return [r for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


# -- the audit runs at both places, once -------------------------------------------------------

def test_audit_wrapper_is_installed_once(tiny):
    import comfy.patcher_extension as pe
    m = attention.patch_model(attention.patch_model(tiny[0]))
    assert m.get_wrappers(pe.WrappersMP.OUTER_SAMPLE, audit.WRAPPER_KEY) == [audit.outer_sample_wrapper]
    assert tiny[0].get_wrappers(pe.WrappersMP.OUTER_SAMPLE, audit.WRAPPER_KEY) == []  # the user's model is untouched


# -- core ToMe: works in either order, one warning ----------------------------------------------

@pytest.mark.parametrize("chunk_size", [0, 2])
def test_tome_either_order_same_video_and_warns(tiny, caplog, chunk_size):
    model, pos, neg = tiny
    before = attention.patch_model(_node(TomePatchModel, model, ratio=0.5))
    after = _node(TomePatchModel, attention.patch_model(model), ratio=0.5)
    with caplog.at_level(logging.WARNING):
        a = _sample(before, pos, neg, chunk_size)
        assert len(_warnings(caplog, "Token Merging (TomePatchModel)")) == 1
        b = _sample(after, pos, neg, chunk_size)
    assert torch.equal(a, b)  # the same random partitions, drawn in the same order
    assert not _close(a, _sample(attention.patch_model(model), pos, neg, chunk_size))  # ToMe did act
    assert len(_warnings(caplog, "token_merge_ratio")) == 2


# -- core HyperTile: works in either order, the same video as without it, one warning -------------

@pytest.mark.parametrize("chunk_size", [0, 2])
def test_hypertile_either_order_equals_cross_frame_alone(tiny, caplog, chunk_size):
    model, pos, neg = tiny
    ref = _sample(attention.patch_model(model), pos, neg, chunk_size)
    ht = dict(tile_size=32, swap_size=1, max_depth=0, scale_depth=False)  # tiles the 8×8 latent in 2×2
    for m in (attention.patch_model(_node(HyperTile, model, **ht)), _node(HyperTile, attention.patch_model(model), **ht)):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            out = _sample(m, pos, neg, chunk_size)
        assert _close(out, ref), (out - ref).abs().max()
        assert len(_warnings(caplog, "HyperTile")) == 1


def test_hypertile_really_tiles(tiny):
    """The case above is not trivial: HyperTile alone changes the frames at this size."""
    model, pos, neg = tiny
    ht = dict(tile_size=32, swap_size=1, max_depth=0, scale_depth=False)
    assert not _close(_sample(_node(HyperTile, model, **ht), pos, neg), _sample(model, pos, neg))


# -- core PAG: works in either order, perturbing the middle block of a cross-frame model ---------

def _pag_reference(model):
    """PAG computed another way: its perturbed pass on a separately built model where the
    middle block's self-attention is the identity (each token's value) and every other block
    attends to frame 0; the guidance formula written out."""
    dm = model.get_model_object("diffusion_model")
    keys = attention.transformer_block_keys(dm)
    middle = [k for k in keys if k[:2] == ("middle", 0)]
    others = [k for k in keys if k[:2] != ("middle", 0)]
    assert middle and others
    ref = model.clone()
    patch = attention.CrossFrameAttentionPatch(others)
    ref.set_model_attn1_patch(patch.context_patch)
    for k in others:
        ref.set_model_attn1_replace(patch, *k)
    for k in middle:
        ref.set_model_attn1_replace(lambda q, k_, v, extra_options: v, *k)

    def pag(args):
        (perturbed,) = comfy.samplers.calc_cond_batch(args["model"], [args["cond"]], args["input"], args["sigma"],
                                                      ref.model_options)
        return args["denoised"] + (args["cond_denoised"] - perturbed) * 3.0

    m = attention.patch_model(model)
    m.set_model_sampler_post_cfg_function(pag)
    return m


def test_pag_acts_on_cross_frame_attention_in_either_order(tiny):
    model, pos, neg = tiny
    ref = _sample(_pag_reference(model), pos, neg)
    assert not _close(ref, _sample(attention.patch_model(model), pos, neg))  # PAG changes the video
    before = attention.patch_model(_node(PerturbedAttentionGuidance, model, scale=3.0))
    after = _node(PerturbedAttentionGuidance, attention.patch_model(model), scale=3.0)
    for m in (before, after):
        assert _close(_sample(m, pos, neg), ref)
    assert _close(_sample(after, pos, neg, chunk_size=2), ref)


# -- core SAG: refused in either order ------------------------------------------------------------

def test_sag_refused_in_either_order(tiny):
    model, pos, neg = tiny
    name = r"Self-Attention Guidance \(SelfAttentionGuidance\)"
    inputs = dict(scale=0.5, blur_sigma=2.0)
    with pytest.raises(UserError, match=r"cannot be combined with " + name + r": .*Remove the SAG node"):
        attention.patch_model(_node(SelfAttentionGuidance, model, **inputs))
    after = _node(SelfAttentionGuidance, attention.patch_model(model), **inputs)
    for chunk_size in (0, 2):
        with pytest.raises(UserError, match=r"cannot be combined with " + name):
            _sample(after, pos, neg, chunk_size)


# -- core Context Windows: refused in either order -------------------------------------------------

def test_context_windows_refused_in_either_order(tiny):
    model, pos, neg = tiny
    cw = dict(context_length=3, context_overlap=1, context_schedule="standard_static", context_stride=1,
              closed_loop=False, fuse_method="pyramid", dim=0)
    msg = r"Context Windows \(ContextWindowsManual\): .*set chunk_size on the T2VZ sampler"
    with pytest.raises(UserError, match=msg):
        attention.patch_model(_node(ContextWindowsManualNode, model, **cw))
    after = _node(ContextWindowsManualNode, attention.patch_model(model), **cw)
    with pytest.raises(UserError, match=msg):
        _sample(after, pos, neg)
    with pytest.raises(UserError, match=msg):  # our chunking would have replaced its windows silently
        _sample(after, pos, neg, chunk_size=2)


def test_chunking_alone_is_not_context_windows(tiny):
    model, pos, neg = tiny
    _sample(attention.patch_model(model), pos, neg, chunk_size=2)  # no error


# -- third-party stand-ins ---------------------------------------------------------------------------

def _ade_context_options(model):
    """AnimateDiff-Evolved's ModelPatcherHelper: InjectionParams as attachment 'ADE_params' (its
    context_options.context_length set by a Context Options node) and an outer-sample wrapper 'ADE'."""
    import comfy.patcher_extension as pe
    m = model.clone()
    ctx = types.SimpleNamespace(context_length=16, extras=types.SimpleNamespace(context_ref=None))
    m.set_attachments("ADE_params", types.SimpleNamespace(context_options=ctx))
    m.add_wrapper_with_key(pe.WrappersMP.OUTER_SAMPLE, "ADE", lambda executor, *a, **k: executor(*a, **k))
    return m


class ReferenceAttnPatch:
    """Advanced-ControlNet's marker patch (control_reference.py): an attn1 output patch that
    returns its input; the reference control injects through it."""

    def __call__(self, x, extra_options):
        return x


def _reference_only(model):
    m = model.clone()
    m.set_model_attn1_output_patch(ReferenceAttnPatch())
    m.model_options["ref_control_info"] = 0
    return m


@pytest.mark.parametrize("apply, msg", [
    (_ade_context_options, r"AnimateDiff-Evolved Context Options .*set chunk_size on the T2VZ sampler"),
    (_reference_only, r"Advanced-ControlNet reference-only .*Remove the reference ControlNet"),
])
def test_third_party_refused_in_either_order(tiny, apply, msg):
    model, pos, neg = tiny
    with pytest.raises(UserError, match=msg):
        attention.patch_model(apply(model))
    with pytest.raises(UserError, match=msg):
        _sample(apply(attention.patch_model(model)), pos, neg)


def test_replacing_cross_frame_attention_later_is_refused(tiny):
    """diffusers' silent bug: an attention set later undoes cross-frame attention."""
    model, pos, neg = tiny

    def plain_attention(q, k, v, extra_options):
        return optimized_attention(q, k, v, extra_options["n_heads"])

    m = attention.patch_model(model).clone()
    name, i, j = attention.transformer_block_keys(m.get_model_object("diffusion_model"))[-1]
    m.set_model_attn1_replace(plain_attention, name, i, j)
    with pytest.raises(UserError, match=r"plain_attention\): replaced cross-frame attention in 1 block"):
        _sample(m, pos, neg)


class Attn2Replace:
    """IPAdapter (cubiq)'s attn2 replace, reduced to its per-frame slicing: one image embed
    per frame; with AnimateDiff's ``ad_params`` the embeds are brought to ``full_length``
    rows (the last repeated, or cut) and ``sub_idxs`` picks the model call's frames, without
    them the first rows of the batch are taken. Its attention output is added to the text one."""

    def __init__(self, embeds):
        self.embeds = embeds  # (frames, tokens, dim)

    @staticmethod
    def _to_size(t, n):
        return torch.cat([t, t[-1:].repeat(n - t.shape[0], 1, 1)]) if t.shape[0] < n else t[:n]

    def __call__(self, q, k, v, extra_options):
        heads, cou = extra_options["n_heads"], extra_options["cond_or_uncond"]
        out = optimized_attention(q, k, v, heads)
        ad = extra_options.get("ad_params")
        per_group = q.shape[0] // len(cou)
        if ad and ad.get("sub_idxs") is not None:
            emb = self._to_size(self.embeds, ad["full_length"])[ad["sub_idxs"]]
        else:
            emb = self._to_size(self.embeds, per_group)
        emb = emb.to(q).repeat(len(cou), 1, 1)
        return out + optimized_attention(q, emb, emb, heads)


def _with_ipadapter(model, frames=FRAMES):
    m = model.clone()
    dm = m.get_model_object("diffusion_model")
    keys = attention.transformer_block_keys(dm)
    dim = dm.input_blocks[1][1].transformer_blocks[0].attn2.to_q.out_features
    embeds = torch.randn(frames, 4, dim, generator=torch.Generator().manual_seed(5))
    repl = Attn2Replace(embeds)
    for name, i, j in keys:
        m.set_model_attn2_replace(repl, name, i, j)
    return m


def test_ipadapter_per_frame_embeds_follow_the_chunks(tiny):
    model, pos, neg = tiny
    m = attention.patch_model(_with_ipadapter(model))
    whole = _sample(m, pos, neg)
    for chunk_size in (2, 3):
        assert _close(_sample(m, pos, neg, chunk_size), whole), chunk_size
    assert not _close(whole, _sample(attention.patch_model(model), pos, neg))  # the embeds did act


@pytest.mark.parametrize("chunk_size", [2, 0])
def test_ipadapter_per_frame_embeds_follow_global_frame_ids_in_parts(tiny, chunk_size):
    """A part after frame 0 gets its own frames' embeds, not the first rows of its batch:
    parts cut on the chunks equal one run bit for bit; unchunked parts (batch [0, 3, 4, 5])
    equal it up to float rounding."""
    model, pos, neg = tiny
    m = attention.patch_model(_with_ipadapter(model, frames=6))
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]

    def run(**frames):
        with torch.inference_mode():
            return sampler.execute(model=m, positive=pos, negative=neg, seed=4, steps=3, cfg=7.5,
                                   sampler_name="euler", scheduler="normal", width=64, height=64, video_length=6,
                                   motion_field_strength_x=8.0, motion_field_strength_y=0.0, t0=44, t1=47,
                                   chunk_size=chunk_size, **frames).result[0]

    whole = run()["samples"]
    got = [run(frame_start=p.frame_start, frame_count=p.frame_count) for p in parts.split(6, 2, chunk_size)]
    assert [g["t2vz_frame_ids"] for g in got] == [[0, 1, 2], [3, 4, 5]] if not chunk_size else \
        [[0, 1, 2, 3], [4, 5]]
    joined = torch.cat([g["samples"] for g in got])
    if chunk_size:
        assert torch.equal(joined, whole)
    else:
        assert _close(joined, whole)
