"""The tiny checkpoint is what the other tests assume: ComfyUI loads it as SD15 with CLIP and
VAE, and diffusers' UNet2DConditionModel built from diffusers_unet_config() computes the same
function from the same weights (so core code can be compared against diffusers' reference)."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from support import tiny_models


@pytest.fixture(scope="module")
def loaded(tiny_ckpt):
    import nodes

    return nodes.CheckpointLoaderSimple().load_checkpoint(tiny_ckpt.name)


def test_checkpoint_is_cached_with_sidecar(tiny_ckpt):
    meta = json.loads((tiny_ckpt.parent / tiny_models.SIDECAR_NAME).read_text())
    assert meta["builder_version"] == tiny_models.BUILDER_VERSION
    assert meta["size"] == tiny_ckpt.stat().st_size
    mtime = tiny_ckpt.stat().st_mtime_ns
    assert tiny_models.ensure_tiny_checkpoint() == tiny_ckpt
    assert tiny_ckpt.stat().st_mtime_ns == mtime, "a current cached checkpoint must not be rebuilt"


def test_checkpoint_layout_and_dtype(tiny_ckpt):
    sd = load_file(str(tiny_ckpt))
    prefixes = {k.split(".")[0] for k in sd}
    assert prefixes == {"model", "cond_stage_model", "first_stage_model"}
    assert all(v.dtype == torch.float16 for v in sd.values())
    assert sd["model.diffusion_model.input_blocks.0.0.weight"].shape == (320, 4, 3, 3)
    assert sd["cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"].shape == (49408, 768)
    assert sd["first_stage_model.decoder.conv_out.weight"].shape == (3, 128, 3, 3)
    assert all(torch.isfinite(v).all() for v in sd.values())


def test_builder_is_deterministic():
    a = tiny_models._init_tensor("model.diffusion_model.out.2.weight", (4, 320, 3, 3), seed=7)
    b = tiny_models._init_tensor("model.diffusion_model.out.2.weight", (4, 320, 3, 3), seed=7)
    c = tiny_models._init_tensor("model.diffusion_model.out.2.weight", (4, 320, 3, 3), seed=8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_comfy_loads_it_as_sd15_with_clip_and_vae(loaded):
    model, clip, vae = loaded
    assert type(model.model.model_config).__name__ == "SD15"
    assert clip is not None and vae is not None
    unet_config = model.model.model_config.unet_config
    for key in ("model_channels", "context_dim", "channel_mult", "num_res_blocks", "transformer_depth",
                "transformer_depth_output", "transformer_depth_middle", "num_heads"):
        assert unet_config[key] == tiny_models.LDM_UNET_CONFIG[key], key


def test_clip_and_vae_give_finite_outputs(loaded):
    _, clip, vae = loaded
    cond = clip.encode_from_tokens(clip.tokenize("a cat walking on the grass"))
    assert cond.shape == (1, 77, 768) and torch.isfinite(cond).all()
    latent = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    image = vae.decode(latent)
    assert image.shape[-3:] == (64, 64, 3)
    assert torch.isfinite(image).all() and image.std() > 0


def test_diffusers_unet_matches_comfy(loaded, tiny_ckpt):
    model = loaded[0]
    comfy_unet = model.model.diffusion_model.float().eval()
    ref = tiny_models.load_diffusers_unet(tiny_ckpt)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 8, 8, generator=g)
    t = torch.tensor([500.0])
    context = torch.randn(1, 77, 768, generator=g)
    with torch.no_grad():
        ours = comfy_unet(x, timesteps=t, context=context)
        theirs = ref(x, t, encoder_hidden_states=context).sample
    assert ours.shape == theirs.shape == x.shape
    assert ours.abs().max() > 1e-3, "a zero output would make the comparison vacuous"
    diff = (ours - theirs).abs().max().item()
    # the same fp16 weights in fp32 on both sides; measured ~5e-7 (attention kernels differ)
    assert diff <= 1e-5


def test_sampling_many_steps_stays_finite(loaded):
    import nodes

    model, clip, vae = loaded
    positive = nodes.CLIPTextEncode().encode(clip, "a horse galloping")[0]
    negative = nodes.CLIPTextEncode().encode(clip, "")[0]
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    out = nodes.common_ksampler(model, 0, 20, 7.5, "euler", "normal", positive, negative, latent)[0]["samples"]
    assert torch.isfinite(out).all()
    assert out.abs().max() < 1e3
    image = vae.decode(out)
    assert torch.isfinite(image).all()
