"""The pack's nodes in-process: schemas a user sees, patching that leaves the user's model
alone, every UNet family, progress and previews, and the method's observable behaviour."""
from __future__ import annotations

import json

import pytest
import torch

import comfy.model_patcher
import comfy.ops
import comfy.utils
import nodes
from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel
from t2vz_core import attention, sampling as t2vz_sampling

EXPECTED_IDS = {"T2VZ_CrossFrameAttention", "T2VZ_CrossFrameControlNet", "T2VZ_MotionFieldLatentInit",
                "T2VZ_VideoSampler", "T2VZ_Sampler", "T2VZ_VideoKSampler", "T2VZ_VideoSamplerCustom",
                "T2VZ_LoadVideo", "T2VZ_CannyEdges", "T2VZ_SaveGIF", "T2VZ_FramePart", "T2VZ_CameraPath",
                "T2VZ_PromptSchedule", "T2VZ_BackgroundSmoothing"}
PACK_IDS = sorted(k for k in nodes.NODE_CLASS_MAPPINGS if k.startswith("T2VZ_"))


def test_every_released_node_id_is_still_registered():
    """Node ids are forever: a saved workflow must keep loading."""
    assert EXPECTED_IDS <= set(PACK_IDS)


@pytest.fixture(scope="module")
def tiny(tiny_ckpt):
    model, clip, vae = nodes.CheckpointLoaderSimple().load_checkpoint(tiny_ckpt.name)[:3]
    pos = nodes.CLIPTextEncode().encode(clip, "a horse galloping on a street")[0]
    neg = nodes.CLIPTextEncode().encode(clip, "blurry")[0]
    return model, pos, neg, vae


def _sampler_args(**over):
    args = dict(seed=3, steps=8, cfg=7.5, sampler_name="ddim", scheduler="ddim_uniform", width=64, height=64,
                video_length=4, motion_field_strength_x=12.0, motion_field_strength_y=12.0, t0=44, t1=47,
                t_mode="scaled from 50 steps", use_motion_field=True)
    args.update(over)
    return args


def _t2v(model, pos, neg, **over):
    with torch.inference_mode():
        out = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"].execute(model=model, positive=pos, negative=neg,
                                                                **_sampler_args(**over))
    return out.result[0]["samples"]


# -- what the editor shows -----------------------------------------------------------------

@pytest.mark.parametrize("node_id", PACK_IDS)
def test_every_input_and_output_has_a_tooltip(node_id):
    cls = nodes.NODE_CLASS_MAPPINGS[node_id]
    schema = cls.GET_SCHEMA()
    assert schema.node_id == node_id and schema.category.startswith("Text2Video-Zero/")
    assert len(schema.description) > 40
    info = cls.GET_NODE_INFO_V1()
    for section in ("required", "optional"):
        for name, spec in info["input"].get(section, {}).items():
            assert spec[1].get("tooltip"), f"{node_id}.{name} has no tooltip"
    for tip in info.get("output_tooltips", []):
        assert tip, f"{node_id} has an output without a tooltip"
    assert len(info.get("output_tooltips", [])) == len(info["output"])
    json.dumps(info)  # /object_info must serialise


def test_example_workflows_are_current():
    import importlib.util
    from support.comfy_env import REPO_ROOT
    spec = importlib.util.spec_from_file_location("build_workflows", REPO_ROOT / "scripts" / "build_workflows.py")
    build_workflows = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_workflows)
    for path, text in build_workflows.render_all().items():
        assert path.read_text() == text, f"{path.name} is stale: run scripts/build_workflows.py"


# -- patching ------------------------------------------------------------------------------

def test_patch_leaves_the_users_model_alone(tiny):
    model = tiny[0]
    before = json.dumps(model.model_options, default=repr, sort_keys=True)
    patched = attention.patch_model(model)
    assert patched is not model and attention.is_patched(patched) and not attention.is_patched(model)
    assert json.dumps(model.model_options, default=repr, sort_keys=True) == before
    again = attention.patch_model(patched)
    assert len(again.model_options["transformer_options"]["patches"]["attn1_patch"]) == 1


def _small_unet(**cfg):
    base = dict(image_size=32, in_channels=4, out_channels=4, model_channels=32, num_res_blocks=1,
                dropout=0.0, num_head_channels=16, use_linear_in_transformer=True, context_dim=32,
                use_spatial_transformer=True,
                operations=comfy.ops.disable_weight_init)
    base.update(cfg)
    return UNetModel(**base)


