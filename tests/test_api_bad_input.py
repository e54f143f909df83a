"""Bad input through the real server: every case gets a clear message that names the
input (in node_errors at queue time, or in the execution_error), and the server keeps
serving: the next valid prompt succeeds."""
from __future__ import annotations

import json

import pytest

from support.server import execution_error
from support.workflows import node_id, tiny_api

pytestmark = pytest.mark.server


def _set(prompt, class_type, **inputs):
    prompt[node_id(prompt, class_type)]["inputs"].update(inputs)
    return prompt


def _empty_conditioning(prompt):
    prompt["90"] = {"class_type": "T2VZTest_EmptyConditioning", "inputs": {}}
    return _set(prompt, "T2VZ_Sampler", positive=["90", 0])


def _non_unet(prompt, class_type="T2VZ_Sampler"):
    prompt["91"] = {"class_type": "T2VZTest_NonUNetModel", "inputs": {"model": ["1", 0]}}
    return _set(prompt, class_type, model=["91", 0])


def _missing_negative(prompt):
    del prompt[node_id(prompt, "T2VZ_Sampler")]["inputs"]["negative"]
    return prompt


def _model_into_positive(prompt):
    return _set(prompt, "T2VZ_Sampler", positive=["1", 0])


T2V = "text2video"
STEP = "text2video_step_by_step"

# (id, workflow, mutate, where, needles that must all appear in the error text)
CASES = [
    ("t0>=t1", T2V, lambda p: _set(p, "T2VZ_Sampler", t0=47, t1=44), "queue",
     ["t0 (47) must be smaller than t1 (44)"]),
    ("t0==t1", STEP, lambda p: _set(p, "T2VZ_MotionFieldLatentInit", t0=40, t1=40), "queue",
     ["t0 (40) must be smaller than t1 (40)"]),
    ("t1>=steps exact", T2V, lambda p: _set(p, "T2VZ_Sampler", steps=30, t1=47, t_mode="exact (indices of this schedule)"),
     "queue", ["t1 (47) must be smaller than steps (30)", "scaled from 50 steps"]),
    ("t1>=50 scaled", T2V, lambda p: _set(p, "T2VZ_Sampler", t1=50), "queue", ["t1 (50) must be smaller than 50"]),
    ("steps<2", T2V, lambda p: _set(p, "T2VZ_Sampler", steps=1), "queue", ["steps (1) must be between 2 and 10000"]),
    ("bad t_mode", T2V, lambda p: _set(p, "T2VZ_Sampler", t_mode="sometimes"), "queue",
     ["t_mode 'sometimes' is not one of", "exact (indices of this schedule)"]),
    ("video_length<1", T2V, lambda p: _set(p, "T2VZ_Sampler", video_length=0), "queue",
     ["video_length (0) must be between 1 and 4096"]),
    ("width not /8", T2V, lambda p: _set(p, "T2VZ_Sampler", width=100), "queue",
     ["width (100) must be a multiple of 8"]),
    ("height too small", STEP, lambda p: _set(p, "T2VZ_MotionFieldLatentInit", height=8), "queue",
     ["height (8) must be 0 (the model's native size) or at least 16"]),
    # every schema maximum holds at queue time, also for inputs a validate_inputs names
    ("video_length>max", T2V, lambda p: _set(p, "T2VZ_Sampler", video_length=5000), "queue",
     ["video_length (5000) must be between 1 and 4096"]),
    ("steps>max", T2V, lambda p: _set(p, "T2VZ_Sampler", steps=20000), "queue",
     ["steps (20000) must be between 2 and 10000"]),
    ("chunk_size>max", T2V, lambda p: _set(p, "T2VZ_Sampler", chunk_size=100000), "queue",
     ["chunk_size (100000) must be between 0 and 4096"]),
    ("chunk_size>max video sampler", STEP, lambda p: _set(p, "T2VZ_VideoSampler", chunk_size=100000), "queue",
     ["chunk_size (100000) must be between 0 and 4096"]),
    ("t1>max", STEP, lambda p: _set(p, "T2VZ_MotionFieldLatentInit", t1=10000), "queue",
     ["t1 (10000) must be between 0 and 9999"]),
    ("frame_start>max", T2V, lambda p: _set(p, "T2VZ_Sampler", frame_start=100001), "queue",
     ["frame_start (100001) must be between 0 and 100000"]),
    ("video too large for memory", T2V,
     lambda p: _set(p, "T2VZ_Sampler", video_length=4096, width=16384, height=16384), "run",
     ["video_length: 4096 frames of 16384", "need about", "GB for the video's latents", "Frame Part"]),
    ("width>max", T2V, lambda p: _set(p, "T2VZ_Sampler", width=16392), "queue",
     ["width (16392) must be between 0 and 16384"]),
    ("fps<=0 mp4", T2V, lambda p: _set(p, "CreateVideo", fps=0.0), "queue", ["fps", "smaller than min"]),
    ("fps<=0 gif", STEP, lambda p: _set(p, "T2VZ_SaveGIF", fps=0.0), "queue", ["fps (0.0) must be greater than 0"]),
    ("non-UNet model", T2V, _non_unet, "run",
     ["T2VZ_Sampler", "works on UNet models", "MMDiT"]),
    ("non-UNet model cf node", STEP, lambda p: _non_unet(p, "T2VZ_CrossFrameAttention"), "run",
     ["T2VZ_CrossFrameAttention", "works on UNet models"]),
    ("empty conditioning", T2V, _empty_conditioning, "run",
     ["positive conditioning is empty", "CLIP Text Encode"]),
    ("missing negative", T2V, _missing_negative, "queue", ["negative", "Required input is missing"]),
    ("model into positive", T2V, _model_into_positive, "queue", ["positive", "Return type mismatch"]),
    ("unknown sampler", T2V, lambda p: _set(p, "T2VZ_Sampler", sampler_name="warp_drive"), "queue",
     ["sampler_name 'warp_drive' is not a ComfyUI sampler", "ddim"]),
    ("unknown scheduler", STEP, lambda p: _set(p, "T2VZ_MotionFieldLatentInit", scheduler="sideways"), "queue",
     ["scheduler 'sideways' is not a ComfyUI scheduler"]),
    ("unknown video sampler", STEP, lambda p: _set(p, "T2VZ_VideoSampler", sampler_name="nope"), "queue",
     ["sampler_name 'nope' is not a ComfyUI sampler"]),
    ("negative motion out of range", T2V, lambda p: _set(p, "T2VZ_Sampler", motion_field_strength_x=-9999.0),
     "queue", ["motion_field_strength_x", "smaller than min"]),
    ("chunk_size 1", T2V, lambda p: _set(p, "T2VZ_Sampler", chunk_size=1), "queue",
     ["chunk_size (1) must be 0 (all frames at once) or at least 2"]),
    ("chunk_size 1 video sampler", STEP, lambda p: _set(p, "T2VZ_VideoSampler", chunk_size=1), "queue",
     ["chunk_size (1) must be 0"]),
    ("frame offset beyond the video", T2V, lambda p: _set(p, "T2VZ_Sampler", video_length=8, frame_start=12), "queue",
     ["frame_start (12) is beyond the video", "0 to 7"]),
    ("part runs past the end", STEP,
     lambda p: _set(p, "T2VZ_MotionFieldLatentInit", video_length=8, frame_start=6, frame_count=4), "queue",
     ["frame_start (6) + frame_count (4) goes beyond video_length (8)"]),
    ("zero new frames", T2V, lambda p: _set(p, "T2VZ_Sampler", video_length=8, frame_start=8), "queue",
     ["frame_start (8) is beyond the video"]),
    ("gif prefix escapes output", STEP, lambda p: _set(p, "T2VZ_SaveGIF", filename_prefix="../../escape"), "run",
     ["filename_prefix", "outside ComfyUI's output folder"]),
]


