"""The example workflows' API twins, shrunk to run on the tiny checkpoint on a CPU."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from .tiny_models import CKPT_NAME

ROOT = Path(__file__).resolve().parents[2]
UI_DIR = ROOT / "example_workflows"
API_DIR = UI_DIR / "api"

TINY = {"width": 64, "height": 64, "steps": 8, "video_length": 4, "resolution": 64}
IP2P_NAME = "t2vz_tiny_ip2p_sd15.safetensors"
CONTROLNET_NAME = "t2vz_tiny_controlnet_sd15.safetensors"
SDXL_NAME = "t2vz_tiny_sdxl.safetensors"
SDXL_CONTROLNET_NAME = "t2vz_tiny_controlnet_sdxl.safetensors"


def load_api(name: str) -> dict:
    return json.loads((API_DIR / f"{name}.json").read_text())


def tiny_api(name: str, **overrides) -> dict:
    """The API twin with the tiny checkpoint, 64×64, 8 steps, 4 frames (overridable), and
    ``overrides`` applied to every node that has that input."""
    prompt = copy.deepcopy(load_api(name))
    wanted = {**TINY, **overrides}
    for node in prompt.values():
        inputs = node["inputs"]
        if "ckpt_name" in inputs:
            name = inputs["ckpt_name"].lower()
            inputs["ckpt_name"] = IP2P_NAME if "pix2pix" in name else SDXL_NAME if "xl" in name else CKPT_NAME
        if "control_net_name" in inputs:
            xl = "xl" in inputs["control_net_name"].lower()
            inputs["control_net_name"] = SDXL_CONTROLNET_NAME if xl else CONTROLNET_NAME
        for key, val in wanted.items():
            if key in inputs and not isinstance(inputs[key], list):
                inputs[key] = val
    return prompt


def node_id(prompt: dict, class_type: str) -> str:
    ids = [k for k, v in prompt.items() if v["class_type"] == class_type]
    if len(ids) != 1:
        raise KeyError(f"{len(ids)} nodes of type {class_type}")
    return ids[0]


PNG_NODE = "80"


def with_png(prompt: dict, prefix: str) -> dict:
    """Also save the decoded frames as PNGs (node "80"): the lossless frames, since core's
    h264 encoder is not bit-reproducible between runs (same images, different packets)."""
    decodes = sorted((k for k, v in prompt.items() if v["class_type"] == "VAEDecode"), key=int)
    # the last decode: the finished video where a graph decodes a first pass too (smoothing)
    prompt[PNG_NODE] = {"class_type": "SaveImage", "inputs": {"images": [decodes[-1], 0], "filename_prefix": prefix}}
    return prompt


def pngs(server, entry):
    """The PNG frames saved by with_png's node, in order, as one (N, H, W, C) array."""
    import numpy as np
    from PIL import Image
    return np.stack([np.asarray(Image.open(f)) for f in sorted(server.output_files(entry, node_id=PNG_NODE))])