@pytest.mark.parametrize("family,cfg,blocks", [
    ("SD1.x", dict(channel_mult=(1, 2), transformer_depth=[1, 1], transformer_depth_output=[1, 1, 1, 1],
                   transformer_depth_middle=1, use_linear_in_transformer=False), 2 + 1 + 4),
    ("SD2.x", dict(channel_mult=(1, 2), transformer_depth=[1, 1], transformer_depth_output=[1, 1, 1, 1],
                   transformer_depth_middle=1), 2 + 1 + 4),
    ("SDXL-like", dict(channel_mult=(1, 2, 2), transformer_depth=[0, 2, 3], transformer_depth_output=[0, 0, 2, 2, 3, 3],
                       transformer_depth_middle=3), 2 + 3 + 3 + 2 * 2 + 3 * 2),
])
def test_every_transformer_block_of_every_unet_family_is_patched(family, cfg, blocks):
    unet = _small_unet(**cfg)
    keys = attention.transformer_block_keys(unet)
    assert len(keys) == blocks
    calls = []
    patch = attention.CrossFrameAttentionPatch(keys)
    orig = patch.__class__.__call__

    class Counting(attention.CrossFrameAttentionPatch):
        def __call__(self, q, k, v, extra_options):
            calls.append((extra_options["block"], extra_options["block_index"], k.shape[0]))
            return orig(self, q, k, v, extra_options)

    patch = Counting(keys)
    to = {"patches": {"attn1_patch": [patch.context_patch]},
          "patches_replace": {"attn1": {k: patch for k in keys}}, "cond_or_uncond": [1, 0]}
    x = torch.randn(2 * 3, 4, 16, 16)
    with torch.no_grad():
        unet(x, timesteps=torch.full((6,), 500.0), context=torch.randn(6, 5, 32), transformer_options=to)
    assert len(calls) == blocks
    assert all(kv_rows == 2 for *_, kv_rows in calls)  # anchors only: one per guidance group


def test_non_unet_model_is_refused_with_the_node_name(tiny):
    import comfy.ldm.modules.diffusionmodules.mmdit as mmdit
    m = tiny[0].clone()
    m.add_object_patch("diffusion_model", mmdit.MMDiT(input_size=None, patch_size=2, in_channels=4, depth=1,
                                                      num_patches=64, operations=comfy.ops.disable_weight_init))
    with pytest.raises(ValueError, match=r"Cross-Frame Attention \(T2VZ_CrossFrameAttention\): .*works on UNet"):
        nodes.NODE_CLASS_MAPPINGS["T2VZ_CrossFrameAttention"].execute(model=m)


# -- the method, as a user sees it ---------------------------------------------------------

def test_frame_zero_is_the_image_ksampler_makes(tiny):
    model, pos, neg, _ = tiny
    video = _t2v(model, pos, neg)
    with torch.inference_mode():
        image = nodes.common_ksampler(model, 3, 8, 7.5, "ddim", "ddim_uniform", pos, neg,
                                      {"samples": torch.zeros(1, 4, 8, 8)})[0]["samples"]
    # frame 0 attends only to itself; the schedule is split at T1/T0, which rounds the
    # latent through process_in/out twice (measured ~4e-6 relative)
    assert (video[0] - image[0]).abs().max() <= 1e-4 * image.abs().max()


def test_switches_change_what_they_should(tiny):
    model, pos, neg, _ = tiny
    full = _t2v(model, pos, neg)
    no_motion = _t2v(model, pos, neg, use_motion_field=False)
    no_cf = _t2v(model, pos, neg, use_cf_attn=False)
    assert torch.equal(full[0], no_motion[0])          # frame 0 is never moved
    assert not torch.equal(full[1:], no_motion[1:])
    assert not torch.equal(full[1:], no_cf[1:])
    assert torch.allclose(full[0], no_cf[0], rtol=0, atol=1e-3)  # frame 0 attends to itself either way