@pytest.mark.parametrize("case_id,workflow,mutate,where,needles", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_message(comfy_server, case_id, workflow, mutate, where, needles):
    prompt = mutate(tiny_api(workflow))
    reply = comfy_server.queue(prompt)
    if where == "queue":
        assert reply.get("node_errors"), f"{case_id} was accepted: {reply}"
        text = json.dumps(reply["node_errors"])
        if "prompt_id" in reply:  # other outputs of the graph were valid and run
            comfy_server.wait(reply["prompt_id"], timeout=300)
    else:
        assert "prompt_id" in reply, f"{case_id} was refused at queue time: {reply}"
        entry = comfy_server.wait(reply["prompt_id"], timeout=300)
        assert entry["status"]["status_str"] == "error"
        text = json.dumps(execution_error(entry))
        assert "Traceback" not in execution_error(entry).get("exception_message", "")
    for needle in needles:
        assert needle in text, f"{case_id}: {needle!r} not in {text[:1500]}"


def test_server_keeps_serving_after_bad_input(comfy_server):
    bad = _empty_conditioning(tiny_api(T2V))
    entry = comfy_server.run(bad, timeout=300)
    assert entry["status"]["status_str"] == "error"
    good = comfy_server.run(tiny_api(T2V, seed=77), timeout=300)
    assert good["status"]["status_str"] == "success", execution_error(good)
