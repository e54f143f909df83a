"""A tiny SD1.5-shaped checkpoint with seeded random weights, built at test time and cached.

`ensure_tiny_checkpoint()` returns the path of `t2vz_tiny_sd15.safetensors` in the host's
`models/checkpoints/`, building it when it is missing or was built by another
BUILDER_VERSION (recorded in a sidecar `t2vz_tiny_sd15.json`).

The file has the original LDM / ComfyUI single-file layout:
- `model.diffusion_model.*`  a one-level UNet (model_channels 320, channel_mult [1],
  one res block and one transformer per block, 8 heads, context_dim 768), which ComfyUI
  detects as SD15;
- `cond_stage_model.transformer.text_model.*`  a full-size CLIP-L text encoder;
- `first_stage_model.*`  a full-size SD VAE.
All random, fp16 on disk (~470 MB), identical tensors for the same seed.

Everything that touches ComfyUI needs the host importable: these functions call
`comfy_env.ensure_importable()` themselves.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
import zlib
from pathlib import Path

import torch

from . import comfy_env

logger = logging.getLogger(__name__)

#: Bump when the file's contents change; cached files of another version are rebuilt.
BUILDER_VERSION = 1
CKPT_NAME = "t2vz_tiny_sd15.safetensors"
SIDECAR_NAME = "t2vz_tiny_sd15.json"
DEFAULT_SEED = 1234

UNET_PREFIX = "model.diffusion_model."
CLIP_PREFIX = "cond_stage_model.transformer."
VAE_PREFIX = "first_stage_model."

#: The UNet as ComfyUI builds it (detected config + SD15.unet_extra_config): the kwargs of
#: comfy.ldm.modules.diffusionmodules.openaimodel.UNetModel.
LDM_UNET_CONFIG = {
    "use_checkpoint": False,
    "image_size": 32,
    "use_spatial_transformer": True,
    "legacy": False,
    "adm_in_channels": None,
    "in_channels": 4,
    "out_channels": 4,
    "model_channels": 320,
    "num_res_blocks": [1],
    "transformer_depth": [1],
    "transformer_depth_output": [1, 1],
    "channel_mult": [1],
    "transformer_depth_middle": 1,
    "use_linear_in_transformer": False,
    "context_dim": 768,
    "use_temporal_resblock": False,
    "use_temporal_attention": False,
    "num_heads": 8,
    "num_head_channels": -1,
}

#: The SD1.x VAE as comfy.sd.VAE builds it.
VAE_DDCONFIG = {
    "double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3,
    "ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0,
}

# Init scale per part: weights ~ N(0, (gain / sqrt(fan_in))^2). The UNet gets a small gain so
# that many sampling steps stay finite; the encoders get the usual 1/sqrt(fan_in).
_GAIN = {UNET_PREFIX: 0.5, CLIP_PREFIX: 1.0, VAE_PREFIX: 1.0}
_EMBEDDING_STD = 0.02


def diffusers_unet_config() -> dict:
    """`UNet2DConditionModel(**diffusers_unet_config())` has exactly the tiny UNet's weights."""
    return {
        "sample_size": 64,
        "in_channels": 4,
        "out_channels": 4,
        "center_input_sample": False,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "down_block_types": ["CrossAttnDownBlock2D"],
        "mid_block_type": "UNetMidBlock2DCrossAttn",
        "up_block_types": ["CrossAttnUpBlock2D"],
        "only_cross_attention": False,
        "block_out_channels": [320],
        "layers_per_block": 1,
        "downsample_padding": 1,
        "mid_block_scale_factor": 1,
        "act_fn": "silu",
        "norm_num_groups": 32,
        "norm_eps": 1e-5,
        "cross_attention_dim": 768,
        "transformer_layers_per_block": 1,
        # diffusers' historical name: for SD1.x this is the number of heads (8), not their width.
        "attention_head_dim": 8,
        "use_linear_projection": False,
        "upcast_attention": False,
    }


def checkpoints_dir() -> Path:
    return comfy_env.find_comfyui_dir() / "models" / "checkpoints"


def _skeleton_shapes() -> dict[str, tuple[int, ...]]:
    """Names and shapes of every tensor in the checkpoint, from ComfyUI's own modules (on meta)."""
    comfy_env.ensure_importable()
    import comfy.clip_model
    import comfy.ops
    from comfy.ldm.models.autoencoder import AutoencoderKL
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    ops = comfy.ops.disable_weight_init
    shapes: dict[str, tuple[int, ...]] = {}
    with torch.device("meta"):
        unet = UNetModel(**LDM_UNET_CONFIG, dtype=torch.float32, device="meta", operations=ops)
        clip_json = comfy_env.find_comfyui_dir() / "comfy" / "sd1_clip_config.json"
        clip = comfy.clip_model.CLIPTextModel(json.loads(clip_json.read_text()), torch.float32, "meta", ops)
        vae = AutoencoderKL(ddconfig=VAE_DDCONFIG, embed_dim=4)
    for prefix, module in ((UNET_PREFIX, unet), (CLIP_PREFIX, clip), (VAE_PREFIX, vae)):
        for name, tensor in module.state_dict().items():
            shapes[prefix + name] = tuple(tensor.shape)
    # SD1.x checkpoints carry neither (ComfyUI drops them when saving SD15, too).
    shapes.pop(CLIP_PREFIX + "text_projection.weight", None)
    return shapes


