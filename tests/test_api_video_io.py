"""Loading videos and Canny edges through the real ComfyUI server: frames that come out as
PNGs, the file list and upload endpoint the editor uses, and clear errors for bad input
(the server keeps serving afterwards)."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid

import numpy as np
import pytest
from PIL import Image

from support.server import execution_error

pytestmark = pytest.mark.server

DANCE = "t2vz_api_dance.mp4"  # 16 frames, 512x512, 4 fps


@pytest.fixture(scope="module")
def server(comfy_server, shared_assets):
    comfy_server.copy_to_input(shared_assets / "pose_dance1.mp4", DANCE)
    return comfy_server


def _load(video=DANCE, **options):
    inputs = {"video": video, "frame_load_cap": 0, "skip_first_frames": 0, "select_every_nth": 1,
              "resolution": 0, "output_fps": 0.0, "start_time": 0.0, "end_time": 0.0}
    inputs.update(options)
    return {"1": {"class_type": "T2VZ_LoadVideo", "inputs": inputs}}


def _save(prompt, source=("1", 0)):
    prompt["9"] = {"class_type": "SaveImage",
                   "inputs": {"images": list(source), "filename_prefix": f"t2vz_video_io/{uuid.uuid4().hex[:8]}"}}
    return prompt


def _canny(prompt, low=100, high=200):
    prompt["2"] = {"class_type": "T2VZ_CannyEdges", "inputs": {"images": ["1", 0], "low_threshold": low,
                                                               "high_threshold": high}}
    return _save(prompt, ("2", 0))


def _pngs(server, prompt):
    entry = server.run(prompt)
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    return np.stack([np.asarray(Image.open(p)) for p in sorted(server.output_files(entry, node_id="9"))])


def test_load_video_to_png_frames(server):
    frames = _pngs(server, _save(_load(select_every_nth=2, resolution=256)))
    assert frames.shape == (8, 256, 256, 3)
    capped = _pngs(server, _save(_load(frame_load_cap=3, skip_first_frames=5)))
    assert capped.shape == (3, 512, 512, 3)
    assert np.abs(capped[0].astype(int) - capped[2].astype(int)).mean() > 1.0  # different frames of the dance


def test_load_video_to_canny_edges(server):
    edges = _pngs(server, _canny(_load(frame_load_cap=4, resolution=256)))
    assert edges.shape == (4, 256, 256, 3)
    assert set(np.unique(edges)) == {0, 255}  # white edges on black
    assert (edges[..., 0] == edges[..., 2]).all()
    assert 0.001 < (edges > 0).mean() < 0.3


def test_object_info_lists_the_input_videos(server):
    spec = server.object_info("T2VZ_LoadVideo")["T2VZ_LoadVideo"]["input"]["required"]["video"]
    assert spec[0] == "COMBO" and spec[1]["video_upload"] is True
    assert DANCE in spec[1]["options"]


def _cached_nodes(entry) -> set[str]:
    return {n for ev, data in entry["status"]["messages"] if ev == "execution_cached" for n in data.get("nodes", [])}


def test_a_changed_file_is_loaded_again(server, shared_assets):
    name = server.copy_to_input(shared_assets / "pose_dance1.mp4", "t2vz_changing.mp4")
    prompt = _save(_load(name, resolution=64))
    first = server.run(prompt)
    again = server.run(prompt)
    assert "1" in _cached_nodes(again)  # unchanged file: cached (the fingerprint is stable)
    assert len(server.output_files(first, node_id="9")) == 16
    server.copy_to_input(shared_assets / "canny_girl_turning.mp4", name)
    changed = server.run(prompt)
    assert "1" not in _cached_nodes(changed)
    assert len(server.output_files(changed, node_id="9")) == 8


def _upload(server, data: bytes, filename: str, subfolder: str = "") -> dict:
    """POST /upload/image as the editor's upload button does (multipart, type=input)."""
    boundary = uuid.uuid4().hex
    fields = [("type", None, b"input"), ("subfolder", None, subfolder.encode()), ("image", filename, data)]
    body = b""
    for name, fname, value in fields:
        disp = f'form-data; name="{name}"' + (f'; filename="{fname}"' if fname else "")
        ctype = "Content-Type: video/mp4\r\n" if fname else ""
        body += f"--{boundary}\r\nContent-Disposition: {disp}\r\n{ctype}\r\n".encode() + value + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    req = urllib.request.Request(server.url + "/upload/image", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_uploaded_video_is_listed_and_loads(server, shared_assets):
    name = f"t2vz_upload_{uuid.uuid4().hex[:6]}.mp4"
    reply = _upload(server, (shared_assets / "canny_girl_turning.mp4").read_bytes(), name)
    assert reply == {"name": name, "subfolder": "", "type": "input"}
    assert (server.input_dir / name).is_file()
    options = server.object_info("T2VZ_LoadVideo")["T2VZ_LoadVideo"]["input"]["required"]["video"][1]["options"]
    assert name in options
    assert _pngs(server, _save(_load(name, resolution=128))).shape == (8, 128, 128, 3)
    # into a subfolder: the editor then sets the widget to "clips/<name>"
    reply = _upload(server, (shared_assets / "pix2pix_camel.mp4").read_bytes(), name, subfolder="clips")
    assert reply["subfolder"] == "clips"
    assert _pngs(server, _save(_load(f"clips/{name}", frame_load_cap=2))).shape == (2, 512, 512, 3)


def _bad_file(server, name, data):
    (server.input_dir / name).write_bytes(data)
    return name


def _symlink_out(server, shared_assets):
    link = server.input_dir / "t2vz_link_out.mp4"
    if not link.is_symlink():
        os.symlink(shared_assets / "pose_dance1.mp4", link)
    return link.name


# (id, prompt(server, shared_assets), where, needles)
CASES = [
    ("dotdot path", lambda s, a: _save(_load("../" + DANCE)), "queue",
     ["video '../t2vz_api_dance.mp4' points outside ComfyUI's input folder"]),
    ("absolute path", lambda s, a: _save(_load(str(a / "pose_dance1.mp4"))), "queue",
     ["is an absolute path", "upload the video"]),
    ("symlink out", lambda s, a: _save(_load(_symlink_out(s, a))), "queue", ["points outside"]),
    ("missing file", lambda s, a: _save(_load("nope.mp4")), "queue",
     ["video 'nope.mp4' was not found in ComfyUI's input folder"]),
    ("end before start", lambda s, a: _save(_load(start_time=2.0, end_time=1.0)), "queue",
     ["end_time (1.0) must be greater than start_time (2.0)"]),
    ("negative skip", lambda s, a: _save(_load(skip_first_frames=-2)), "queue",
     ["skip_first_frames (-2) must be 0 or more"]),
    ("canny low>high", lambda s, a: _canny(_load(), low=250, high=100), "queue",
     ["low_threshold (250) must not be greater than high_threshold (100)"]),
    ("zero frames", lambda s, a: _save(_load(skip_first_frames=16)), "run",
     ["skip_first_frames (16) skips every frame", "has 16 frames", "use a value below 16"]),
    ("start after end", lambda s, a: _save(_load(start_time=9.0)), "run",
     ["start_time (9.0 s) is at or after the end of the video", "16 frames"]),
    ("corrupt file", lambda s, a: _save(_load(_bad_file(s, "t2vz_truncated.mp4",
                                                        (a / "pose_dance1.mp4").read_bytes()[:2048]))), "run",
     ["video 't2vz_truncated.mp4' is not a readable video", "truncated or corrupt", "moov atom not found"]),
    ("text renamed mp4", lambda s, a: _save(_load(_bad_file(s, "t2vz_notes.mp4", b"shopping list\n" * 30))), "run",
     ["video 't2vz_notes.mp4' is not a readable video", "not a video format"]),
]


@pytest.mark.parametrize("case_id,make,where,needles", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_message(server, shared_assets, case_id, make, where, needles):
    reply = server.queue(make(server, shared_assets))
    if where == "queue":
        assert "prompt_id" not in reply and reply.get("node_errors"), f"{case_id} was accepted: {reply}"
        text = json.dumps(reply["node_errors"])
    else:
        assert "prompt_id" in reply and not reply.get("node_errors"), f"{case_id} refused at queue time: {reply}"
        entry = server.wait(reply["prompt_id"])
        assert entry["status"]["status_str"] == "error"
        err = execution_error(entry)
        assert err["node_type"] == "T2VZ_LoadVideo"
        assert "Traceback" not in err["exception_message"]
        text = err["exception_message"]
    for needle in needles:
        assert needle in text, f"{case_id}: {needle!r} not in {text[:1500]}"


def test_server_keeps_serving_after_bad_videos(server):
    bad = server.run(_save(_load(_bad_file(server, "t2vz_notes2.mp4", b"not a video"))))
    assert bad["status"]["status_str"] == "error"
    assert _pngs(server, _save(_load(frame_load_cap=2, resolution=64))).shape == (2, 64, 64, 3)


# -- the editor's preview of what Load Video outputs (web/js/load_video_preview.js) ------------

def _preview(server, **query):
    url = f"{server.url}/api/t2vz/load_video_preview?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_load_video_preview_is_the_nodes_output(server):
    from support.media import read_video
    options = {"select_every_nth": 3, "skip_first_frames": 1, "frame_load_cap": 4, "resolution": 128}
    status, info = _preview(server, video=DANCE, **options)
    assert status == 200, info
    assert {k: info[k] for k in ("frame_count", "width", "height", "type", "subfolder")} == \
        {"frame_count": 4, "width": 128, "height": 128, "type": "temp", "subfolder": "t2vz_preview"}
    assert info["fps"] == pytest.approx(4 / 3) and info["source"]["frame_count"] == 16
    path = server.temp_dir / info["subfolder"] / info["filename"]
    frames, fps = read_video(path)
    assert fps == pytest.approx(4 / 3, rel=1e-3)
    node = _pngs(server, _save(_load(**options)))
    assert frames.shape == node.shape == (4, 128, 128, 3)
    assert np.abs(frames.astype(int) - node.astype(int)).mean() < 6  # h264 of the same frames
    # asking again reuses the file; other options make another one
    stamp = path.stat().st_mtime_ns
    assert _preview(server, video=DANCE, **options)[1] == info and path.stat().st_mtime_ns == stamp
    assert _preview(server, video=DANCE, **{**options, "frame_load_cap": 2})[1]["frame_count"] == 2


@pytest.mark.parametrize("query, needle", [
    ({"video": DANCE, "select_every_nth": "0"}, "select_every_nth (0) must be at least 1"),
    ({"video": DANCE, "frame_load_cap": "two"}, "frame_load_cap ('two') must be a number"),
    ({"video": DANCE, "resolution": "12.5"}, "resolution ('12.5') must be a whole number"),
    ({"video": DANCE, "end_time": "1", "start_time": "2"}, "end_time (1.0) must be greater than start_time (2.0)"),
    ({"video": DANCE, "fps": "3"}, "unknown option(s) fps; allowed: video, frame_load_cap"),
    ({"video": "../../etc/passwd"}, "points outside ComfyUI's input folder"),
    ({"video": "missing.mp4"}, "'missing.mp4' was not found in ComfyUI's input folder"),
    ({}, "no file chosen"),
    ({"video": DANCE, "resolution": "20000"}, "resolution (20000) must be at most 16384"),
])
def test_load_video_preview_bad_input_is_a_400_with_a_clear_message(server, query, needle):
    status, body = _preview(server, **query)
    assert status == 400 and needle in body["error"], body
    assert _preview(server, video=DANCE, frame_load_cap=1)[0] == 200  # still serving


# -- phone and camera footage, memory, and what the messages reveal ----------------------------

def _ffmpeg(*args):
    import subprocess

    from t2vz_core import video_io
    subprocess.run([video_io.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def footage(server):
    """The issue's files in the server's input folder: a variable frame rate (10 frames in the
    first second, then one every 0.5 s) and 160x96 with 2:1 pixels (a player shows 320x96)."""
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x96:rate=10:duration=2", "-vf",
            "setpts='if(lt(N,10),N*0.1,1+(N-10)*0.5)/TB'", "-fps_mode", "vfr", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", str(server.input_dir / "t2vz_vfr.mp4"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x96:rate=10:duration=1", "-vf", "setsar=2", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", str(server.input_dir / "t2vz_sar2.mp4"))
    return {"vfr": "t2vz_vfr.mp4", "sar": "t2vz_sar2.mp4"}


@pytest.mark.parametrize("clip,options,shape", [
    ("vfr", {"end_time": 1.0}, (10, 96, 160, 3)),         # a player shows 10 frames before 1.0 s
    ("vfr", {"output_fps": 2.0, "end_time": 3.0}, (6, 96, 160, 3)),
    ("sar", {"resolution": 256}, (10, 80, 256, 3)),       # displayed 320x96: 256x80, not 256x152
    ("sar", {}, (10, 96, 320, 3)),
])
def test_phone_and_camera_footage_load_as_a_player_shows_them(server, footage, clip, options, shape):
    frames = _pngs(server, _save(_load(footage[clip], **options)))
    assert frames.shape == shape
    status, info = _preview(server, video=footage[clip], **{"resolution": 0, **options})
    assert status == 200, info
    assert (info["frame_count"], info["height"], info["width"]) == shape[:3]


@pytest.mark.parametrize("options,needle", [
    ({"resolution": 100000}, "resolution (100000) must be at most 16384"),
    ({"output_fps": 1e6}, "output_fps (1000000.0) must be at most 1000"),
])
def test_options_beyond_the_schema_are_refused_at_queue_time(server, options, needle):
    reply = server.queue(_save(_load(**options)))
    assert "prompt_id" not in reply and needle in json.dumps(reply["node_errors"]), reply
    status, body = _preview(server, video=DANCE, **options)
    assert status == 400 and needle.split(" must")[0].split(" (")[0] in body["error"], body


def test_an_output_beyond_the_memory_budget_is_refused_with_the_numbers_before_decoding(server):
    options = {"resolution": 16384, "output_fps": 1000.0}  # within the schema: 4000 frames of 16384x16384
    entry = server.run(_save(_load(**options)))
    assert entry["status"]["status_str"] == "error"
    err = execution_error(entry)
    message = err["exception_message"]
    assert message.startswith(f"video '{DANCE}' would load as 4000 frames of 16384x16384: 12.9 TB as an IMAGE "
                              f"batch (4000 x 16384 x 16384 x 3 values x 4 bytes), more than Load Video's limit")
    assert "lower resolution, set frame_load_cap" in message and "lower output_fps" in message
    assert "decode" not in "".join(err["traceback"])  # refused from the probe alone
    status, body = _preview(server, video=DANCE, **options)
    assert status == 400 and body["error"] == message.rstrip()  # the editor says the same
    assert _pngs(server, _save(_load(frame_load_cap=1, resolution=64))).shape == (1, 64, 64, 3)  # still serving


def test_messages_do_not_spell_out_the_servers_input_folder(server, shared_assets):
    folder = str(server.input_dir)
    entry = server.run(_save(_load(_bad_file(server, "t2vz_cut.mp4", (shared_assets / "pose_dance1.mp4").read_bytes()[:2048]))))
    err = execution_error(entry)
    assert "moov atom not found" in err["exception_message"] and folder not in err["exception_message"]
    assert err["exception_type"] == "ValueError"  # not a type named after the install folder
    for name in ("missing.mp4", "../x.mp4", "t2vz_cut.mp4"):
        status, body = _preview(server, video=name)
        assert status == 400 and folder not in body["error"], body
    reply = server.queue(_save(_load("nope.mp4")))
    assert folder not in json.dumps(reply) and "ComfyUI's input folder" in json.dumps(reply)