def test_all_in_one_equals_init_plus_video_sampler(tiny):
    model, pos, neg, _ = tiny
    one = _t2v(model, pos, neg)
    cf = nodes.NODE_CLASS_MAPPINGS["T2VZ_CrossFrameAttention"].execute(model=model).result[0]
    with torch.inference_mode():
        lat, sig = nodes.NODE_CLASS_MAPPINGS["T2VZ_MotionFieldLatentInit"].execute(
            model=cf, positive=pos, negative=neg, **_sampler_args()).result
        out = nodes.NODE_CLASS_MAPPINGS["T2VZ_VideoSampler"].execute(
            model=cf, positive=pos, negative=neg, latent=lat, sigmas=sig, seed=3, cfg=7.5,
            sampler_name="ddim").result[0]["samples"]
    assert torch.equal(one, out)
    assert lat["samples"].shape == (4, 4, 8, 8) and sig.shape == (8 + 1,)  # k1 = 0 at 8 steps: the whole schedule


def test_progress_bar_and_previews_cover_every_step(tiny, monkeypatch):
    model, pos, neg, _ = tiny
    seen = []
    monkeypatch.setattr(comfy.utils, "PROGRESS_BAR_HOOK",
                        lambda value, total, preview, node_id=None: seen.append((value, total, preview)))
    import latent_preview
    from comfy.cli_args import LatentPreviewMethod
    monkeypatch.setattr(latent_preview, "default_preview_method", LatentPreviewMethod.Latent2RGB, raising=False)
    monkeypatch.setattr(latent_preview.args, "preview_method", LatentPreviewMethod.Latent2RGB)
    _t2v(model, pos, neg, steps=10)  # k1 = 0, k0 = 1: 1 step for frame 0, 10 for the video
    assert [v for v, *_ in seen] == list(range(1, 12))
    assert {t for _, t, _ in seen} == {11}
    previews = [p for *_, p in seen if p is not None]
    assert previews, "no latent previews were sent"
    fmt, img, _size = previews[-1]
    assert img.width > img.height  # a strip of frames side by side


def test_seed_fixes_the_video(tiny):
    model, pos, neg, _ = tiny
    assert torch.equal(_t2v(model, pos, neg, seed=9), _t2v(model, pos, neg, seed=9))
    assert not torch.equal(_t2v(model, pos, neg, seed=9), _t2v(model, pos, neg, seed=10))


def test_progress_counts_steps_times_chunks(tiny, monkeypatch):
    model, pos, neg, _ = tiny
    seen = []
    monkeypatch.setattr(comfy.utils, "PROGRESS_BAR_HOOK",
                        lambda value, total, preview, node_id=None: seen.append((value, total)))
    _t2v(model, pos, neg, steps=10, video_length=5, chunk_size=2)  # 1 frame-0 step, 10 video steps × 3 chunks
    totals = {t for _, t in seen}
    assert totals == {1 + 10 * 3}
    values = [v for v, _ in seen]
    assert values == sorted(values) and values[-1] == 31
    assert len(set(values)) == 31  # every chunk of every step moved the bar


def test_t0_t1_count_from_the_end_of_the_schedule_the_scheduler_makes(tiny, monkeypatch):
    """ComfyUI's ddim_uniform makes 13 steps when asked for 12 (one more at the start; diffusers'
    DDIM makes 12). As in the reference, t1 counts from the end: the video still runs t1 + 1
    steps, frame 0 gets the extra one, and the progress bar's total is the steps really run."""
    model, pos, neg, _ = tiny
    full = t2vz_sampling.schedule(model, 12, "ddim", "ddim_uniform")
    assert len(full) == 14  # 13 steps: the case this test is about
    exact = dict(steps=12, t0=8, t1=10, t_mode="exact (indices of this schedule)")
    with torch.inference_mode():
        _, sig = nodes.NODE_CLASS_MAPPINGS["T2VZ_MotionFieldLatentInit"].execute(
            model=model, positive=pos, negative=neg, **_sampler_args(**exact)).result
    assert sig.shape == (10 + 2,) and torch.equal(sig, full[-12:])  # T1 = the 11th value from the end
    seen = []
    monkeypatch.setattr(comfy.utils, "PROGRESS_BAR_HOOK",
                        lambda value, total, preview, node_id=None: seen.append((value, total)))
    _t2v(model, pos, neg, **exact)  # frame 0: 13 − 8 − 1 = 4 steps to T0; the video: 11 steps
    assert {t for _, t in seen} == {4 + 11} and seen[-1][0] == 15


def test_zero_size_means_the_models_native_size(tiny):
    model, pos, neg, _ = tiny
    from t2vz_core import sampling
    assert sampling.native_size(model) == 512
    assert sampling.resolve_size(model, 0, 0) == (512, 512)
    assert sampling.resolve_size(model, 64, 0) == (64, 512)
