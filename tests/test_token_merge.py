"""Token merging with a seed-fixed partition (t2vz_core/tome.py): the pack's guarantees hold
at token_merge_ratio 0.5 — chunked equals unchunked for 1, 2 and 3 guidance groups, frame
parts equal one long run, the same seed gives the same video — and the merge is core's ToMe
once core's random partition is replaced by ours."""
from __future__ import annotations

import pytest
import torch

import comfy.samplers
import nodes
from comfy_extras import nodes_tomesd
from comfy_extras.nodes_custom_sampler import Guider_DualCFG
from t2vz_core import attention, chunking, sampling, tome

FRAMES = 5
STEPS = 2
REL_TOL = 1e-5  # same math on differently shaped batches (see test_chunking.py)


@pytest.fixture(scope="module")
def tiny(tiny_dog):
    return tiny_dog[:4]


def _latent(frames=FRAMES):
    return torch.randn(frames, 4, 8, 8, generator=torch.Generator().manual_seed(3)) * 10


def _run(model, conds, chunk_size=0, groups="2groups", seed=1):
    lat = _latent()
    if chunk_size:
        model = chunking.apply(model, chunking.ChunkPlan.make(lat.shape[0], chunk_size))
    if groups == "dual":
        g = Guider_DualCFG(model)
        g.set_conds(*conds)
        g.set_cfg(7.5, 1.5)
    else:
        g = comfy.samplers.CFGGuider(model)
        g.set_conds(*conds[:2])
        g.set_cfg(1.0 if groups == "1group" else 7.5)
    sig = sampling.schedule(model, STEPS, "euler", "normal")
    with torch.inference_mode():
        return g.sample(torch.zeros_like(lat), lat, comfy.samplers.sampler_object("euler"), sig, seed=seed)


def _close(a, b):
    return (a - b).abs().max().item() <= REL_TOL * b.abs().max().item()


# -- the pieces ------------------------------------------------------------------------------------

def test_partition_comes_from_the_seed_alone():
    torch.manual_seed(1)
    a = tome.partition(7, 8, 8)
    torch.manual_seed(2)
    assert torch.equal(a, tome.partition(7, 8, 8))
    assert not torch.equal(a, tome.partition(8, 8, 8))
    src, dst = tome.split_indices(a, 8, 8)
    assert dst.numel() == 16 and src.numel() == 48 and set(src.tolist()).isdisjoint(dst.tolist())
    # one destination per 2×2 cell
    assert sorted((int(d) // 8 // 2 * 4 + int(d) % 8 // 2) for d in dst) == list(range(16))


def test_merge_then_unmerge():
    x = torch.randn(3, 64, 5)
    src, dst = tome.split_indices(tome.partition(0, 8, 8), 8, 8)
    m = tome.Merge(x, src, dst, 0)
    assert torch.equal(m.unmerge(m.merge(x)), x)
    m = tome.Merge(x, src, dst, 32)
    y = m.merge(x)
    assert y.shape == (3, 32, 5)
    back = m.unmerge(y)
    kept = src[m.kept[0]]
    assert torch.equal(back[0, kept], x[0, kept])  # unmerged tokens come back as they were


# -- the guarantees at ratio 0.5 -------------------------------------------------------------------

@pytest.mark.parametrize("groups", ["1group", "2groups", "dual"])
@pytest.mark.parametrize("merge_keys", [False, True])
def test_chunked_equals_unchunked(tiny, groups, merge_keys):
    model, pos, neg, mid = tiny
    conds = (pos, mid, neg) if groups == "dual" else (pos, neg)
    m = attention.patch_model(model, 0.5, merge_keys)
    whole = _run(m, conds, 0, groups)
    assert _close(_run(m, conds, 2, groups), whole)
    assert not _close(whole, _run(attention.patch_model(model), conds, 0, groups))  # merging did act


def test_same_seed_same_video_other_seed_other_partition(tiny):
    model, pos, neg, _ = tiny
    m = attention.patch_model(model, 0.5)
    a = _run(m, (pos, neg), seed=5)
    torch.manual_seed(123)  # the global RNG plays no part
    assert torch.equal(a, _run(m, (pos, neg), seed=5))
    assert not torch.equal(a, _run(m, (pos, neg), seed=6))  # (euler adds no noise: the partition differs)


def test_ratio_zero_is_cross_frame_attention_alone(tiny):
    model, pos, neg, _ = tiny
    assert torch.equal(_run(attention.patch_model(model, 0.0), (pos, neg)), _run(attention.patch_model(model), (pos, neg)))
    m = attention.patch_model(attention.patch_model(model, 0.5), 0.0)  # re-applying replaces the setting
    assert torch.equal(_run(m, (pos, neg)), _run(attention.patch_model(model), (pos, neg)))


def test_equals_core_tome_with_our_partition(tiny, monkeypatch):
    model, pos, neg, _ = tiny
    seed = 9

    pick = tome.partition(seed, 8, 8)  # the 8×8 latent's tokens, in the highest-resolution blocks

    def our_partition(high, size, device=None, **_):
        assert high == 4 and tuple(size) == (4, 4, 1)
        return pick.view(size).to(device)

    monkeypatch.setattr(nodes_tomesd.torch, "randint", our_partition)
    core = nodes_tomesd.TomePatchModel.execute(attention.patch_model(model), ratio=0.5).result[0]
    theirs = _run(core, (pos, neg), seed=seed)
    monkeypatch.undo()
    ours = _run(attention.patch_model(model, 0.5), (pos, neg), seed=seed)
    assert _close(ours, theirs), (ours - theirs).abs().max()


def test_parts_equal_one_run_through_the_sampler(tiny):
    model, pos, neg, _ = tiny
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]

    def run(**over):
        args = dict(seed=4, steps=4, cfg=7.5, sampler_name="euler", scheduler="normal", width=64, height=64,
                    video_length=5, motion_field_strength_x=8.0, motion_field_strength_y=0.0, t0=44, t1=47,
                    chunk_size=2, token_merge_ratio=0.5)
        args.update(over)
        with torch.inference_mode():
            return sampler.execute(model=model, positive=pos, negative=neg, **args).result[0]["samples"]

    whole = run()
    assert _close(run(frame_start=3), whole[3:])
    assert not _close(run(token_merge_ratio=0.0), whole)


def test_sampler_refuses_token_merging_without_cross_frame_attention(tiny):
    model, pos, neg, _ = tiny
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]
    with pytest.raises(ValueError, match=r"token_merge_ratio \(0.5\) needs use_cf_attn on"):
        sampler.execute(model=model, positive=pos, negative=neg, seed=0, steps=4, cfg=7.5, sampler_name="euler",
                        scheduler="normal", width=64, height=64, video_length=3, motion_field_strength_x=8.0,
                        motion_field_strength_y=0.0, t0=44, t1=47, chunk_size=2, token_merge_ratio=0.5,
                        use_cf_attn=False)
