"""A tiny SDXL-family checkpoint and a ControlNet that fits it, built at test time and cached.

- `ensure_tiny_sdxl()` -> `models/checkpoints/t2vz_tiny_sdxl.safetensors`, the original SDXL
  single-file layout:
  - `model.diffusion_model.*`  a narrow SDXL UNet: model_channels 320 at all three levels
    (channel_mult [1, 1, 1]), one res block per level, transformer depth [0, 2, 5] down,
    5 in the middle, [2, 2] / [1, 1] / [0, 0] up (deepest first), linear projections,
    64-channel heads, context_dim 2048, `label_emb` taking the 2816-wide ADM vector.
    ComfyUI matches a checkpoint to a model family on model_channels, transformer_depth (the
    down blocks'), context_dim, adm_in_channels, use_linear_in_transformer and
    use_temporal_attention only; [0, 2, 5] is KOALA-700M's down depth, so ComfyUI detects
    the config `KOALA_700M`, a subclass of `SDXL` that builds `comfy.model_base.SDXL`.
    Widths, levels, middle and up depths are not matched, which is what makes it small.
  - `conditioner.embedders.0.transformer.text_model.*`  a full-size CLIP-L and
    `conditioner.embedders.1.model.*`  a full-size OpenCLIP bigG (OpenCLIP key layout). Both
    must be full size: ComfyUI builds SDXL's text encoders from its fixed json configs
    (sd1_clip_config.json, clip_config_bigg.json), not from the state dict, so a smaller G
    would leave uninitialised weights. bigG is ~695M of the file's ~1B parameters.
  - `first_stage_model.*`  a full-size SD VAE (SDXL's VAE has the SD1.x shape; SDXL's latent
    scale 0.13025 comes from the model config, not the file).
- `ensure_tiny_sdxl_controlnet()` -> `models/controlnet/t2vz_tiny_controlnet_sdxl.safetensors`:
  a copy of the tiny UNet's encoder shape (with `label_emb`) plus the full-size hint block, in
  the lllyasviel layout (`control_model.*`). ComfyUI detects its config from the shapes
  (`model_config_from_unet(sd, "control_model.")`, again KOALA_700M). It cannot be in the
  diffusers layout (`controlnet_cond_embedding.*`): ComfyUI only loads diffusers ControlNets
  whose down blocks equal one of the real SDXL / SD configs in
  `model_detection.unet_config_from_diffusers_unet`. The zero convs are small, not zero.

All seeded random fp16 (the tensor named N of seed S is the same in every build); each file
has a sidecar `<name>.json` ({builder_version, seed, size}) and is rebuilt when it does not
match. `load_diffusers_sdxl_unet()` gives a diffusers UNet2DConditionModel with exactly the
tiny UNet's weights (ComfyUI's own `comfy.utils.unet_to_diffusers` key map).
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import torch

from . import comfy_env, tiny_control, tiny_models

logger = logging.getLogger(__name__)

#: Bump when either file's contents change; cached files of another version are rebuilt.
BUILDER_VERSION = 1
CKPT_NAME = "t2vz_tiny_sdxl.safetensors"
CONTROLNET_NAME = "t2vz_tiny_controlnet_sdxl.safetensors"
#: ComfyUI's name for the detected model config (a subclass of supported_models.SDXL).
DETECTED_CONFIG = "KOALA_700M"

UNET_PREFIX = tiny_models.UNET_PREFIX
CLIP_L_PREFIX = "conditioner.embedders.0.transformer."
CLIP_G_PREFIX = "conditioner.embedders.1.model."
VAE_PREFIX = tiny_models.VAE_PREFIX
CONTROL_PREFIX = tiny_control.CONTROL_PREFIX

POOLED_DIM = 1280  # bigG's projected pooled output, the first part of `y`
ADM_IN_CHANNELS = POOLED_DIM + 6 * 256  # + sinusoidal (h, w, crop_h, crop_w, target_h, target_w)

#: The UNet as ComfyUI builds it (detected config + SDXL.unet_extra_config): the kwargs of
#: comfy.ldm.modules.diffusionmodules.openaimodel.UNetModel.
LDM_UNET_CONFIG = {
    "use_checkpoint": False,
    "image_size": 32,
    "use_spatial_transformer": True,
    "legacy": False,
    "num_classes": "sequential",
    "adm_in_channels": ADM_IN_CHANNELS,
    "in_channels": 4,
    "out_channels": 4,
    "model_channels": 320,
    "num_res_blocks": [1, 1, 1],
    "transformer_depth": [0, 2, 5],
    "transformer_depth_output": [0, 0, 1, 1, 2, 2],  # shallowest first, like transformer_depth
    "channel_mult": [1, 1, 1],
    "transformer_depth_middle": 5,  # diffusers' mid block always has the last down depth
    "use_linear_in_transformer": True,
    "context_dim": 2048,
    "use_temporal_resblock": False,
    "use_temporal_attention": False,
    "num_heads": -1,
    "num_head_channels": 64,
}

#: kwargs of comfy.cldm.cldm.ControlNet as comfy.controlnet builds it for the tiny ControlNet.
LDM_CONTROLNET_CONFIG = {
    **{k: v for k, v in LDM_UNET_CONFIG.items() if k != "out_channels"},
    "hint_channels": tiny_control.HINT_CHANNELS,
}

# Init: tiny_models' scheme (weights ~ N(0, (gain / sqrt(fan_in))^2), norm scales ~1, biases
# ~0, embedding tables std 0.02). The UNet's gain 0.5 keeps its 16 transformer blocks and 11
# res blocks finite through sampling; the ControlNet uses tiny_control's gains (hint block
# 1.5, zero convs 0.2, the rest 0.5).
_GAIN = {UNET_PREFIX: 0.5, CLIP_L_PREFIX: 1.0, CLIP_G_PREFIX: 1.0, VAE_PREFIX: 1.0}
_EMBEDDING_STD = 0.02


def diffusers_unet_config() -> dict:
    """`UNet2DConditionModel(**diffusers_unet_config())` has exactly the tiny UNet's weights."""
    return {
        "sample_size": 128,
        "in_channels": 4,
        "out_channels": 4,
        "center_input_sample": False,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "mid_block_type": "UNetMidBlock2DCrossAttn",
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
        "only_cross_attention": False,
        "block_out_channels": [320, 320, 320],
        "layers_per_block": 1,
        "downsample_padding": 1,
        "mid_block_scale_factor": 1,
        "act_fn": "silu",
        "norm_num_groups": 32,
        "norm_eps": 1e-5,
        "cross_attention_dim": 2048,
        "transformer_layers_per_block": [1, 2, 5],  # the first level has no attention
        "reverse_transformer_layers_per_block": [[2, 2], [1, 1], [0, 0]],
        # diffusers' historical name: the number of heads per level (320 / 64)
        "attention_head_dim": [5, 5, 5],
        "use_linear_projection": True,
        "upcast_attention": False,
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": 256,
        "projection_class_embeddings_input_dim": ADM_IN_CHANNELS,
    }


