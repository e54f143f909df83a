"""Text2Video-Zero for ComfyUI: zero-shot video from any Stable Diffusion checkpoint."""
from .nodes import comfy_entrypoint, web_directory

WEB_DIRECTORY = web_directory()  # None in a second copy of the pack (see nodes/__init__.py)

__all__ = ["comfy_entrypoint", "WEB_DIRECTORY"]
