"""Pose, edge and Instruct-Pix2Pix videos through the real server, with the seed videos."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from support.media import read_video
from support.server import execution_error
from support.workflows import node_id, pngs, tiny_api, with_png

pytestmark = pytest.mark.server

CASES = [  # workflow, input video, its frame count
    ("pose_to_video", "pose_dance1.mp4", 16),
    ("canny_to_video", "canny_girl_turning.mp4", 8),
    ("dreambooth_canny_to_video", "canny_girl_turning.mp4", 8),
    ("pix2pix_video_edit", "pix2pix_camel.mp4", 8),
]


@pytest.fixture(scope="module")
def server(comfy_server, shared_assets, tiny_controlnet, tiny_ip2p):
    for name in {c[1] for c in CASES}:
        shutil.copyfile(shared_assets / name, comfy_server.input_dir / name)
    return comfy_server


def _prompt(workflow, seed, prefix):
    p = with_png(tiny_api(workflow, steps=3, seed=seed), prefix)
    p[node_id(p, "SaveVideo")]["inputs"]["filename_prefix"] = prefix
    return p


def _run(server, prompt):
    entry = server.run(prompt, timeout=600)
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    mp4 = server.output_files(entry, node_id=node_id(prompt, "SaveVideo"))[0]
    return read_video(mp4), pngs(server, entry)


@pytest.mark.parametrize("workflow,video,frames", CASES, ids=[c[0] for c in CASES])
def test_video_mode_gives_the_inputs_frame_count_and_size(server, workflow, video, frames):
    (mp4_frames, fps), first = _run(server, _prompt(workflow, 5, f"{workflow}/a"))
    assert mp4_frames.shape == (frames, 64, 64, 3)
    assert first.shape == (frames, 64, 64, 3)
    src_fps = read_video(server.input_dir / video)[1]
    assert fps == pytest.approx(src_fps)
    # same seed, same frames (lossless PNGs; core's h264 encoder is not bit-reproducible)
    _, again = _run(server, _prompt(workflow, 5, f"{workflow}/b"))
    assert np.array_equal(first, again)


def test_hint_count_must_match_the_frame_count(server):
    p = tiny_api("pose_to_video", steps=2)
    p["81"] = {"class_type": "ImageFromBatch", "inputs": {"image": [node_id(p, "T2VZ_LoadVideo"), 0],
                                                          "batch_index": 0, "length": 10}}
    p[node_id(p, "ControlNetApplyAdvanced")]["inputs"]["image"] = ["81", 0]
    entry = server.run(p, timeout=300)
    assert entry["status"]["status_str"] == "error"
    err = execution_error(entry)["exception_message"]
    # the latent keeps the video's 16 frames (GetImageSize of the whole video); only the hints were cut
    assert "10 hint images for 16 frames; give one hint image per frame" in err
    assert "Video KSampler (T2VZ_VideoKSampler)" in err


def test_users_model_and_controlnet_are_untouched(server):
    """A plain core graph with the same MODEL and CONTROL_NET gives bit-identical images
    before and after a cross-frame pose run in the same server."""
    def plain(prefix):
        p = tiny_api("pose_to_video", steps=2)
        # core only: Apply ControlNet with the original CONTROL_NET, KSampler on the original MODEL
        p[node_id(p, "ControlNetApplyAdvanced")]["inputs"]["control_net"] = [node_id(p, "ControlNetLoader"), 0]
        vks = node_id(p, "T2VZ_VideoKSampler")
        inputs = p[vks]["inputs"]
        p[vks] = {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "positive": inputs["positive"], "negative": inputs["negative"],
            "latent_image": inputs["latent_image"], "seed": 3, "steps": 2, "cfg": 7.5, "sampler_name": "euler",
            "scheduler": "normal", "denoise": 1.0}}
        for nid in [k for k, v in p.items() if v["class_type"] in ("CreateVideo", "SaveVideo", "T2VZ_CrossFrameAttention",
                                                                  "T2VZ_CrossFrameControlNet")]:
            del p[nid]
        with_png(p, prefix)
        entry = server.run(p, timeout=300)
        assert entry["status"]["status_str"] == "success", execution_error(entry)
        cached = {n for ev, d in entry["status"]["messages"] if ev == "execution_cached" for n in d.get("nodes", [])}
        assert vks not in cached
        return pngs(server, entry)

    before = plain("untouched_cn/before")
    _run(server, _prompt("pose_to_video", 9, "untouched_cn/t2vz"))
    after = plain("untouched_cn/after")
    assert np.array_equal(before, after)