def controlnet_dir() -> Path:
    return tiny_control.controlnet_dir()


# --- shapes, from ComfyUI's own modules on meta -----------------------------------------------

def _clip_shapes() -> dict[str, tuple[int, ...]]:
    """CLIP-L and bigG names in the SDXL checkpoint layout, via ComfyUI's own converter (the one
    CheckpointSave uses), so that SDXL.process_clip_state_dict maps them back exactly."""
    comfy_env.ensure_importable()
    import comfy.clip_model
    import comfy.diffusers_convert
    import comfy.ops
    import comfy.utils

    configs = comfy_env.find_comfyui_dir() / "comfy"
    ops = comfy.ops.disable_weight_init
    shapes: dict[str, tuple[int, ...]] = {}
    with torch.device("meta"):
        clip_l = comfy.clip_model.CLIPTextModel(
            json.loads((configs / "sd1_clip_config.json").read_text()), torch.float32, "meta", ops)
        clip_g = comfy.clip_model.CLIPTextModel(
            json.loads((configs / "clip_config_bigg.json").read_text()), torch.float32, "meta", ops)
    for name, tensor in clip_l.state_dict().items():
        shapes[CLIP_L_PREFIX + name] = tuple(tensor.shape)
    # SDXL checkpoints carry no CLIP-L projection (ComfyUI drops it when saving SDXL, too).
    shapes.pop(CLIP_L_PREFIX + "text_projection.weight")
    g_hf = {"clip_g.transformer." + k: v for k, v in clip_g.state_dict().items()}
    g_open = comfy.diffusers_convert.convert_text_enc_state_dict_v20(g_hf, "clip_g")  # meta cat: no data
    g_open = comfy.utils.state_dict_prefix_replace(g_open, {"clip_g.": CLIP_G_PREFIX})
    shapes.update({k: tuple(v.shape) for k, v in g_open.items()})
    return shapes


