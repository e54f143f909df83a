"""The tiny SDXL-family checkpoint and its ControlNet are what the SDXL tests assume.

ComfyUI's own CheckpointLoaderSimple loads the checkpoint as an SDXL model (config
KOALA_700M, class comfy.model_base.SDXL) with SDXL's two text encoders and a VAE; it samples
finite 4-frame batches; ControlNetLoader loads the tiny SDXL ControlNet, whose per-frame hints
change what is sampled; an SD1.5 ControlNet on the SDXL model (and the reverse) fails, with
the error recorded here; and diffusers' UNet2DConditionModel on the same weights computes the
same function, with `added_cond_kwargs` (text_embeds, time_ids) where ComfyUI passes `y`.
"""
from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from support import tiny_sdxl as sdxl_files

FRAMES = 4
LATENT = 16  # latent side; ComfyUI gives the model width = height = 8 * LATENT = 128 in `y`
HINT_PX = LATENT * 8
# What ComfyUI raises when a ControlNet's cross-attention meets a context of another width
# (SD1.5: 768, SDXL: 2048): torch's message from the ControlNet's first attn2.to_k, on CPU.
CONTEXT_MISMATCH = r"mat1 and mat2 shapes cannot be multiplied \(\d+x{ctx} and {k}x320\)"


@pytest.fixture(scope="module")
def sdxl(tiny_sdxl):
    import nodes

    return nodes.CheckpointLoaderSimple().load_checkpoint(tiny_sdxl.name)


@pytest.fixture(scope="module")
def conds(sdxl):
    """One real encode (bigG on a CPU is the slow part); the negative is its zeroed copy."""
    import nodes

    positive = nodes.CLIPTextEncode().encode(sdxl[1], "a horse galloping")[0]
    return positive, nodes.ConditioningZeroOut().zero_out(positive)[0]


@pytest.fixture(scope="module")
def control_net(tiny_sdxl_controlnet):
    import nodes

    return nodes.ControlNetLoader().load_controlnet(tiny_sdxl_controlnet.name)[0]


def _hints(n: int, seed: int) -> torch.Tensor:
    """n different IMAGE-layout hints [n, H, W, 3] in [0, 1]."""
    return torch.rand(n, HINT_PX, HINT_PX, 3, generator=torch.Generator().manual_seed(seed))


def _sample(model, positive, negative, latent, steps=2, seed=0):
    import nodes

    return nodes.common_ksampler(model, seed, steps, 7.5, "euler", "normal", positive, negative,
                                 {"samples": latent})[0]["samples"]


@pytest.fixture(scope="module")
def sampled(sdxl, conds):
    """The uncontrolled 2-step sample of a 4-frame batch, and what each UNet call was given
    (recorded by a pass-through unet wrapper on a clone)."""
    calls = []

    def record(apply_model, args):
        calls.append({"c": dict(args["c"]), "cond_or_uncond": list(args["cond_or_uncond"]),
                      "x": args["input"].shape})
        return apply_model(args["input"], args["timestep"], **args["c"])

    model = sdxl[0].clone()
    model.set_model_unet_function_wrapper(record)
    return _sample(model, *conds, torch.zeros(FRAMES, 4, LATENT, LATENT)), calls


@pytest.fixture(scope="module")
def plain(sampled):
    return sampled[0]


# --- the files ---------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["checkpoint", "controlnet"])
def test_files_are_cached_with_sidecar(which, tiny_sdxl, tiny_sdxl_controlnet):
    path, ensure = {"checkpoint": (tiny_sdxl, sdxl_files.ensure_tiny_sdxl),
                    "controlnet": (tiny_sdxl_controlnet, sdxl_files.ensure_tiny_sdxl_controlnet)}[which]
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["builder_version"] == sdxl_files.BUILDER_VERSION
    assert meta["size"] == path.stat().st_size
    mtime = path.stat().st_mtime_ns
    assert ensure() == path
    assert path.stat().st_mtime_ns == mtime, "a current cached file must not be rebuilt"


