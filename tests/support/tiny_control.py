"""Tiny control models that fit the tiny SD1.5 checkpoint, built at test time and cached.

- `ensure_tiny_controlnet()` -> `models/controlnet/t2vz_tiny_controlnet_sd15.safetensors`:
  an SD1.5 ControlNet shaped like the tiny UNet's encoder (model_channels 320, channel_mult
  [1], one res block + one transformer, 8 heads, context_dim 768) with the full-size
  `input_hint_block` (a 3-channel image at 8x the latent size). The original lllyasviel
  layout (`control_model.*`, what `comfy.controlnet.load_controlnet` detects through
  `model_config_from_unet(sd, "control_model.")`). Seeded random fp16 weights; the zero
  convs are small but NOT zero, so the residuals are non-zero and depend on the hint.
- `ensure_tiny_ip2p()` -> `models/checkpoints/t2vz_tiny_ip2p_sd15.safetensors`: the tiny
  checkpoint with an 8-channel first UNet conv, which ComfyUI detects as
  `SD15_instructpix2pix`. Every other tensor is copied from the tiny checkpoint.

Each file has a sidecar `<name>.json` ({builder_version, base_builder_version, seed, size});
a file whose sidecar does not match is rebuilt. `load_diffusers_controlnet()` gives a
diffusers `ControlNetModel` holding exactly the tiny ControlNet's weights (via the same key
map ComfyUI uses to load diffusers ControlNets, inverted).
"""
from __future__ import annotations

import logging
import math
import time
import zlib
from pathlib import Path

import torch

from . import comfy_env, tiny_models

logger = logging.getLogger(__name__)

#: Bump when either file's contents change; cached files of another version are rebuilt.
BUILDER_VERSION = 1
CONTROLNET_NAME = "t2vz_tiny_controlnet_sd15.safetensors"
IP2P_NAME = "t2vz_tiny_ip2p_sd15.safetensors"
CONTROL_PREFIX = "control_model."
HINT_CHANNELS = 3
IP2P_IN_CHANNELS = 8

#: kwargs of comfy.cldm.cldm.ControlNet as comfy.controlnet builds it for this file.
LDM_CONTROLNET_CONFIG = {
    **{k: v for k, v in tiny_models.LDM_UNET_CONFIG.items() if k != "out_channels"},
    "hint_channels": HINT_CHANNELS,
}

# Init scale per tensor group, weights ~ N(0, (gain / sqrt(fan_in))^2) like tiny_models.
# Measured on 64x64 hints: with the hint block at gain <= 1 the hint dies in its 8 convs
# (its output is the biases, ~0.02); at 1.5 it is ~0.18, next to the latent's conv_in ~0.3;
# at 2 it blows up (~7). The zero convs (zero in a fresh real ControlNet) at 0.2 give
# residuals ~0.1 against the tiny UNet's skip features ~0.3-0.6: clearly non-zero and
# hint-dependent (two hints differ by ~half of that), without swamping the UNet.
_HINT_GAIN = 1.5
_ZERO_CONV_GAIN = 0.2
_GAIN = 0.5


def controlnet_dir() -> Path:
    comfy_env.ensure_importable()
    import folder_paths

    return Path(folder_paths.get_folder_paths("controlnet")[0])


def _seeded_tensor(name: str, shape: tuple[int, ...], seed: int, gain: float) -> torch.Tensor:
    """tiny_models' init scheme (seed from (seed, name); norm scales ~1, biases ~0) at `gain`."""
    gen = torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63))
    if len(shape) >= 2:
        return torch.randn(shape, generator=gen) * (gain / math.sqrt(math.prod(shape[1:])))
    if name.endswith(".weight"):  # norm scales
        return 1.0 + 0.02 * torch.randn(shape, generator=gen)
    return 0.02 * torch.randn(shape, generator=gen)  # biases


def _controlnet_shapes() -> dict[str, tuple[int, ...]]:
    """Names (with `control_model.`) and shapes, from ComfyUI's own ControlNet module on meta."""
    comfy_env.ensure_importable()
    import comfy.cldm.cldm
    import comfy.ops

    with torch.device("meta"):
        net = comfy.cldm.cldm.ControlNet(**LDM_CONTROLNET_CONFIG, dtype=torch.float32, device="meta",
                                         operations=comfy.ops.disable_weight_init)
    return {CONTROL_PREFIX + k: tuple(v.shape) for k, v in net.state_dict().items()}


def _controlnet_gain(name: str) -> float:
    local = name[len(CONTROL_PREFIX):]
    if local.startswith("input_hint_block."):
        return _HINT_GAIN
    if local.startswith(("zero_convs.", "middle_block_out.")):
        return _ZERO_CONV_GAIN
    return _GAIN


