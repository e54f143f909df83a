"""The editor's camera-path view asks the server (GET /t2vz/camera_path) for what to draw: the
values come from CameraPath itself, through the real server, and bad schedules are a 400 that
names the input and the position, while the server keeps serving."""
from __future__ import annotations

import math
import urllib.parse

import numpy as np
import pytest

from t2vz_core.camera import CameraPath

pytestmark = pytest.mark.server

SQUARE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]


def _view(server, prefix="/api", **query):
    return server._request("GET", f"{prefix}/t2vz/camera_path?{urllib.parse.urlencode(query)}")


def _close(got, want, tol=1e-6):
    return all(abs(a - b) <= tol for p, q in zip(got, want) for a, b in zip(p, q)) and len(got) == len(want)


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_a_schedule_gives_the_values_camera_path_computes(comfy_server, prefix):
    query = dict(pan_x="0:(0), 12:(8)", pan_y="-2", zoom="1.01", roll="0:(0), 23:(1)", centre_x=0.25,
                 centre_y=0.5, mode="accumulated", frames=24)
    status, data = _view(comfy_server, prefix, **query)
    assert status == 200, data
    path = CameraPath.from_schedules(**{k: v for k, v in query.items() if k != "frames"})
    assert data["frames"] == 24 and len(data["outlines"]) == 24
    assert data["parameters"] == path.parameters(range(24))  # exactly the core's numbers
    last = path.parameters([23])[0]
    assert data["summary"] == (f"24 frames: pan x 0→{last['pan_x']:.3g} px, pan y 0→{last['pan_y']:.3g} px, "
                               f"zoom 1→{last['zoom']:.3g}, roll 0→{last['roll']:.3g}°")
    assert _close(data["outlines"][0]["corners"], SQUARE)  # frame 0 never moves


def test_the_outlines_are_the_frames_as_the_camera_sees_them(comfy_server):
    # a pan: frame k's outline is frame 0's moved by k steps, in fractions of the frame
    status, data = _view(comfy_server, pan_x="8", pan_y="-4", frames=4)
    assert status == 200, data
    assert _close(data["outlines"][3]["corners"], [[x + 24 / 512, y - 12 / 512] for x, y in SQUARE])
    assert data["outlines"][3]["middle"] == pytest.approx([0.5 + 24 / 512, 0.5 - 12 / 512], abs=1e-6)
    assert data["summary"] == "4 frames: pan x 0→24 px, pan y 0→-12 px"
    # zoom 2 (absolute) about the middle: the camera sees the middle half of frame 0
    status, data = _view(comfy_server, zoom="0:(1), 1:(2)", mode="absolute", frames=2)
    assert _close(data["outlines"][1]["corners"], [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]])
    # a quarter turn on a 2:1 frame turns in real pixels: the outline is 1 frame-height wide
    status, data = _view(comfy_server, roll="0:(0), 1:(90)", mode="absolute", frames=2, width=128, height=64)
    assert status == 200, data
    xs = [x * 128 for x, _ in data["outlines"][1]["corners"]]
    ys = [y * 64 for _, y in data["outlines"][1]["corners"]]
    assert max(xs) - min(xs) == pytest.approx(64) and max(ys) - min(ys) == pytest.approx(128)
    # and each corner is where the warp's inverse map sends it (output pixel p shows frame 0's
    # A(p - c) + c + b): the camera turned a quarter clockwise on screen (so the picture turns
    # counter-clockwise), its top-left corner now half a frame above frame 0, right of centre
    path = CameraPath.from_schedules(roll="0:(0), 1:(90)", mode="absolute")
    maps, centres = path.inverse_maps([1], 64, 128)
    a, b, c = maps[0, :2, :2].numpy(), maps[0, :2, 2].numpy(), centres[0].numpy()
    want = [list((a @ (np.array(p) * 512 - c) + c + b) / 512) for p in SQUARE]
    assert _close(data["outlines"][1]["corners"], want)
    assert data["outlines"][1]["corners"][0] == pytest.approx([0.75, -0.5], abs=1e-6)
    assert data["summary"] == "2 frames: roll 0→90°"
    status, data = _view(comfy_server, frames=5)
    assert data["summary"] == "5 frames: camera still"
    # out and back: the summary gives the extreme as well as the ends
    status, data = _view(comfy_server, pan_x="0:(0), 5:(10), 10:(0)", mode="absolute", frames=11)
    assert data["summary"] == "11 frames: pan x 0→0 px (reaches 10 px)"


@pytest.mark.parametrize("query, needle", [
    ({"pan_x": "0:(0), 12(8)"}, "pan_x: expected ':' after the frame number at character 10"),
    ({"roll": "0:(0), 12:(8"}, "roll: expected ')' at character 13, found the end"),
    ({"zoom": "0:(1), 4:(0)"}, "zoom: 0.0 at frame 4 must be above 0"),
    ({"pan_y": ""}, "pan_y: empty"),
    ({"frames": "0"}, "frames ('0') must be a whole number from 1 to 4096"),
    ({"frames": "4097"}, "frames ('4097') must be a whole number from 1 to 4096"),
    ({"frames": "2.5"}, "frames ('2.5') must be a whole number from 1 to 4096"),
    ({"centre_x": "1.5"}, "centre_x ('1.5') must be a number from 0 (one edge) to 1"),
    ({"mode": "relative"}, "mode: 'relative' is not one of accumulated, absolute"),
    ({"zoom": "1.5", "frames": "4096"}, "zoom: by frame 23 the camera is more than 10000 times closer"),
    ({"pan": "3"}, "unknown option(s) pan; allowed: pan_x, pan_y"),
])
def test_bad_input_is_a_400_naming_the_input_and_the_server_keeps_serving(comfy_server, query, needle):
    status, body = _view(comfy_server, **query)
    assert status == 400 and needle in body["error"], body
    status, data = _view(comfy_server, pan_x="1", frames=2)
    assert status == 200 and data["summary"] == "2 frames: pan x 0→1 px"


def test_a_long_video_is_one_answer_with_finite_numbers(comfy_server):
    status, data = _view(comfy_server, zoom="1.002", roll="0.5", frames=4096)
    assert status == 200, data
    assert len(data["parameters"]) == len(data["outlines"]) == 4096
    assert all(math.isfinite(v) for o in data["outlines"] for xy in o["corners"] for v in xy)
