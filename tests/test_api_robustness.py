"""The server keeps serving and files stay inside their folders, tried through the real server:
two copies of the pack in custom_nodes, Save GIF prefixes that lead out of the output folder,
the permissions of a saved GIF, run-time errors that name no server path, and one validation
message landing on one input."""
from __future__ import annotations

import json
import os
import shutil
import urllib.parse
import uuid
from pathlib import Path

import pytest

from support.comfy_env import REPO_ROOT
from support.server import ComfyServer, execution_error
from support.workflows import node_id, tiny_api

pytestmark = pytest.mark.server

PACK_FILES = ("__init__.py", "pyproject.toml", "nodes", "t2vz_core", "web")


def _gif_prompt(prefix: str) -> dict:
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 24, "batch_size": 2, "color": 0x3366CC}},
            "2": {"class_type": "T2VZ_SaveGIF", "inputs": {"images": ["1", 0], "fps": 4.0, "filename_prefix": prefix,
                                                            "loop": 0}}}


def _server_paths(server: ComfyServer) -> list[str]:
    """Absolute paths a client must not learn from an error."""
    return [str(p) for p in {server.workdir, server.workdir.resolve(), server.comfyui_dir, server.comfyui_dir.resolve(),
                             REPO_ROOT, Path.home()}]


def _assert_no_server_path(server, error: dict) -> None:
    # exception_type and exception_message are what a client shows; the "traceback" list is
    # ComfyUI's own (its frames name ComfyUI's files for any node, core ones included).
    for key in ("exception_type", "exception_message"):
        text = str(error.get(key))
        for path in _server_paths(server):
            assert path not in text, f"{key} names a server path: {text!r}"
    assert "/" not in error["exception_type"] and "\\" not in error["exception_type"], error["exception_type"]


# -- two copies of the pack ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_copies(tiny_ckpt, tmp_path_factory, shared_assets, comfy_env):
    """A server whose custom_nodes hold the pack twice: the usual link, and a copy in a second
    custom_nodes folder (named like a zip download) given by an extra paths file."""
    base = tmp_path_factory.mktemp("two_copies")
    copy = base / "extra" / "custom_nodes" / "ComfyUI-Text2Video-Zero-main"
    copy.mkdir(parents=True)
    for name in PACK_FILES:
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, copy / name)
    config = base / "extra_paths.yaml"
    config.write_text(f"second_copy:\n  base_path: {base / 'extra'}\n  custom_nodes: custom_nodes\n")
    server = ComfyServer(base / "server", comfyui_dir=comfy_env.comfyui_dir,
                         extra_args=["--extra-model-paths-config", str(config)])
    server.start()
    server.copy_to_input(shared_assets / "pose_dance1.mp4", "t2vz_two_copies.mp4")
    try:
        yield server, copy
    finally:
        server.stop()


def test_two_copies_start_serve_and_say_so_once(two_copies):
    server, copy = two_copies
    status, stats = server._request("GET", "/system_stats")
    assert status == 200 and "system" in stats
    lines = [line for line in server.log().splitlines() if "installed twice" in line]
    assert len(lines) == 1, lines
    first = server.comfyui_dir / "custom_nodes" / "ComfyUI-Text2Video-Zero"
    assert str(first) in lines[0] and str(copy) in lines[0], lines[0]
    assert "Added route will never be executed" not in server.log()
    # the first copy's nodes and scripts serve, each script once
    info = server.object_info("T2VZ_SaveGIF")["T2VZ_SaveGIF"]
    assert info["python_module"] == "custom_nodes.ComfyUI-Text2Video-Zero"
    status, scripts = server._request("GET", "/extensions")
    ours = [s for s in scripts if s.endswith("/load_video_preview.js")]
    assert len(ours) == 1, scripts
    # the camera path view's route serves beside the preview route
    status, view = server._request("GET", "/api/t2vz/camera_path?pan_x=2&frames=3")
    assert status == 200 and view["summary"] == "3 frames: pan x 0→4 px", view


def test_two_copies_preview_and_example_run(two_copies):
    server, _ = two_copies
    query = urllib.parse.urlencode({"video": "t2vz_two_copies.mp4", "frame_load_cap": 2, "resolution": 64})
    for prefix in ("", "/api"):
        status, meta = server._request("GET", f"{prefix}/t2vz/load_video_preview?{query}", timeout=60)
        assert status == 200, meta
        assert meta["frame_count"] == 2, meta
    entry = server.run(tiny_api("text2video"), timeout=300)
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    videos = server.output_files(entry)
    assert videos and all(p.stat().st_size > 0 for p in videos)


# -- Save GIF stays in the output folder, with normal permissions -------------------------------

@pytest.fixture
def elsewhere(comfy_server, tmp_path):
    """output/outlink → a folder outside the output folder."""
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = comfy_server.output_dir / f"outlink_{uuid.uuid4().hex[:6]}"
    link.symlink_to(target, target_is_directory=True)
    yield link.name, target
    link.unlink()


