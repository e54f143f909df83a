"""The image-to-video example through the real server: frame 0 is the user's image."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from support.server import execution_error
from support.workflows import node_id, pngs, tiny_api, with_png

pytestmark = pytest.mark.server

IMAGE = "t2vz_first_frame.png"


@pytest.fixture(scope="module")
def server(comfy_server):
    rng = np.random.default_rng(3)
    pixels = (rng.random((48, 80, 3)) * 255).astype(np.uint8)  # another size: the graph scales and crops it
    Image.fromarray(pixels).save(comfy_server.input_dir / IMAGE)
    return comfy_server


def _ok(server, prompt):
    entry = server.run(prompt, timeout=600)
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    return entry


def test_image_to_video_keeps_the_image_as_frame_0(server):
    prompt = with_png(tiny_api("image_to_video", video_length=4), "i2v/video")
    frames = pngs(server, _ok(server, prompt))
    assert frames.shape == (4, 64, 64, 3)
    # the same image through core nodes only: Load Image → Image Scale → VAE Encode → VAE Decode
    loader = node_id(prompt, "CheckpointLoaderSimple")
    core = {k: prompt[k] for k in (node_id(prompt, "LoadImage"), node_id(prompt, "ImageScale"),
                                   node_id(prompt, "VAEEncode"), loader)}
    core["70"] = {"class_type": "VAEDecode", "inputs": {"samples": [node_id(prompt, "VAEEncode"), 0],
                                                        "vae": [loader, 2]}}
    core["80"] = {"class_type": "SaveImage", "inputs": {"images": ["70", 0], "filename_prefix": "i2v/image"}}
    image = pngs(server, _ok(server, core))
    assert np.array_equal(frames[0], image[0])  # pinned: frame 0 is the image's latent, bit for bit
    assert not np.array_equal(frames[1], image[0])


def test_an_image_of_another_size_is_a_clear_error(server):
    prompt = tiny_api("image_to_video", video_length=3)
    prompt[node_id(prompt, "ImageScale")]["inputs"].update(width=96, height=64)
    entry = server.run(prompt, timeout=600)
    assert entry["status"]["status_str"] == "error"
    message = execution_error(entry)["exception_message"]
    assert "first_frame: the image latent is 12×8" in message and "the video's is 8×8" in message