def _skeleton_shapes() -> dict[str, tuple[int, ...]]:
    """Names and shapes of every tensor in the checkpoint."""
    comfy_env.ensure_importable()
    import comfy.ops
    from comfy.ldm.models.autoencoder import AutoencoderKL
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    with torch.device("meta"):
        unet = UNetModel(**LDM_UNET_CONFIG, dtype=torch.float32, device="meta",
                         operations=comfy.ops.disable_weight_init)
        vae = AutoencoderKL(ddconfig=tiny_models.VAE_DDCONFIG, embed_dim=4)
    shapes = {UNET_PREFIX + k: tuple(v.shape) for k, v in unet.state_dict().items()}
    shapes.update({VAE_PREFIX + k: tuple(v.shape) for k, v in vae.state_dict().items()})
    shapes.update(_clip_shapes())
    return shapes


def _controlnet_shapes() -> dict[str, tuple[int, ...]]:
    """Names (with `control_model.`) and shapes, from ComfyUI's own ControlNet module on meta."""
    comfy_env.ensure_importable()
    import comfy.cldm.cldm
    import comfy.ops

    with torch.device("meta"):
        net = comfy.cldm.cldm.ControlNet(**LDM_CONTROLNET_CONFIG, dtype=torch.float32, device="meta",
                                         operations=comfy.ops.disable_weight_init)
    return {CONTROL_PREFIX + k: tuple(v.shape) for k, v in net.state_dict().items()}


# --- seeded tensors ------------------------------------------------------------------------------

