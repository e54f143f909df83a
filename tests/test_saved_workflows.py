"""Saved workflows keep loading: the frontend restores a node's widgets from its saved
``widgets_values`` by position, so every widget a released node had keeps its place, and
inputs added later come after them."""
from __future__ import annotations

import pytest

import nodes

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
VIDEO = ["seed", "steps", "cfg", "sampler_name", "scheduler", "width", "height", "video_length",
         "motion_field_strength_x", "motion_field_strength_y", "t0", "t1", "t_mode", "use_motion_field",
         "frame_start", "frame_count"]
# the widgets of every node as released before the request-object rework (commit 5b50a84)
RELEASED = {
    "T2VZ_Sampler": VIDEO + ["chunk_size", "use_cf_attn"],
    "T2VZ_MotionFieldLatentInit": VIDEO,
    "T2VZ_VideoSampler": ["seed", "cfg", "sampler_name", "chunk_size"],
    "T2VZ_VideoKSampler": ["seed", "steps", "cfg", "sampler_name", "scheduler", "noise_mode", "chunk_size",
                           "denoise"],
    "T2VZ_VideoSamplerCustom": ["seed", "noise_mode", "chunk_size"],
    "T2VZ_CrossFrameAttention": [],
    "T2VZ_CrossFrameControlNet": [],
    "T2VZ_LoadVideo": ["video", "frame_load_cap", "skip_first_frames", "select_every_nth", "resolution",
                       "output_fps", "start_time", "end_time"],
    "T2VZ_CannyEdges": ["low_threshold", "high_threshold"],
    "T2VZ_SaveGIF": ["fps", "filename_prefix", "loop"],
}


def _widgets(node_id):
    info = nodes.NODE_CLASS_MAPPINGS[node_id].GET_NODE_INFO_V1()
    order = info["input_order"]
    specs = {**info["input"].get("required", {}), **info["input"].get("optional", {})}
    names = order.get("required", []) + order.get("optional", [])
    return [n for n in names if isinstance(specs[n][0], list) or specs[n][0] in WIDGET_TYPES]


@pytest.mark.parametrize("node_id", sorted(RELEASED))
def test_released_widgets_keep_their_places(node_id):
    assert _widgets(node_id)[:len(RELEASED[node_id])] == RELEASED[node_id]


@pytest.mark.parametrize("node_id", sorted(RELEASED))
def test_widgets_added_after_release_are_optional(node_id):
    """ComfyUI refuses an API prompt that lacks a required input ("Required input is missing"),
    so a widget added to a released node must be optional: prompts saved before it still run."""
    info = nodes.NODE_CLASS_MAPPINGS[node_id].GET_NODE_INFO_V1()
    required = set(info["input_order"].get("required", []))
    added = _widgets(node_id)[len(RELEASED[node_id]):]
    assert not required & set(added), f"{node_id}: {sorted(required & set(added))} must be optional=True"
