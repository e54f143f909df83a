"""Text2Video-Zero for ComfyUI: zero-shot video from any Stable Diffusion checkpoint."""
from .nodes import comfy_entrypoint

WEB_DIRECTORY = "./web"

__all__ = ["comfy_entrypoint", "WEB_DIRECTORY"]