def _init_tensor(name: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """tiny_models' scheme: seed from (seed, name); tables of embeddings std 0.02."""
    if name.startswith(CONTROL_PREFIX):
        gain = tiny_control._controlnet_gain(name)
    else:
        gain = next(g for p, g in _GAIN.items() if name.startswith(p))
    if len(shape) >= 2 and "embedding" in name:  # token / position tables (CLIP-L and bigG)
        gain = _EMBEDDING_STD * math.sqrt(math.prod(shape[1:]))  # i.e. std 0.02
    return tiny_control._seeded_tensor(name, shape, seed, gain)


def build_state_dict(seed: int = tiny_models.DEFAULT_SEED,
                     dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """All tensors of the tiny SDXL checkpoint; the same seed gives the same tensors."""
    return {name: _init_tensor(name, shape, seed).to(dtype)
            for name, shape in sorted(_skeleton_shapes().items())}


def build_controlnet_state_dict(seed: int = tiny_models.DEFAULT_SEED,
                                dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """All tensors of the tiny SDXL ControlNet (LDM layout); the same seed gives the same tensors."""
    return {name: _init_tensor(name, shape, seed).to(dtype)
            for name, shape in sorted(_controlnet_shapes().items())}


# --- cached files ---------------------------------------------------------------------------------

def _expected_meta(seed: int) -> dict:
    return {"builder_version": BUILDER_VERSION, "seed": seed}


def _is_current(path: Path, seed: int) -> bool:
    return tiny_models.cached_is_current(path, _expected_meta(seed))


def _write(path: Path, state: dict[str, torch.Tensor], seed: int, started: float) -> Path:
    return tiny_models.write_cached(Path(path), state, _expected_meta(seed), started)


def build_tiny_sdxl(path: Path, seed: int = tiny_models.DEFAULT_SEED) -> Path:
    started = time.monotonic()
    return _write(path, build_state_dict(seed), seed, started)


def build_tiny_sdxl_controlnet(path: Path, seed: int = tiny_models.DEFAULT_SEED) -> Path:
    started = time.monotonic()
    return _write(path, build_controlnet_state_dict(seed), seed, started)


def ensure_tiny_sdxl(seed: int = tiny_models.DEFAULT_SEED) -> Path:
    """Path of the cached tiny SDXL checkpoint in the host's models/checkpoints (built if needed)."""
    path = tiny_models.checkpoints_dir() / CKPT_NAME
    if not _is_current(path, seed):
        build_tiny_sdxl(path, seed)
    return path


def ensure_tiny_sdxl_controlnet(seed: int = tiny_models.DEFAULT_SEED) -> Path:
    """Path of the cached tiny SDXL ControlNet in the host's models/controlnet (built if needed)."""
    path = controlnet_dir() / CONTROLNET_NAME
    if not _is_current(path, seed):
        build_tiny_sdxl_controlnet(path, seed)
    return path


def read_tensors(path: Path, prefix: str) -> dict[str, torch.Tensor]:
    """The tensors of `path` whose names start with `prefix` (prefix removed), reading only
    those (the checkpoint is ~2 GB, mostly text encoders)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k[len(prefix):]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}


# --- the same UNet in diffusers' layout -----------------------------------------------------------

def ldm_unet_to_diffusers(ldm_unet: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the tiny UNet's LDM keys (without prefix) to diffusers keys, via ComfyUI's map.

    ComfyUI's map names `label_emb` twice (`class_embedding.*` and `add_embedding.*`); SDXL's
    is `add_embedding`. Raises if an LDM key has no diffusers name.
    """
    comfy_env.ensure_importable()
    import comfy.utils

    mapping = comfy.utils.unet_to_diffusers(LDM_UNET_CONFIG)  # diffusers key -> LDM key
    out = {dk: ldm_unet[lk] for dk, lk in mapping.items()
           if lk in ldm_unet and not dk.startswith("class_embedding.")}
    unused = sorted(set(ldm_unet) - set(mapping.values()))
    if unused:
        raise KeyError(f"LDM UNet keys with no diffusers name: {unused[:5]} ...")
    return out


def load_diffusers_sdxl_unet(ckpt_path: Path | None = None, dtype: torch.dtype = torch.float32):
    """A diffusers UNet2DConditionModel holding exactly the tiny SDXL checkpoint's UNet weights.

    Call it with `added_cond_kwargs={"text_embeds": pooled [B, 1280], "time_ids": [B, 6]}`,
    time_ids = (height, width, crop_h, crop_w, target_height, target_width) in pixels: the
    same numbers ComfyUI's SDXL.encode_adm embeds into `y`.
    """
    from diffusers import UNet2DConditionModel

    ldm = read_tensors(ckpt_path or ensure_tiny_sdxl(), UNET_PREFIX)
    with torch.device("meta"):  # no random init of ~100M parameters that are replaced anyway
        unet = UNet2DConditionModel(**diffusers_unet_config())
    unet.load_state_dict({k: v.to(dtype) for k, v in ldm_unet_to_diffusers(ldm).items()},
                         strict=True, assign=True)
    left = [name for name, t in (*unet.named_parameters(), *unet.named_buffers()) if t.is_meta]
    if left:
        raise RuntimeError(f"diffusers UNet tensors not in the checkpoint: {left[:5]} ...")
    return unet.eval()
