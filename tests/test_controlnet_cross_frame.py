"""Cross-frame attention inside a ControlNet, and the samplers for per-frame guided video."""
from __future__ import annotations

import pytest
import torch

import comfy.model_management
import comfy.samplers
import nodes
from diffusers.pipelines.deprecated.text_to_video_synthesis.pipeline_text_to_video_zero import (
    CrossFrameAttnProcessor,
)
from support import tiny_control

LATENT = 8
FRAMES = 4


@pytest.fixture(scope="module")
def sd15(tiny_ckpt):
    model, clip, vae = nodes.CheckpointLoaderSimple().load_checkpoint(tiny_ckpt.name)[:3]
    enc = nodes.CLIPTextEncode()
    return model, enc.encode(clip, "a dancer")[0], enc.encode(clip, "")[0]


@pytest.fixture(scope="module")
def control_net(tiny_controlnet):
    return nodes.ControlNetLoader().load_controlnet(tiny_controlnet.name)[0]


@pytest.fixture(autouse=True)
def _unload_after():
    yield
    comfy.model_management.unload_all_models()  # unpatch whatever a test loaded


def _hints(n, seed):
    return torch.rand(n, LATENT * 8, LATENT * 8, 3, generator=torch.Generator().manual_seed(seed))


def _residuals(control, model, hints, x, sigma, context, cond_or_uncond):
    c = control.copy().set_cond_hint(hints.movedim(-1, 1))
    c.pre_run(model.model, model.model.model_sampling.percent_to_sigma)
    comfy.model_management.load_models_gpu(c.get_models())  # applies the clone's object patches
    try:
        with torch.no_grad():
            out = c.get_control(x, sigma, {"c_crossattn": context}, len(cond_or_uncond),
                                {"cond_or_uncond": cond_or_uncond})
    finally:
        c.cleanup()
    return out["output"] + out["middle"]


def _inputs(groups, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 4, LATENT, LATENT, generator=g).repeat(groups * FRAMES, 1, 1, 1)
    x += 0.1 * torch.randn(x.shape, generator=g)
    context = torch.randn(groups, 77, 768, generator=g).repeat_interleave(FRAMES, 0)
    return x, context, torch.full((groups * FRAMES,), 3.0)


def test_changing_frame_zeros_hint_reaches_later_frames_only_with_the_patch(sd15, control_net):
    model = sd15[0]
    cf = nodes.NODE_CLASS_MAPPINGS["T2VZ_CrossFrameControlNet"].execute(control_net=control_net).result[0]
    x, ctx, sigma = _inputs(1)
    hints = _hints(FRAMES, 2)
    moved = hints.clone()
    moved[0] = torch.rand(moved[0].shape, generator=torch.Generator().manual_seed(9))
    for control, crosses in ((cf, True), (control_net, False)):
        a = _residuals(control, model, hints, x, sigma, ctx, [0])
        b = _residuals(control, model, moved, x, sigma, ctx, [0])
        later = max((ra[1:] - rb[1:]).abs().max().item() for ra, rb in zip(a, b))
        first = max((ra[:1] - rb[:1]).abs().max().item() for ra, rb in zip(a, b))
        assert first > 1e-3
        if crosses:
            assert later > 1e-4, "frame 0's hint did not reach the other frames"
        else:
            assert later == 0.0