def test_checkpoint_layout(tiny_sdxl):
    """The SDXL single-file layout, fp16 throughout (read without loading the ~2 GB)."""
    with safe_open(str(tiny_sdxl), framework="pt") as f:
        keys = set(f.keys())
        shape = {k: tuple(f.get_slice(k).get_shape()) for k in keys}
        assert {f.get_slice(k).get_dtype() for k in keys} == {"F16"}
    assert {k.split(".")[0] for k in keys} == {"model", "conditioner", "first_stage_model"}
    unet = "model.diffusion_model."
    assert shape[unet + "input_blocks.0.0.weight"] == (320, 4, 3, 3)
    assert shape[unet + "label_emb.0.0.weight"] == (1280, 2816)  # pooled 1280 + 6 x 256 sizes
    assert shape[unet + "input_blocks.5.1.transformer_blocks.4.attn2.to_k.weight"] == (320, 2048)
    assert shape[unet + "input_blocks.5.1.proj_in.weight"] == (320, 320)  # linear, not conv
    assert shape["conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight"] == (49408, 768)
    g = "conditioner.embedders.1.model."
    assert shape[g + "token_embedding.weight"] == (49408, 1280)
    assert shape[g + "transformer.resblocks.31.attn.in_proj_weight"] == (3840, 1280)
    assert shape[g + "text_projection"] == (1280, 1280)
    assert shape["first_stage_model.decoder.conv_out.weight"] == (3, 128, 3, 3)
    assert len([k for k in keys if k.startswith(g + "transformer.resblocks.") and k.endswith(".ln_1.weight")]) == 32


def test_comfy_loads_it_as_an_sdxl_model(sdxl):
    import comfy.latent_formats
    import comfy.model_base
    import comfy.supported_models

    model, clip, vae = sdxl
    assert isinstance(model.model, comfy.model_base.SDXL)
    config = model.model.model_config
    # detected from the UNet's shapes: KOALA-700M's down-block depths, an SDXL subclass
    assert type(config).__name__ == sdxl_files.DETECTED_CONFIG == "KOALA_700M"
    assert isinstance(config, comfy.supported_models.SDXL)
    for key, value in sdxl_files.LDM_UNET_CONFIG.items():
        assert config.unet_config[key] == value, key
    assert isinstance(model.model.latent_format, comfy.latent_formats.SDXL)
    assert model.model.latent_format.scale_factor == 0.13025
    assert clip is not None and vae is not None
    assert type(clip.cond_stage_model).__name__ == "SDXLClipModel"


def test_every_text_encoder_weight_comes_from_the_file(sdxl, tiny_sdxl):
    """No CLIP weight left uninitialised (ComfyUI only logs missing ones): every tensor the
    text encoders have is named by the file, after ComfyUI's own SDXL key conversion."""
    import comfy.supported_models

    with safe_open(str(tiny_sdxl), framework="pt") as f:
        meta_sd = {k: torch.empty(f.get_slice(k).get_shape(), device="meta")
                   for k in f.keys() if k.startswith("conditioner.")}
        projection = f.get_tensor("conditioner.embedders.1.model.text_projection")
    converted = comfy.supported_models.SDXL.process_clip_state_dict(None, meta_sd)
    wanted = set(sdxl[1].cond_stage_model.state_dict())
    # ComfyUI's own defaults, never in SDXL checkpoints; CLIP-L's projection is unused by SDXL
    optional = {"clip_l.logit_scale", "clip_g.logit_scale", "clip_l.transformer.text_projection.weight"}
    assert wanted - optional <= set(converted)
    loaded = sdxl[1].cond_stage_model.clip_g.transformer.text_projection.weight
    torch.testing.assert_close(loaded.float(), projection.float().T)


def test_clip_text_encode_gives_sdxl_conditioning(conds):
    (cond, extras), = conds[0]
    assert cond.shape == (1, 77, 2048)  # CLIP-L (768) and bigG (1280) penultimate states, concatenated
    assert extras["pooled_output"].shape == (1, 1280)  # bigG's projected pooled output
    assert torch.isfinite(cond).all() and torch.isfinite(extras["pooled_output"]).all()
    assert cond.std() > 0.1 and extras["pooled_output"].std() > 0.1


def test_two_step_sample_of_four_frames_is_finite(plain):
    assert plain.shape == (FRAMES, 4, LATENT, LATENT)
    assert torch.isfinite(plain).all()
    assert plain.abs().max() < 1e4  # measured ~770 (the tiny SD1.5 one: ~450), from noise of std 14.6
    assert not torch.allclose(plain[0], plain[1])  # each frame has its own noise


def test_adm_vector_is_pooled_then_sizes(sdxl):
    """`y` as ComfyUI's SDXL.encode_adm builds it for one cond: [1, 2816] = pooled (1280) +
    six 256-wide sinusoidal embeddings of (height, width, crop_h, crop_w, target_height,
    target_width); the sampler repeats it over the batch. Without CLIPTextEncodeSDXL's sizes,
    width/height are the latent's size times 8."""
    model = sdxl[0].model
    pooled = torch.randn(1, 1280, generator=torch.Generator().manual_seed(1))
    y = model.encode_adm(pooled_output=pooled, width=128, height=96)
    assert y.shape == (1, 2816)
    torch.testing.assert_close(y[:, :1280], pooled)
    other = model.encode_adm(pooled_output=pooled, width=1024, height=1024)
    assert not torch.allclose(y[:, 1280:], other[:, 1280:])