@pytest.mark.parametrize("kind", ["symlink", "dotdot", "absolute"])
def test_save_gif_refuses_prefixes_out_of_the_output_folder(comfy_server, elsewhere, kind):
    link, target = elsewhere
    prefix = {"symlink": f"{link}/x", "dotdot": f"../{target.name}/x", "absolute": f"{target}/x"}[kind]
    before = set(comfy_server.workdir.rglob("*.gif"))
    entry = comfy_server.run(_gif_prompt(prefix))
    error = execution_error(entry)
    assert entry["status"]["status_str"] == "error" and error is not None
    assert error["node_type"] == "T2VZ_SaveGIF"
    assert "filename_prefix" in error["exception_message"] and "output folder" in error["exception_message"]
    assert list(target.iterdir()) == []
    assert set(comfy_server.workdir.rglob("*.gif")) == before
    if kind != "absolute":  # the absolute prefix is the user's own text
        _assert_no_server_path(comfy_server, error)


def test_saved_gif_has_the_permissions_of_a_normal_save(comfy_server):
    umask = os.umask(0o022)
    os.umask(umask)  # the server inherited this process's umask
    entry = comfy_server.run(_gif_prompt(f"t2vz_robust/{uuid.uuid4().hex[:8]}/clip"))
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    (gif,) = comfy_server.output_files(entry, key="gifs")
    assert gif.stat().st_mode & 0o777 == 0o666 & ~umask
    assert gif.read_bytes()[:6] == b"GIF89a"
    assert not [p for p in gif.parent.iterdir() if p.name.startswith(".t2vz-")]  # no temp file left


# -- run-time errors name no server path --------------------------------------------------------

def test_run_time_error_names_no_server_path(comfy_server):
    name = f"t2vz_broken_{uuid.uuid4().hex[:6]}.mp4"
    (comfy_server.input_dir / name).write_bytes(b"this is not a video, only text" * 50)
    prompt = {"1": {"class_type": "T2VZ_LoadVideo",
                    "inputs": {"video": name, "frame_load_cap": 0, "skip_first_frames": 0, "select_every_nth": 1,
                               "resolution": 0, "output_fps": 0.0, "start_time": 0.0, "end_time": 0.0}},
              "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    entry = comfy_server.run(prompt)
    error = execution_error(entry)
    assert error is not None and error["node_type"] == "T2VZ_LoadVideo", entry["status"]
    assert name in error["exception_message"] and "not a readable video" in error["exception_message"]
    _assert_no_server_path(comfy_server, error)
    # the websocket's execution_error is the same message ComfyUI keeps in /history
    assert json.dumps(error)  # plain JSON, as sent


# -- one validation message, one input ------------------------------------------------------------

def _node_errors(reply: dict, node: str) -> list[dict]:
    return reply["node_errors"][node]["errors"]


@pytest.mark.parametrize("route", ["/prompt", "/api/prompt"])
def test_validation_message_lands_on_its_input_only(comfy_server, route):
    prompt = tiny_api("text2video")
    sampler = node_id(prompt, "T2VZ_Sampler")
    prompt[sampler]["inputs"].update(t0=47, t1=47)
    status, reply = comfy_server._request("POST", route, {"prompt": prompt, "client_id": comfy_server.client_id})
    assert status == 400, reply
    errors = _node_errors(reply, sampler)
    assert len(errors) == 1, errors
    assert errors[0]["type"] == "custom_validation_failed"
    assert errors[0]["extra_info"]["input_name"] == "t0"
    assert errors[0]["details"].startswith("t0 - t0 (47) must be smaller than t1 (47)"), errors[0]
    assert reply["error"]["details"].count("must be smaller than t1") <= 1, reply["error"]  # 0.3.75 leaves it empty


def test_other_nodes_errors_are_as_comfyui_lists_them(comfy_server):
    prompt = _gif_prompt("t2vz_robust/never")
    prompt["3"] = {"class_type": "T2VZTest_TwoInputCheck", "inputs": {"image": ["1", 0], "a": 5, "b": 5}}
    prompt["4"] = {"class_type": "LoadImage", "inputs": {"image": "t2vz_no_such_image.png"}}
    prompt["5"] = {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}}
    prompt["6"] = {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}}
    reply = comfy_server.queue(prompt)
    # a non-pack node keeps ComfyUI's listing: the message once per argument of its check
    errors = _node_errors(reply, "3")
    assert sorted(e["extra_info"]["input_name"] for e in errors) == ["a", "b"], errors
    assert all(e["details"].endswith("a: a (5) must differ from b (5)") for e in errors), errors
    # a core node's error is untouched
    (core,) = _node_errors(reply, "4")
    assert core["extra_info"]["input_name"] == "image" and "t2vz_no_such_image.png" in core["details"]
