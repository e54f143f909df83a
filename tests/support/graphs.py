"""API-format prompts (the JSON POST /prompt takes) built from core nodes only."""
from __future__ import annotations

from .tiny_models import CKPT_NAME


def core_txt2img(ckpt_name: str = CKPT_NAME, width: int = 64, height: int = 64, batch_size: int = 2,
                 steps: int = 2, seed: int = 0, positive: str = "a cat walking on the grass",
                 negative: str = "blurry", filename_prefix: str = "smoke/core") -> dict:
    """CheckpointLoaderSimple -> CLIPTextEncode x2 -> EmptyLatentImage -> KSampler (euler)
    -> VAEDecode -> SaveImage. Node ids: "1" loader, "5" sampler, "7" SaveImage."""
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt_name}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": positive, "clip": ["1", 1]}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": ["1", 1]}},
        "4": {"class_type": "EmptyLatentImage",
              "inputs": {"width": width, "height": height, "batch_size": batch_size}},
        "5": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0],
            "seed": seed, "steps": steps, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
            "denoise": 1.0}},
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
        "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": filename_prefix}},
    }