def test_sampler_gives_every_frame_its_conds_y(sdxl, conds, sampled):
    """Per UNet call of a 4-frame cond+uncond batch: x [8, 4, 16, 16], c_crossattn
    [8, 77, 2048] and y [8, 2816], grouped as transformer_options' cond_or_uncond says
    (0 = positive, 1 = negative), each group's rows its cond's y repeated; width/height in y
    are the latent's size times 8 (128 here: ComfyUI knows no SDXL "native" size)."""
    _, calls = sampled
    assert len(calls) == 2  # euler, 2 steps, cond and uncond in one batch
    model = sdxl[0].model
    want = {i: model.encode_adm(pooled_output=c[0][1]["pooled_output"], width=128, height=128)
            for i, c in enumerate(conds)}
    for call in calls:
        assert call["x"] == (2 * FRAMES, 4, LATENT, LATENT)
        y, context = call["c"]["y"], call["c"]["c_crossattn"]
        assert y.shape == (2 * FRAMES, 2816) and context.shape == (2 * FRAMES, 77, 2048)
        assert sorted(call["cond_or_uncond"]) == [0, 1]
        for group, which in enumerate(call["cond_or_uncond"]):
            rows = y[group * FRAMES:(group + 1) * FRAMES]
            torch.testing.assert_close(rows, want[which].expand(FRAMES, -1))


# --- ControlNet --------------------------------------------------------------------------

def test_controlnet_layout(tiny_sdxl_controlnet):
    with safe_open(str(tiny_sdxl_controlnet), framework="pt") as f:
        keys = set(f.keys())
        label = tuple(f.get_slice("control_model.label_emb.0.0.weight").get_shape())
        zero = {k: f.get_tensor("control_model." + k) for k in
                ("zero_convs.0.0.weight", "zero_convs.5.0.weight", "middle_block_out.0.weight")}
    assert all(k.startswith("control_model.") for k in keys)
    assert label == (1280, 2816)
    for key, value in zero.items():
        assert value.float().abs().mean() > 1e-3, f"{key} must not be zero"


def test_comfy_loads_the_controlnet_with_the_tiny_unets_encoder(control_net):
    import comfy.controlnet

    assert isinstance(control_net, comfy.controlnet.ControlNet)
    net = control_net.control_model
    assert net.model_channels == 320 and net.num_res_blocks == [1, 1, 1]
    assert list(net.channel_mult) == [1, 1, 1]
    assert len(net.zero_convs) == 6  # conv_in, 3 res blocks, 2 downsamplers
    assert net.label_emb[0][0].weight.shape == (1280, 2816)  # SDXL ControlNets take `y`, too
    attn = net.input_blocks[5][1].transformer_blocks[4].attn2
    assert attn.heads == 5 and attn.to_k.weight.shape == (320, 2048)


def test_four_hints_change_what_is_sampled(sdxl, conds, control_net, plain):
    import nodes

    positive, negative = conds
    c_pos, c_neg = nodes.ControlNetApplyAdvanced().apply_controlnet(
        positive, negative, control_net, _hints(FRAMES, seed=1), 1.0, 0.0, 1.0)
    controlled = _sample(sdxl[0], c_pos, c_neg, torch.zeros(FRAMES, 4, LATENT, LATENT))
    assert torch.isfinite(controlled).all()
    for i in range(FRAMES):
        change = (controlled[i] - plain[i]).abs().mean() / plain[i].abs().mean()
        # measured ~0.1; zero zero-convs would give exactly 0
        assert change > 1e-2, f"frame {i}: control changed it by only {change:.2e} (relative)"