def build_controlnet_state_dict(seed: int = tiny_models.DEFAULT_SEED,
                                dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """All tensors of the tiny ControlNet (LDM layout); the same seed gives the same tensors."""
    return {
        name: _seeded_tensor(name, shape, seed, _controlnet_gain(name)).to(dtype)
        for name, shape in sorted(_controlnet_shapes().items())
    }


def build_ip2p_state_dict(seed: int = tiny_models.DEFAULT_SEED) -> dict[str, torch.Tensor]:
    """The tiny checkpoint's tensors, with an 8-input-channel first UNet conv.

    Its first 4 input channels are the tiny UNet's conv (so with a zero image latent the
    first conv computes what the tiny UNet's does); the 4 image channels are seeded random.
    """
    from safetensors.torch import load_file

    state = load_file(str(tiny_models.ensure_tiny_checkpoint(seed)))
    key = tiny_models.UNET_PREFIX + "input_blocks.0.0.weight"
    base = state[key]
    extra = _seeded_tensor(key + "#ip2p_image_channels", (base.shape[0], IP2P_IN_CHANNELS - base.shape[1],
                                                         *base.shape[2:]), seed, _GAIN)
    state[key] = torch.cat([base, extra.to(base.dtype)], dim=1).contiguous()
    return state


def _expected_meta(seed: int) -> dict:
    return {"builder_version": BUILDER_VERSION, "base_builder_version": tiny_models.BUILDER_VERSION,
            "seed": seed}


def _is_current(path: Path, seed: int) -> bool:
    return tiny_models.cached_is_current(path, _expected_meta(seed))


def _write(path: Path, state: dict[str, torch.Tensor], seed: int, started: float) -> Path:
    return tiny_models.write_cached(Path(path), state, _expected_meta(seed), started)


def build_tiny_controlnet(path: Path, seed: int = tiny_models.DEFAULT_SEED) -> Path:
    started = time.monotonic()
    return _write(Path(path), build_controlnet_state_dict(seed), seed, started)


def build_tiny_ip2p(path: Path, seed: int = tiny_models.DEFAULT_SEED) -> Path:
    started = time.monotonic()
    return _write(Path(path), build_ip2p_state_dict(seed), seed, started)


def ensure_tiny_controlnet(seed: int = tiny_models.DEFAULT_SEED) -> Path:
    """Path of the cached tiny ControlNet in the host's models/controlnet (built if needed)."""
    path = controlnet_dir() / CONTROLNET_NAME
    if not _is_current(path, seed):
        build_tiny_controlnet(path, seed)
    return path


def ensure_tiny_ip2p(seed: int = tiny_models.DEFAULT_SEED) -> Path:
    """Path of the cached tiny InstructPix2Pix checkpoint in models/checkpoints (built if needed)."""
    path = tiny_models.checkpoints_dir() / IP2P_NAME
    if not _is_current(path, seed):
        build_tiny_ip2p(path, seed)
    return path


# --- the same ControlNet in diffusers' layout -------------------------------------------------

def controlnet_diffusers_config() -> dict:
    """`ControlNetModel(**controlnet_diffusers_config())` has exactly the tiny ControlNet's shapes."""
    unet = tiny_models.diffusers_unet_config()
    drop = ("sample_size", "out_channels", "center_input_sample", "up_block_types")
    return {
        **{k: v for k, v in unet.items() if k not in drop},
        "conditioning_channels": HINT_CHANNELS,
        "controlnet_conditioning_channel_order": "rgb",
        "conditioning_embedding_out_channels": [16, 32, 96, 256],
        "global_pool_conditions": False,
    }


def _diffusers_to_ldm_keys() -> dict[str, str]:
    """diffusers ControlNetModel key -> LDM ControlNet key (no prefix), as comfy.controlnet maps
    a diffusers ControlNet when loading one (load_controlnet_state_dict)."""
    comfy_env.ensure_importable()
    import comfy.utils

    keys = comfy.utils.unet_to_diffusers(tiny_models.LDM_UNET_CONFIG)  # includes up blocks: unused
    n_zero_convs = sum(1 for k in _controlnet_shapes() if k.endswith(".weight") and ".zero_convs." in k)
    n_hint = 8  # conv_in, blocks.0..5, conv_out <-> input_hint_block.0, 2, ..., 14
    for s in (".weight", ".bias"):
        keys["controlnet_mid_block" + s] = "middle_block_out.0" + s
        for i in range(n_zero_convs):
            keys[f"controlnet_down_blocks.{i}{s}"] = f"zero_convs.{i}.0{s}"
        for i in range(n_hint):
            name = ("controlnet_cond_embedding.conv_in" if i == 0 else
                    "controlnet_cond_embedding.conv_out" if i == n_hint - 1 else
                    f"controlnet_cond_embedding.blocks.{i - 1}")
            keys[name + s] = f"input_hint_block.{2 * i}{s}"
    return keys


def ldm_controlnet_to_diffusers(ldm: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the tiny ControlNet's LDM keys (without `control_model.`) to diffusers keys.

    Raises if an LDM key has no diffusers name, so a silent partial load cannot happen.
    """
    to_ldm = _diffusers_to_ldm_keys()
    out = {dk: ldm[lk] for dk, lk in to_ldm.items() if lk in ldm}
    unused = sorted(set(ldm) - set(to_ldm.values()))
    if unused:
        raise KeyError(f"LDM ControlNet keys with no diffusers name: {unused[:5]} ...")
    return out


def load_diffusers_controlnet(path: Path | None = None, dtype: torch.dtype = torch.float32):
    """A diffusers ControlNetModel holding exactly the tiny ControlNet's weights."""
    from diffusers import ControlNetModel
    from safetensors.torch import load_file

    sd = load_file(str(path or ensure_tiny_controlnet()))
    ldm = {k[len(CONTROL_PREFIX):]: v for k, v in sd.items() if k.startswith(CONTROL_PREFIX)}
    net = ControlNetModel(**controlnet_diffusers_config())
    net.load_state_dict({k: v.to(dtype) for k, v in ldm_controlnet_to_diffusers(ldm).items()}, strict=True)
    return (net if dtype == torch.float32 else net.to(dtype)).eval()
