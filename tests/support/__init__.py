"""Test support: comfy_env (in-process host), tiny_models (the tiny SD1.5 checkpoint),
server (the real ComfyUI on loopback), graphs (core API prompts)."""