def test_each_frame_gets_the_residuals_of_its_own_hint(sdxl, control_net):
    """The same latent, context and y for 4 frames, 4 different hints: 4 different residuals."""
    model = sdxl[0]
    g = torch.Generator().manual_seed(4)
    x = torch.randn(1, 4, LATENT, LATENT, generator=g).expand(FRAMES, -1, -1, -1)
    cond = {"c_crossattn": torch.randn(1, 77, 2048, generator=g).expand(FRAMES, -1, -1),
            "y": torch.randn(1, 2816, generator=g).expand(FRAMES, -1)}
    cnet = control_net.copy().set_cond_hint(_hints(FRAMES, seed=5).movedim(-1, 1))
    cnet.pre_run(model.model, model.model.model_sampling.percent_to_sigma)
    try:
        with torch.no_grad():
            out = cnet.get_control(x, torch.full((FRAMES,), 1.0), cond, 1, {})
    finally:
        cnet.cleanup()
    residuals = out["output"] + out["middle"]
    assert [tuple(r.shape[1:]) for r in residuals] == [(320, 16, 16)] * 2 + [(320, 8, 8)] * 2 + [(320, 4, 4)] * 3
    for r in residuals:
        assert r.abs().mean() > 1e-2
        # measured: two hints differ by about half the residuals' size
        assert (r[0] - r[1]).abs().mean() > 0.1 * r.abs().mean()
        assert (r[2] - r[3]).abs().mean() > 0.1 * r.abs().mean()


def test_sd15_controlnet_on_the_sdxl_model_fails(sdxl, conds, tiny_controlnet):
    """Recorded: core ControlNetApplyAdvanced accepts it; sampling then fails in the
    ControlNet's first cross-attention (768-wide to_k, 2048-wide SDXL context)."""
    import nodes

    sd15_net = nodes.ControlNetLoader().load_controlnet(tiny_controlnet.name)[0]
    c_pos, c_neg = nodes.ControlNetApplyAdvanced().apply_controlnet(
        *conds, sd15_net, _hints(1, seed=2), 1.0, 0.0, 1.0)
    with pytest.raises(RuntimeError, match=CONTEXT_MISMATCH.format(ctx=2048, k=768)):
        _sample(sdxl[0], c_pos, c_neg, torch.zeros(1, 4, LATENT, LATENT), steps=1)


def test_sdxl_controlnet_on_an_sd15_model_fails(control_net, tiny_ckpt):
    """Recorded, the reverse: the SDXL ControlNet gets no `y` from an SD1.5 model."""
    import nodes

    model, clip, _ = nodes.CheckpointLoaderSimple().load_checkpoint(tiny_ckpt.name)
    positive = nodes.CLIPTextEncode().encode(clip, "a horse")[0]
    negative = nodes.ConditioningZeroOut().zero_out(positive)[0]
    c_pos, c_neg = nodes.ControlNetApplyAdvanced().apply_controlnet(
        positive, negative, control_net, _hints(1, seed=3)[:, :64, :64], 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"^y is None, did you try using a controlnet for SDXL on SD1\?$"):
        _sample(model, c_pos, c_neg, torch.zeros(1, 4, 8, 8), steps=1)


# --- diffusers -----------------------------------------------------------------------------

def test_diffusers_unet_matches_comfy_with_added_cond_kwargs(sdxl, tiny_sdxl):
    model = sdxl[0].model
    comfy_unet = model.diffusion_model.float().eval()
    assert comfy_unet.dtype == torch.float32  # --cpu: ComfyUI computes in fp32
    ref = sdxl_files.load_diffusers_sdxl_unet(tiny_sdxl)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, LATENT, LATENT, generator=g)
    t = torch.tensor([500.0, 20.0])
    context = torch.randn(2, 77, 2048, generator=g)
    pooled = torch.randn(2, 1280, generator=g)
    sizes = [(128, 128, 0, 0, 128, 128), (1024, 768, 16, 8, 1024, 1024)]  # h, w, crop_h, crop_w, target h, w
    y = torch.cat([model.encode_adm(pooled_output=pooled[i:i + 1], height=h, width=w, crop_h=ch, crop_w=cw,
                                    target_height=th, target_width=tw)
                   for i, (h, w, ch, cw, th, tw) in enumerate(sizes)])
    with torch.no_grad():
        ours = comfy_unet(x, timesteps=t, context=context, y=y)
        theirs = ref(x, t, encoder_hidden_states=context, return_dict=False,
                     added_cond_kwargs={"text_embeds": pooled, "time_ids": torch.tensor(sizes, dtype=torch.float32)})[0]
    assert ours.shape == theirs.shape == x.shape
    assert ours.abs().max() > 1e-3, "a zero output would make the comparison vacuous"
    diff = (ours - theirs).abs().max().item()
    # the same fp16 weights in fp32 on both sides; measured ~1e-6 (attention kernels differ)
    assert diff <= 1e-4, f"max diff {diff:.2e}"
    # and `y` matters: other sizes give another output
    with torch.no_grad():
        moved = comfy_unet(x, timesteps=t, context=context, y=y.flip(0))
    assert (moved - ours).abs().max() > 1e-3