def _init_tensor(name: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63))
    gain = next(g for p, g in _GAIN.items() if name.startswith(p))
    if len(shape) >= 2:
        if "embedding" in name:
            std = _EMBEDDING_STD
        else:
            std = gain / math.sqrt(math.prod(shape[1:]))
        return torch.randn(shape, generator=gen) * std
    if name.endswith(".weight"):  # norm scales
        return 1.0 + 0.02 * torch.randn(shape, generator=gen)
    return 0.02 * torch.randn(shape, generator=gen)  # biases


def build_state_dict(seed: int = DEFAULT_SEED, dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """All tensors of the tiny checkpoint; the same seed gives the same tensors."""
    return {
        name: _init_tensor(name, shape, seed).to(dtype)
        for name, shape in sorted(_skeleton_shapes().items())
    }


def sidecar_path(path: Path) -> Path:
    return path.with_suffix(".json")


def cached_is_current(path: Path, expected: dict) -> bool:
    """True when `path` and its sidecar json exist and the sidecar holds `expected` and the
    file's current size (a rebuild is due on any builder-version or seed change)."""
    sidecar = sidecar_path(path)
    if not path.is_file() or not sidecar.is_file():
        return False
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return False
    return all(meta.get(k) == v for k, v in expected.items()) and meta.get("size") == path.stat().st_size


def write_cached(path: Path, state: dict[str, torch.Tensor], meta: dict, started: float) -> Path:
    """Save `state` to `path` atomically, then its sidecar (meta, size, build time)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.partial")  # concurrent builders never share it
    save_file(state, str(tmp), metadata={k: str(v) for k, v in meta.items()})
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    seconds = time.monotonic() - started
    sidecar = {**meta, "size": path.stat().st_size, "build_seconds": round(seconds, 1)}
    sidecar_path(path).write_text(json.dumps(sidecar, indent=1) + "\n")
    logger.info("built %s (%d tensors, %.0f MB) in %.1fs", path, len(state), path.stat().st_size / 2**20, seconds)
    return path


def _expected_meta(seed: int) -> dict:
    return {"builder_version": BUILDER_VERSION, "seed": seed}


def build_tiny_checkpoint(path: Path, seed: int = DEFAULT_SEED) -> Path:
    """Write the checkpoint to `path` (atomically) and its sidecar next to it."""
    started = time.monotonic()
    return write_cached(Path(path), build_state_dict(seed), _expected_meta(seed), started)


def _is_current(path: Path, seed: int) -> bool:
    return cached_is_current(path, _expected_meta(seed))


def ensure_tiny_checkpoint(seed: int = DEFAULT_SEED) -> Path:
    """Path of the cached tiny checkpoint in the host's models/checkpoints (built if needed)."""
    path = checkpoints_dir() / CKPT_NAME
    if not _is_current(path, seed):
        build_tiny_checkpoint(path, seed)
    return path


def ldm_unet_to_diffusers(ldm_unet: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the tiny UNet's LDM keys (without prefix) to diffusers keys, via ComfyUI's map.

    Raises if a key is left over on either side, so a silent partial load cannot happen.
    """
    comfy_env.ensure_importable()
    import comfy.utils

    mapping = comfy.utils.unet_to_diffusers(LDM_UNET_CONFIG)  # diffusers key -> LDM key
    out = {dk: ldm_unet[lk] for dk, lk in mapping.items() if lk in ldm_unet}
    unused = sorted(set(ldm_unet) - set(mapping.values()))
    if unused:
        raise KeyError(f"LDM UNet keys with no diffusers name: {unused[:5]} ...")
    return out


def load_diffusers_unet(ckpt_path: Path | None = None, dtype: torch.dtype = torch.float32):
    """A diffusers UNet2DConditionModel holding exactly the tiny checkpoint's UNet weights."""
    from diffusers import UNet2DConditionModel
    from safetensors.torch import load_file

    sd = load_file(str(ckpt_path or ensure_tiny_checkpoint()))
    ldm = {k[len(UNET_PREFIX):]: v for k, v in sd.items() if k.startswith(UNET_PREFIX)}
    unet = UNet2DConditionModel(**diffusers_unet_config())
    unet.load_state_dict({k: v.to(dtype) for k, v in ldm_unet_to_diffusers(ldm).items()}, strict=True)
    return unet.to(dtype).eval()
