"""Background Smoothing through the real server: the example's two passes, and bad input."""
from __future__ import annotations

import numpy as np
import pytest

from support.server import execution_error
from support.workflows import node_id, tiny_api

pytestmark = pytest.mark.server

EXAMPLE = "text2video_smooth_background"


def _with_pngs(prompt: dict, prefix: str) -> dict:
    """Save both passes' frames losslessly: node 81 the first pass, node 82 the smoothed one."""
    decodes = sorted((k for k, v in prompt.items() if v["class_type"] == "VAEDecode"), key=int)
    assert len(decodes) == 2
    for out, dec, name in (("81", decodes[0], "first"), ("82", decodes[1], "smoothed")):
        prompt[out] = {"class_type": "SaveImage", "inputs": {"images": [dec, 0], "filename_prefix": f"{prefix}/{name}"}}
    return prompt


def _frames(server, entry, nid):
    from PIL import Image
    return np.stack([np.asarray(Image.open(f)) for f in sorted(server.output_files(entry, node_id=nid))])


def _run(server, strength, prefix):
    prompt = _with_pngs(tiny_api(EXAMPLE, video_length=4, seed=5), prefix)
    prompt[node_id(prompt, "T2VZ_BackgroundSmoothing")]["inputs"]["strength"] = strength
    entry = server.run(prompt, timeout=600)
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    return _frames(server, entry, "81"), _frames(server, entry, "82")


def test_example_runs_both_passes_and_strength_one_is_the_one_pass_video(comfy_server):
    first, smoothed = _run(comfy_server, 1.0, "smooth/one")
    assert first.shape == (4, 64, 64, 3)
    assert np.array_equal(first, smoothed)
    # the example's Solid Mask marks everything as background: at 0.4 frames 1.. change,
    # frame 0 (the anchor, unchanged by smoothing, attending only to itself) does not
    first, smoothed = _run(comfy_server, 0.4, "smooth/bg")
    assert np.array_equal(first[0], smoothed[0])
    for k in range(1, 4):
        assert not np.array_equal(first[k], smoothed[k])


def _plain_latent_prompt(**smoothing):
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": tiny_api("text2video")["1"]["inputs"]["ckpt_name"]}},
        "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 3}},
        "3": {"class_type": "SolidMask", "inputs": {"value": 0.0, "width": 64, "height": 64}},
        "4": {"class_type": "T2VZ_BackgroundSmoothing",
              "inputs": {"latent": ["2", 0], "masks": ["3", 0], "strength": 0.4, "dilation": 5, "invert": False,
                         **smoothing}},
        "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "smooth/bad"}},
    }


def test_a_latent_without_motion_is_refused_by_name_and_the_server_keeps_serving(comfy_server):
    entry = comfy_server.run(_plain_latent_prompt(), timeout=120)
    err = execution_error(entry)
    assert entry["status"]["status_str"] == "error" and err["node_type"] == "T2VZ_BackgroundSmoothing"
    assert err["exception_message"].startswith("latent: connect the LATENT of Motion-Field Latent Init (T2VZ)")
    # nothing was written, and the next prompt runs
    assert not comfy_server.output_files(entry, node_id="6")
    ok = comfy_server.run(_plain_latent_prompt(strength=1.0) | {"4": {"class_type": "LatentUpscaleBy", "inputs": {
        "samples": ["2", 0], "upscale_method": "nearest-exact", "scale_by": 1.0}}}, timeout=120)
    assert ok["status"]["status_str"] == "success", execution_error(ok)


def test_an_even_dilation_is_refused_at_queue_time(comfy_server):
    reply = comfy_server.queue(_plain_latent_prompt(dilation=4))
    text = str(reply.get("node_errors"))
    assert "prompt_id" not in reply and "dilation (4) must be an odd number" in text
