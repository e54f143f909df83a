"""SDXL through the real server: the same pack nodes on a (tiny) SDXL-family checkpoint."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from support.media import read_video
from support.server import execution_error
from support.workflows import CONTROLNET_NAME, SDXL_CONTROLNET_NAME, SDXL_NAME, node_id, tiny_api

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(comfy_server, shared_assets, tiny_sdxl, tiny_sdxl_controlnet, tiny_controlnet):
    shutil.copyfile(shared_assets / "pose_dance1.mp4", comfy_server.input_dir / "pose_dance1.mp4")
    return comfy_server


def _ok(server, prompt):
    entry = server.run(prompt, timeout=900)
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    return entry


def _frames(server, entry, prompt):
    return read_video(server.output_files(entry, node_id=node_id(prompt, "SaveVideo"))[0])[0]


def test_sdxl_text2video(server):
    p = tiny_api("sdxl_text2video", steps=4, video_length=4, chunk_size=2)
    assert p["1"]["inputs"]["ckpt_name"] == SDXL_NAME
    frames = _frames(server, _ok(server, p), p)
    assert frames.shape == (4, 64, 64, 3)


def test_sdxl_pose_to_video(server):
    p = tiny_api("sdxl_pose_to_video", steps=2)
    assert p[node_id(p, "ControlNetLoader")]["inputs"]["control_net_name"] == SDXL_CONTROLNET_NAME
    frames = _frames(server, _ok(server, p), p)
    assert frames.shape == (16, 64, 64, 3)


@pytest.mark.parametrize("ckpt,controlnet,needles", [
    (SDXL_NAME, CONTROLNET_NAME, ["ControlNet (SD1.x, text width 768)", "model (SDXL, text width 2048)"]),
    ("t2vz_tiny_sd15.safetensors", SDXL_CONTROLNET_NAME, ["ControlNet (SDXL", "model (SD1.x, text width 768)"]),
], ids=["sd15-controlnet-on-sdxl", "sdxl-controlnet-on-sd15"])
def test_controlnet_of_another_family_is_a_clear_error(server, ckpt, controlnet, needles):
    p = tiny_api("sdxl_pose_to_video", steps=2)
    p["1"]["inputs"]["ckpt_name"] = ckpt
    p[node_id(p, "ControlNetLoader")]["inputs"]["control_net_name"] = controlnet
    if ckpt != SDXL_NAME:  # SD1.5 text encoding for the SD1.5 model
        for nid in [k for k, v in p.items() if v["class_type"] == "CLIPTextEncodeSDXL"]:
            p[nid] = {"class_type": "CLIPTextEncode", "inputs": {"text": p[nid]["inputs"]["text_g"], "clip": ["1", 1]}}
    entry = server.run(p, timeout=600)
    assert entry["status"]["status_str"] == "error"
    msg = execution_error(entry)["exception_message"]
    for needle in needles:
        assert needle in msg
    assert "mat1 and mat2" not in msg
    # and the server keeps serving
    _ok(server, tiny_api("text2video", seed=31))


def test_users_sdxl_model_and_controlnet_are_untouched(server):
    """A plain core graph (KSampler + Apply ControlNet with the user's SDXL MODEL and
    CONTROL_NET) gives bit-identical images before and after a cross-frame SDXL pose run."""
    def plain(prefix):
        p = {
            "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": SDXL_NAME}},
            "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a fox", "clip": ["1", 1]}},
            "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
            "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 2}},
            "16": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": SDXL_CONTROLNET_NAME}},
            "19": {"class_type": "T2VZ_LoadVideo", "inputs": {"video": "pose_dance1.mp4", "frame_load_cap": 2,
                                                             "skip_first_frames": 0, "select_every_nth": 1,
                                                             "resolution": 64, "output_fps": 0.0, "start_time": 0.0,
                                                             "end_time": 0.0}},
            "18": {"class_type": "ControlNetApplyAdvanced", "inputs": {
                "positive": ["2", 0], "negative": ["3", 0], "control_net": ["16", 0], "image": ["19", 0],
                "strength": 1.0, "start_percent": 0.0, "end_percent": 1.0}},
            "5": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "positive": ["18", 0], "negative": ["18", 1],
                                                       "latent_image": ["4", 0], "seed": 5, "steps": 2, "cfg": 6.0,
                                                       "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
            "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
            "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": prefix}},
        }
        entry = _ok(server, p)
        cached = {n for ev, d in entry["status"]["messages"] if ev == "execution_cached" for n in d.get("nodes", [])}
        assert "5" not in cached
        return np.stack([np.asarray(Image.open(f)) for f in sorted(server.output_files(entry, node_id="7"))])

    before = plain("sdxl_untouched/before")
    _ok(server, tiny_api("sdxl_pose_to_video", steps=2, seed=2))
    _ok(server, tiny_api("sdxl_text2video", steps=3, video_length=3, seed=2))
    after = plain("sdxl_untouched/after")
    assert np.array_equal(before, after)
