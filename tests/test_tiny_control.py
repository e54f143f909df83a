"""The tiny control models are what the ControlNet / InstructPix2Pix tests assume.

The tiny ControlNet loads through core ControlNetLoader, changes what the tiny SD1.5
checkpoint samples, gives each batch item the residuals of its own hint, and computes the
same residuals as diffusers' ControlNetModel on the same weights. The tiny InstructPix2Pix
checkpoint loads as ComfyUI's SD15_instructpix2pix and samples with core
InstructPixToPixConditioning.
"""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from support import tiny_control, tiny_models

LATENT = 8  # latent side; the hints are 8x that, as ComfyUI's SD1.5 ControlNets expect
HINT_PX = LATENT * 8


@pytest.fixture(scope="module")
def sd15(tiny_ckpt):
    import nodes

    return nodes.CheckpointLoaderSimple().load_checkpoint(tiny_ckpt.name)


@pytest.fixture(scope="module")
def conds(sd15):
    import nodes

    clip = sd15[1]
    return (nodes.CLIPTextEncode().encode(clip, "a horse galloping")[0],
            nodes.CLIPTextEncode().encode(clip, "")[0])


@pytest.fixture(scope="module")
def control_net(tiny_controlnet):
    import nodes

    return nodes.ControlNetLoader().load_controlnet(tiny_controlnet.name)[0]


def _images(n: int, seed: int) -> torch.Tensor:
    """n different IMAGE-layout hints [n, H, W, 3] in [0, 1]."""
    return torch.rand(n, HINT_PX, HINT_PX, 3, generator=torch.Generator().manual_seed(seed))


def _residuals(control_net, model, image, x, sigma, context, batched_number=1) -> list[torch.Tensor]:
    """The control residuals, as the sampler asks for them (ControlNet.get_control), in
    diffusers' order: one per input block (zero_convs), then the middle block's."""
    cnet = control_net.copy().set_cond_hint(image.movedim(-1, 1))
    cnet.pre_run(model.model, model.model.model_sampling.percent_to_sigma)
    try:
        with torch.no_grad():
            out = cnet.get_control(x, sigma, {"c_crossattn": context}, batched_number, {})
    finally:
        cnet.cleanup()
    return out["output"] + out["middle"]


def _sample(model, positive, negative, latent, seed=0):
    import nodes

    return nodes.common_ksampler(model, seed, 2, 7.5, "euler", "normal", positive, negative,
                                 {"samples": latent})[0]["samples"]


# --- ControlNet --------------------------------------------------------------------------

def test_controlnet_is_cached_with_sidecar(tiny_controlnet):
    meta = json.loads(tiny_controlnet.with_suffix(".json").read_text())
    assert meta["builder_version"] == tiny_control.BUILDER_VERSION
    assert meta["size"] == tiny_controlnet.stat().st_size
    mtime = tiny_controlnet.stat().st_mtime_ns
    assert tiny_control.ensure_tiny_controlnet() == tiny_controlnet
    assert tiny_controlnet.stat().st_mtime_ns == mtime, "a current cached ControlNet must not be rebuilt"


def test_controlnet_layout(tiny_controlnet):
    sd = load_file(str(tiny_controlnet))
    assert all(k.startswith(tiny_control.CONTROL_PREFIX) for k in sd)
    assert all(v.dtype == torch.float16 and torch.isfinite(v).all() for v in sd.values())
    assert sd["control_model.input_blocks.0.0.weight"].shape == (320, 4, 3, 3)
    assert sd["control_model.input_hint_block.0.weight"].shape == (16, 3, 3, 3)
    assert sd["control_model.input_hint_block.14.weight"].shape == (320, 256, 3, 3)
    for key in ("zero_convs.0.0.weight", "zero_convs.1.0.weight", "middle_block_out.0.weight"):
        assert sd["control_model." + key].float().abs().mean() > 1e-3, f"{key} must not be zero"


def test_comfy_loads_it_with_the_tiny_unets_shape(control_net):
    import comfy.controlnet

    assert isinstance(control_net, comfy.controlnet.ControlNet)
    net = control_net.control_model
    assert net.model_channels == 320 and net.num_res_blocks == [1] and list(net.channel_mult) == [1]
    assert len(net.zero_convs) == 2
    assert net.input_hint_block[0].weight.shape[1] == 3
    attn = net.input_blocks[1][1].transformer_blocks[0].attn2
    assert attn.heads == 8 and attn.to_k.weight.shape == (320, 768)


def test_control_changes_what_is_sampled(sd15, conds, control_net):
    import nodes

    model = sd15[0]
    positive, negative = conds
    latent = torch.zeros(2, 4, LATENT, LATENT)
    plain = _sample(model, positive, negative, latent)
    c_pos, c_neg = nodes.ControlNetApplyAdvanced().apply_controlnet(
        positive, negative, control_net, _images(2, seed=1), 1.0, 0.0, 1.0)
    controlled = _sample(model, c_pos, c_neg, latent)
    assert torch.isfinite(controlled).all()
    change = (controlled - plain).abs().mean() / plain.abs().mean()
    # measured ~0.08; zero zero-convs would give exactly 0
    assert change > 1e-2, f"control changed the samples by only {change:.2e} (relative)"