@pytest.mark.parametrize("cond_or_uncond", [[0], [1, 0], [0, 1, 2]], ids=["1group", "2groups", "3groups"])
def test_cross_frame_controlnet_matches_diffusers(sd15, control_net, tiny_controlnet, cond_or_uncond):
    model = sd15[0]
    groups = len(cond_or_uncond)
    cf = nodes.NODE_CLASS_MAPPINGS["T2VZ_CrossFrameControlNet"].execute(control_net=control_net).result[0]
    ref = tiny_control.load_diffusers_controlnet(tiny_controlnet)
    ref.set_attn_processor(CrossFrameAttnProcessor(batch_size=groups))
    x, ctx, sigma = _inputs(groups)
    hints = _hints(FRAMES, 3).repeat(groups, 1, 1, 1)
    ours = _residuals(cf, model, hints[:FRAMES], x, sigma, ctx, cond_or_uncond)
    ms = model.model.model_sampling
    with torch.no_grad():
        down, mid = ref(ms.calculate_input(sigma, x), ms.timestep(sigma), encoder_hidden_states=ctx,
                        controlnet_cond=hints.movedim(-1, 1), return_dict=False)
    for a, b in zip(ours, [*down, mid]):
        assert a.shape == b.shape
        # same fp32 math; the anchor's queries are batched differently (measured ~1e-7)
        assert (a - b).abs().max().item() <= 1e-4


def test_users_controlnet_is_unchanged(sd15, control_net):
    model = sd15[0]
    x, ctx, sigma = _inputs(2)
    hints = _hints(FRAMES, 4)
    before = _residuals(control_net, model, hints, x, sigma, ctx, [1, 0])
    cf = nodes.NODE_CLASS_MAPPINGS["T2VZ_CrossFrameControlNet"].execute(control_net=control_net).result[0]
    _residuals(cf, model, hints, x, sigma, ctx, [1, 0])
    comfy.model_management.unload_all_models()
    after = _residuals(control_net, model, hints, x, sigma, ctx, [1, 0])
    assert type(control_net).__name__ == "ControlNet"
    assert all(torch.equal(a, b) for a, b in zip(before, after))


def test_wrong_hint_count_is_a_clear_error(sd15, control_net):
    model = sd15[0]
    cf = nodes.NODE_CLASS_MAPPINGS["T2VZ_CrossFrameControlNet"].execute(control_net=control_net).result[0]
    x, ctx, sigma = _inputs(1)
    with pytest.raises(ValueError, match=r"3 hint images for 4 frames; give one hint image per frame"):
        _residuals(cf, model, _hints(3, 5), x, sigma, ctx, [0])


def test_multi_gpu_copies_are_refused_by_name(control_net):
    """Newer ComfyUI's MultiGPU CFG Split asks each ControlNet of the conds (the sampler's
    copies of what Apply ControlNet made) for a deep clone per extra GPU; a clone would run
    without cross-frame attention, so the cross-frame ControlNet refuses with the fix."""
    cf = nodes.NODE_CLASS_MAPPINGS["T2VZ_CrossFrameControlNet"].execute(control_net=control_net).result[0]
    applied = cf.copy().set_cond_hint(_hints(FRAMES, 6).movedim(-1, 1))
    with pytest.raises(ValueError, match="MultiGPU CFG Split") as err:  # the pack's UserError
        applied.deepclone_multigpu(torch.device("cpu"), autoregister=True)
    assert "Cross-Frame ControlNet" in str(err.value)
    assert not getattr(applied, "multigpu_clones", {})  # nothing half-registered


def _video_ksampler(model, pos, neg, frames=FRAMES, **over):
    args = dict(seed=2, steps=3, cfg=7.5, sampler_name="euler", scheduler="normal",
                noise_mode="shared (same noise for every frame)", chunk_size=0, denoise=1.0)
    args.update(over)
    with torch.inference_mode():
        return nodes.NODE_CLASS_MAPPINGS["T2VZ_VideoKSampler"].execute(
            model=model, positive=pos, negative=neg,
            latent_image={"samples": torch.zeros(frames, 4, LATENT, LATENT)}, **args).result[0]["samples"]


