"""Camera Path and Prompt Schedule nodes in-process: what the editor shows, the messages a
user gets at queue time, and the values they hand to the samplers (with the tiny SD1.5)."""
from __future__ import annotations

import pytest
import torch

import nodes
from t2vz_core import motion
from t2vz_core.camera import CameraPath

CAMERA = "T2VZ_CameraPath"
SCHEDULE = "T2VZ_PromptSchedule"


def _node(node_id):
    return nodes.NODE_CLASS_MAPPINGS[node_id]


# -- Camera Path ---------------------------------------------------------------------------

def test_camera_path_schema():
    info = _node(CAMERA).GET_NODE_INFO_V1()
    assert info["category"] == "Text2Video-Zero/motion"
    assert info["output"] == ["T2VZ_MOTION"]
    assert set(info["input"]["required"]) == {"pan_x", "pan_y", "zoom", "roll", "centre_x", "centre_y", "mode"}
    assert info["input"]["required"]["mode"][1]["options"] == ["accumulated", "absolute"]


def test_camera_path_node_gives_the_samplers_motion():
    out = _node(CAMERA).execute(pan_x="12", pan_y="-4", zoom="1", roll="0", centre_x=0.5, centre_y=0.5,
                                mode="accumulated").result[0]
    # (the pack's modules are loaded under the custom node's package name: compare by behaviour)
    assert type(out).__name__ == "CameraPath" and out.describe() == CameraPath.translation(12, -4).describe()
    lat = torch.randn(3, 4, 16, 24)
    assert torch.equal(out.warp(lat, [0, 5, 9]), motion.warp_latents(lat, 12, -4, [0, 5, 9]))
    keyed = _node(CAMERA).execute(pan_x="0:(0), 8:(16)", pan_y="0", zoom="0:(1), 8:(1.5)", roll="0:(0), 8:(45)",
                                  centre_x=0.25, centre_y=0.75, mode="absolute").result[0]
    p = keyed.parameters([4])[0]
    assert p == {"pan_x": 8.0, "pan_y": 0.0, "zoom": 1.25, "roll": 22.5, "centre_x": 0.25, "centre_y": 0.75}


@pytest.mark.parametrize("inputs,message", [
    (dict(roll="0:(0), 12(8)"), "roll: expected ':' after the frame number at character 10"),
    (dict(zoom="0"), "zoom: 0.0 at frame 0 must be above 0"),
    (dict(pan_x="fast"), "pan_x: expected a frame number (0, 1, 2 ...) at character 1"),
    (dict(pan_y=""), "pan_y: empty"),
    (dict(centre_x=1.5), "centre_x: 1.5 must be between 0 (one edge) and 1"),
    (dict(mode="sideways"), "mode: 'sideways' is not one of accumulated, absolute"),
])
def test_camera_path_messages_start_with_the_input(inputs, message):
    args = dict(pan_x="0", pan_y="0", zoom="1", roll="0", centre_x=0.5, centre_y=0.5, mode="accumulated")
    args.update(inputs)
    result = _node(CAMERA).validate_inputs(**args)
    assert isinstance(result, str) and result.startswith(message), result


def test_camera_path_validation_accepts_good_and_linked_inputs():
    node = _node(CAMERA)
    assert node.validate_inputs(pan_x="0:(0), 12:(8)", pan_y="3", zoom="1.01", roll="-2", centre_x=0.5,
                                centre_y=0.5, mode="absolute") is True
    # a widget turned into a linked input arrives as None at queue time
    assert node.validate_inputs(pan_x=None, pan_y=None, zoom="1.02", roll=None, centre_x=None, centre_y=None,
                                mode=None) is True


# -- Prompt Schedule -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def clip(tiny_ckpt):
    return nodes.CheckpointLoaderSimple().load_checkpoint(tiny_ckpt.name)[1]


def _encode(clip, text):
    return nodes.CLIPTextEncode().encode(clip, text)[0][0]


def _schedule(clip, keyframes, video_length):
    with torch.inference_mode():
        out = _node(SCHEDULE).execute(clip=clip, keyframes=keyframes, video_length=video_length)
    return out.result[0]


def test_prompt_schedule_rows_are_clip_text_encode_on_keyframes_and_blends_between(clip):
    (rows, extras), = _schedule(clip, '"0": "a cat walking on a street",\n"4": "a tiger walking on a street"', 6)
    cat, tiger = _encode(clip, "a cat walking on a street"), _encode(clip, "a tiger walking on a street")
    assert rows.shape == (6,) + tuple(cat[0].shape[1:])
    assert torch.equal(rows[0], cat[0][0]) and torch.equal(rows[4], tiger[0][0]) and torch.equal(rows[5], tiger[0][0])
    torch.testing.assert_close(rows[2], (cat[0][0] + tiger[0][0]) / 2)
    assert not torch.equal(rows[1], rows[2])
    pooled = extras["pooled_output"]
    assert pooled.shape == (6, cat[1]["pooled_output"].shape[-1])
    assert torch.equal(pooled[0], cat[1]["pooled_output"][0]) and torch.equal(pooled[4], tiger[1]["pooled_output"][0])
    torch.testing.assert_close(pooled[1], torch.lerp(cat[1]["pooled_output"][0], tiger[1]["pooled_output"][0], 0.25))


def test_prompt_schedule_with_prompts_of_one_and_three_chunks(clip):
    long = ", ".join(f"a {c} tiger" for c in ("red", "green", "blue", "gold") * 14)
    short = "a cat"
    long_cond, empty = _encode(clip, long)[0], _encode(clip, "")[0]
    assert long_cond.shape[1] == 3 * 77  # the test needs a prompt of three chunks
    (rows, _), = _schedule(clip, f'"0": "{short}"\n"2": "{long}"', 3)
    assert rows.shape[:2] == (3, 3 * 77)
    assert torch.equal(rows[2], long_cond[0])
    assert torch.equal(rows[0], torch.cat([_encode(clip, short)[0][0], empty[0], empty[0]]))


@pytest.mark.parametrize("inputs,message", [
    (dict(keyframes='"0": "a cat"\n"eight": "a tiger"'), "keyframes: line 2: the frame 'eight' must be a whole number"),
    (dict(keyframes="   "), "keyframes: no keyframes"),
    (dict(video_length=5000), "video_length: video_length (5000) must be between 1 and 4096"),
])
def test_prompt_schedule_messages_start_with_the_input(inputs, message):
    args = dict(keyframes='"0": "a cat"', video_length=8)
    args.update(inputs)
    result = _node(SCHEDULE).validate_inputs(**args)
    assert isinstance(result, str) and result.startswith(message), result
    assert _node(SCHEDULE).validate_inputs(keyframes='"0": "a cat", "8": "a dog",', video_length=8) is True
