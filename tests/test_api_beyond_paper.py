"""Beyond the paper, through the real server: a camera path, a user's image as frame 0
(the image_to_video example) and per-frame prompts (the prompt_travel example)."""
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


# -- camera paths -----------------------------------------------------------------------------------

def _with_camera(prompt, **path):
    prompt["60"] = {"class_type": "T2VZ_CameraPath", "inputs": {
        "pan_x": "0", "pan_y": "0", "zoom": "1", "roll": "0", "centre_x": 0.5, "centre_y": 0.5,
        "mode": "accumulated", **path}}
    prompt[node_id(prompt, "T2VZ_Sampler")]["inputs"]["motion"] = ["60", 0]
    return prompt


def test_a_translation_camera_path_is_the_x_y_motion_bit_for_bit(server):
    plain = with_png(tiny_api("text2video", video_length=4, motion_field_strength_x=8.0,
                              motion_field_strength_y=-4.0), "camera/xy")
    path = with_png(_with_camera(tiny_api("text2video", video_length=4, motion_field_strength_x=99.0),
                                 pan_x="8", pan_y="-4"), "camera/path")
    a, b = pngs(server, _ok(server, plain)), pngs(server, _ok(server, path))
    assert np.array_equal(a, b)
    zoom = with_png(_with_camera(tiny_api("text2video", video_length=4), zoom="1.1", roll="0:(0), 3:(15)"),
                    "camera/zoom")
    c = pngs(server, _ok(server, zoom))
    assert np.array_equal(c[0], a[0]) and not np.array_equal(c[1:], a[1:])  # frame 0 never moves


def test_a_schedule_with_a_syntax_error_is_refused_at_queue_time(server):
    reply = server.queue(_with_camera(tiny_api("text2video"), roll="0:(0), 12(8)"))
    errors = reply["node_errors"]["60"]["errors"]
    assert len(errors) == 1 and errors[0]["extra_info"]["input_name"] == "roll", errors  # on its input only
    assert "character 10" in errors[0]["details"]


# -- prompt travel ----------------------------------------------------------------------------------

def _travel(prefix, keyframes):
    prompt = with_png(tiny_api("prompt_travel", video_length=4), prefix)
    prompt[node_id(prompt, "T2VZ_PromptSchedule")]["inputs"]["keyframes"] = keyframes
    return prompt


def test_prompt_travel_changes_the_later_frames_only(server):
    base = pngs(server, _ok(server, _travel("travel/a", '"0": "a red fox",\n"3": "a blue bird"')))
    other = pngs(server, _ok(server, _travel("travel/b", '"0": "a red fox",\n"3": "a green frog"')))
    assert base.shape == (4, 64, 64, 3)
    assert np.array_equal(base[0], other[0])  # frame 0 keeps row 0
    assert not np.array_equal(base[3], other[3])


def test_a_schedule_for_another_length_is_a_clear_error(server):
    prompt = _travel("travel/c", '"0": "a red fox",\n"3": "a blue bird"')
    prompt[node_id(prompt, "T2VZ_PromptSchedule")]["inputs"]["video_length"] = 6
    entry = server.run(prompt, timeout=600)
    assert entry["status"]["status_str"] == "error"
    message = execution_error(entry)["exception_message"]
    assert "the conditioning has 6 rows" in message and "4-frame video" in message