def test_each_item_gets_the_residuals_of_its_own_hint(sd15, control_net):
    model = sd15[0]
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 4, LATENT, LATENT, generator=g).repeat(2, 1, 1, 1)  # the same latent twice
    context = torch.randn(1, 77, 768, generator=g).repeat(2, 1, 1)
    sigma = torch.tensor([1.0, 1.0])

    two_hints = _residuals(control_net, model, _images(2, seed=3), x, sigma, context)
    same_hint = _residuals(control_net, model, _images(1, seed=3).repeat(2, 1, 1, 1), x, sigma, context)
    assert len(two_hints) == 3  # input conv, res+attn block, middle block
    for r2, r1 in zip(two_hints, same_hint):
        assert r2.shape == (2, 320, LATENT, LATENT)
        assert r2.abs().mean() > 1e-2
        # identical inputs give identical residuals (so below, the hint is what differs) ...
        torch.testing.assert_close(r1[0], r1[1])
        # ... and two hints give clearly different ones (measured: half the residuals' size)
        assert (r2[0] - r2[1]).abs().mean() > 0.1 * r2.abs().mean()


def test_hints_repeat_over_cond_and_uncond(sd15, control_net):
    """How ComfyUI lays hints over a cond+uncond batch (batched_number=2): the N hints go to
    the N items of each group, in order (comfy.controlnet.broadcast_image_to)."""
    model = sd15[0]
    g = torch.Generator().manual_seed(4)
    x = torch.randn(1, 4, LATENT, LATENT, generator=g).repeat(4, 1, 1, 1)
    context = torch.randn(1, 77, 768, generator=g).repeat(4, 1, 1)
    out = _residuals(control_net, model, _images(2, seed=5), x, torch.full((4,), 1.0), context,
                     batched_number=2)
    for r in out:
        torch.testing.assert_close(r[0], r[2])
        torch.testing.assert_close(r[1], r[3])
        assert not torch.allclose(r[0], r[1])


def test_diffusers_controlnet_matches_comfy(sd15, control_net, tiny_controlnet):
    model = sd15[0]
    assert control_net.control_model.dtype == torch.float32  # --cpu: ComfyUI computes in fp32
    ref = tiny_control.load_diffusers_controlnet(tiny_controlnet)
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, 4, LATENT, LATENT, generator=g)
    context = torch.randn(2, 77, 768, generator=g)
    image = _images(2, seed=7)
    sigma = torch.tensor([2.0, 2.0])

    ours = _residuals(control_net, model, image, x, sigma, context)
    sampling = model.model.model_sampling  # what get_control feeds its control model
    with torch.no_grad():
        down, mid = ref(sampling.calculate_input(sigma, x), sampling.timestep(sigma), encoder_hidden_states=context,
                        controlnet_cond=image.movedim(-1, 1), return_dict=False)
    theirs = [*down, mid]
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == b.shape
        assert a.abs().max() > 1e-2, "a zero residual would make the comparison vacuous"
        # the same fp16 weights in fp32 on both sides; measured <= 4e-7 (attention kernels differ)
        diff = (a - b).abs().max().item()
        assert diff <= 1e-4, f"residual {i}: max diff {diff:.2e}"


# --- InstructPix2Pix ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def ip2p(tiny_ip2p):
    import nodes

    return nodes.CheckpointLoaderSimple().load_checkpoint(tiny_ip2p.name)


def test_ip2p_is_cached_and_shares_the_tiny_checkpoints_encoders(tiny_ip2p, tiny_ckpt):
    meta = json.loads(tiny_ip2p.with_suffix(".json").read_text())
    assert meta["builder_version"] == tiny_control.BUILDER_VERSION
    assert meta["base_builder_version"] == tiny_models.BUILDER_VERSION
    mtime = tiny_ip2p.stat().st_mtime_ns
    assert tiny_control.ensure_tiny_ip2p() == tiny_ip2p
    assert tiny_ip2p.stat().st_mtime_ns == mtime, "a current cached checkpoint must not be rebuilt"
    ours, base = load_file(str(tiny_ip2p)), load_file(str(tiny_ckpt))
    conv = "model.diffusion_model.input_blocks.0.0.weight"
    assert ours.keys() == base.keys()
    assert ours[conv].shape == (320, 8, 3, 3) and ours[conv].dtype == torch.float16
    assert torch.equal(ours[conv][:, :4], base[conv])
    for key in ("cond_stage_model.transformer.text_model.final_layer_norm.weight",
                "first_stage_model.decoder.conv_out.weight", "model.diffusion_model.out.2.weight"):
        assert torch.equal(ours[key], base[key]), key


def test_comfy_loads_ip2p_as_sd15_instructpix2pix(ip2p):
    model, clip, vae = ip2p
    assert type(model.model.model_config).__name__ == "SD15_instructpix2pix"
    assert type(model.model).__name__ == "SD15_instructpix2pix"
    assert model.model.diffusion_model.input_blocks[0][0].weight.shape[1] == 8
    assert model.model.model_config.unet_config["in_channels"] == 8
    assert clip is not None and vae is not None


def test_ip2p_samples_from_the_image(ip2p):
    import nodes

    model, clip, vae = ip2p
    ip2p_cond = nodes.NODE_CLASS_MAPPINGS["InstructPixToPixConditioning"]
    positive = nodes.CLIPTextEncode().encode(clip, "make it snow")[0]
    negative = nodes.CLIPTextEncode().encode(clip, "")[0]
    outs = []
    for seed in (8, 9):
        pos, neg, latent = ip2p_cond.execute(positive=positive, negative=negative, vae=vae,
                                             pixels=_images(2, seed=seed)).result
        assert latent["samples"].shape == (2, 4, LATENT, LATENT)
        outs.append(_sample(model, pos, neg, latent["samples"]))
    assert all(torch.isfinite(o).all() for o in outs)
    # the same noise and prompt: only the input image differs, and it must matter
    assert (outs[0] - outs[1]).abs().mean() > 1e-2 * outs[0].abs().mean()