def test_pose_video_chunked_equals_unchunked_with_cross_frame_controlnet(sd15, control_net):
    model, pos, neg = sd15
    cfm = nodes.NODE_CLASS_MAPPINGS["T2VZ_CrossFrameAttention"].execute(model=model).result[0]
    cf = nodes.NODE_CLASS_MAPPINGS["T2VZ_CrossFrameControlNet"].execute(control_net=control_net).result[0]
    hints = _hints(7, 6)
    cpos, cneg = nodes.ControlNetApplyAdvanced().apply_controlnet(pos, neg, cf, hints, 1.0, 0.0, 1.0)
    whole = _video_ksampler(cfm, cpos, cneg, frames=7)
    assert cf.t2vz_layout.calls > 0  # the sampler loaded the patched clone: cross-frame attention ran
    part = _video_ksampler(cfm, cpos, cneg, frames=7, chunk_size=3)
    assert (part - whole).abs().max() <= 1e-5 * whole.abs().max()
    # ... and the hints are in there: other hints, other frames
    opos, oneg = nodes.ControlNetApplyAdvanced().apply_controlnet(pos, neg, cf, _hints(7, 7), 1.0, 0.0, 1.0)
    assert not torch.allclose(_video_ksampler(cfm, opos, oneg, frames=7), whole)


def test_shared_noise_gives_every_frame_the_same_start(sd15):
    model, pos, neg = sd15
    shared = _video_ksampler(model, pos, neg)  # no per-frame conditioning, no motion: identical frames
    tol = 1e-5 * shared.abs().max().item()  # batched float32 matmuls round differently per row
    assert all(torch.allclose(shared[0], shared[i], atol=tol) for i in range(1, FRAMES))
    per = _video_ksampler(model, pos, neg, noise_mode="per frame")
    assert not torch.allclose(per[0], per[1])
    single = nodes.common_ksampler(model, 2, 3, 7.5, "euler", "normal", pos, neg,
                                   {"samples": torch.zeros(1, 4, LATENT, LATENT)})[0]["samples"]
    assert torch.allclose(per[0], single[0], atol=tol)  # frame 0 = KSampler's image for the seed


def test_ip2p_cross_frame_attention_sees_three_groups_or_two(tiny_ip2p):
    """DualCFGGuider with image guidance ≠ 1 runs three branches; = 1 drops the unconditioned one."""
    from comfy_extras.nodes_custom_sampler import Guider_DualCFG
    from comfy_extras.nodes_ip2p import InstructPixToPixConditioning
    model, clip, vae = nodes.CheckpointLoaderSimple().load_checkpoint(tiny_ip2p.name)[:3]
    cfm = nodes.NODE_CLASS_MAPPINGS["T2VZ_CrossFrameAttention"].execute(model=model).result[0]
    enc = nodes.CLIPTextEncode()
    pos, neg = enc.encode(clip, "make it winter")[0], enc.encode(clip, "")[0]
    pixels = torch.rand(FRAMES, 64, 64, 3, generator=torch.Generator().manual_seed(8))
    ipos, ineg, latent = InstructPixToPixConditioning.execute(pos, neg, pixels, vae).result
    seen = []

    def spy(apply_model, args):
        seen.append(list(args["cond_or_uncond"]))
        return apply_model(args["input"], args["timestep"], **args["c"])

    cfm.set_model_unet_function_wrapper(spy)
    for image_cfg, groups in ((1.5, 3), (1.0, 2)):
        seen.clear()
        guider = Guider_DualCFG(cfm)
        guider.set_conds(ipos, ineg, neg)
        guider.set_cfg(7.5, image_cfg)
        sig = comfy.samplers.calculate_sigmas(cfm.get_model_object("model_sampling"), "normal", 2)
        with torch.inference_mode():
            out = nodes.NODE_CLASS_MAPPINGS["T2VZ_VideoSamplerCustom"].execute(
                guider=guider, sampler=comfy.samplers.sampler_object("euler"), sigmas=sig, latent_image=latent,
                seed=1, noise_mode="shared (same noise for every frame)", chunk_size=3).result[0]["samples"]
        assert out.shape == (FRAMES, 4, 8, 8) and torch.isfinite(out).all()
        assert seen and all(sum(1 for _ in s) == groups for s in [sorted(set(x for c in seen for x in c))])
