"""The Ray fan-out (python -m t2vz_core.fanout) against real ComfyUI servers on loopback:
one part per server, a server stopped while its part runs, and bad input refused up front.

The reference is made on the session's server (comfy_server): the whole video in one run,
and the two parts queued there one after the other. The fan-out's parts are made on other
servers (fresh processes, so nothing comes from ComfyUI's cache) and must equal the parts
and the one-run video bit for bit (PNG frames; the mp4's h264 is not bit-reproducible): the
video is chunked (chunk_size 2) and the parts are cut on its chunk boundaries, so every
model call of a part is one of the one run's.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from support.graphs import core_txt2img
from support.media import read_video
from support.server import ComfyServer, execution_error, free_port
from support.workflows import ROOT, node_id, pngs, tiny_api, with_png
from t2vz_core import parts

pytestmark = pytest.mark.server

LENGTH, PARTS, CHUNK = 5, 2, 2
SETTINGS = dict(seed=8, video_length=LENGTH, steps=4, chunk_size=CHUNK)


def _workflow(tmp_path: Path, prompt: dict | None = None) -> Path:
    path = tmp_path / "workflow_api.json"
    path.write_text(json.dumps(prompt if prompt is not None else tiny_api("text2video_long", **SETTINGS)))
    return path


def _fanout_cmd(workflow: Path, servers, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "t2vz_core.fanout", str(workflow), *[a for u in servers for a in ("--server", u)],
            "--out", str(out), *extra]


def _fanout(workflow: Path, servers, out: Path, *extra: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(_fanout_cmd(workflow, servers, out, *extra), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def _frames(folder: Path) -> np.ndarray:
    files = sorted(folder.glob("frame_*.png"))
    assert [f.name for f in files] == [f"frame_{i:05d}.png" for i in range(LENGTH)]
    return np.stack([np.asarray(Image.open(f)) for f in files])


def _done_on(stderr: str) -> dict[str, str]:
    """{part label: server URL} from the fan-out's progress lines."""
    return dict(re.findall(r"(part \d+/\d+) \(frames [\d-]+\): done on (\S+)", stderr))


@pytest.fixture(scope="module")
def reference(comfy_server):
    def run(prefix, **over):
        prompt = with_png(tiny_api("text2video_long", **{**SETTINGS, **over}), prefix)
        entry = comfy_server.run(prompt, timeout=600)
        assert entry["status"]["status_str"] == "success", execution_error(entry)
        return pngs(comfy_server, entry)

    whole = run("fanout_ref/whole")
    pieces = [run(f"fanout_ref/part{p.index}", frame_start=p.frame_start, frame_count=p.frame_count)
              for p in parts.split(LENGTH, PARTS, CHUNK)]
    return whole, np.concatenate(pieces)


def _server(tmp_path_factory, name) -> ComfyServer:
    return ComfyServer(tmp_path_factory.mktemp(name)).start()


@pytest.fixture
def two_fresh_servers(tiny_ckpt, tmp_path_factory):
    servers = [_server(tmp_path_factory, "fanout_b"), _server(tmp_path_factory, "fanout_c")]
    yield servers
    for s in servers:
        s.stop()


@pytest.mark.slow
def test_two_servers_one_part_each_make_the_video_of_one_server(two_fresh_servers, reference, tmp_path):
    whole, joined = reference
    b, c = two_fresh_servers
    out, png_dir = tmp_path / "video.mp4", tmp_path / "frames"
    res = _fanout(_workflow(tmp_path), [b.url, c.url], out, "--parts", str(PARTS), "--png-dir", str(png_dir))
    assert res.returncode == 0, res.stderr
    assert set(_done_on(res.stderr).values()) == {b.url, c.url}  # one part on each server
    assert "queued on" in res.stderr and "0 retries" in res.stderr
    frames = _frames(png_dir)
    assert frames.shape == (LENGTH, 64, 64, 3)
    assert np.array_equal(frames, joined)  # bit for bit, in frame order
    assert np.array_equal(frames, whole)  # and the one-run video, bit for bit
    video, fps = read_video(out)
    assert video.shape == (LENGTH, 64, 64, 3) and fps == pytest.approx(8.0)
    # nothing but the parts' PNGs was written on the servers (the workflow's Save Video is left out)
    assert not list(b.output_dir.rglob("*.mp4")) and not list(c.output_dir.rglob("*.mp4"))


@pytest.mark.slow
def test_a_server_stopped_while_its_part_runs_has_the_part_redone_on_another(comfy_server, reference, tiny_ckpt,
                                                                              tmp_path_factory, tmp_path):
    _, joined = reference
    doomed = _server(tmp_path_factory, "fanout_doomed")
    out, png_dir = tmp_path / "video.mp4", tmp_path / "frames"
    try:
        proc = subprocess.Popen(_fanout_cmd(_workflow(tmp_path), [comfy_server.url, doomed.url], out,
                                            "--parts", str(PARTS), "--png-dir", str(png_dir)),
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while not doomed.queue_state().get("queue_running"):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the fan-out never queued a part on the second server"
            time.sleep(0.05)
        doomed.stop()
        _, stderr = proc.communicate(timeout=600)
    finally:
        doomed.stop()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert re.search(rf"part \d/2 \(frames [\d-]+\): failed on {re.escape(doomed.url)}: .*retrying on another server",
                     stderr), stderr
    assert set(_done_on(stderr).values()) == {comfy_server.url}  # both parts finally made by the survivor
    assert "1 retry" in stderr
    assert np.array_equal(_frames(png_dir), joined)
    assert read_video(out)[0].shape[0] == LENGTH


@pytest.mark.slow
def test_frame_part_linked_into_the_sampler_makes_each_servers_part(comfy_server, reference):
    """The graph recipe (ComfyUI-Distributed's Distributed Value → part_index): Frame Part's
    outputs linked into the sampler give the same frames as the part's numbers typed in."""
    _, joined = reference
    got = []
    for index in range(PARTS):
        prompt = with_png(tiny_api("text2video_long", **SETTINGS), f"fanout_graph/part{index}")
        sampler = node_id(prompt, "T2VZ_Sampler")
        prompt["90"] = {"class_type": "T2VZ_FramePart",
                        "inputs": {"video_length": LENGTH, "part_count": PARTS, "part_index": index,
                                   "chunk_size": CHUNK}}
        prompt[sampler]["inputs"].update(frame_start=["90", 0], frame_count=["90", 1])
        entry = comfy_server.run(prompt, timeout=600)
        assert entry["status"]["status_str"] == "success", execution_error(entry)
        got.append(pngs(comfy_server, entry))
    assert [len(g) for g in got] == [4, 1]  # frames 0-3 (chunks [0 1] [2 3]) and frame 4
    assert np.array_equal(np.concatenate(got), joined)


@pytest.mark.slow
def test_a_canny_video_is_split_on_its_chunks_and_equals_one_run(comfy_server, shared_assets, tiny_controlnet,
                                                                tmp_path):
    """A frame-guided workflow (Video KSampler, one hint per frame): its frame count comes from
    the hint video, so it is given with --video-length; each part takes its own frames' hints
    and the video equals one run on one server bit for bit."""
    import shutil
    shutil.copyfile(shared_assets / "canny_girl_turning.mp4", comfy_server.input_dir / "canny_girl_turning.mp4")
    prompt = tiny_api("canny_to_video", steps=3, seed=6, chunk_size=CHUNK)
    entry = comfy_server.run(with_png(prompt, "fanout_ref/canny"), timeout=600)
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    whole = pngs(comfy_server, entry)
    assert whole.shape == (8, 64, 64, 3)
    out, png_dir = tmp_path / "canny.mp4", tmp_path / "frames"
    # the frame count is not in the workflow (Empty Latent Image's batch_size comes from the video)
    res = _fanout(_workflow(tmp_path, prompt), [comfy_server.url], out, "--parts", "2", timeout=120)
    assert res.returncode == 2 and "give it with --video-length N" in res.stderr, res.stderr
    res = _fanout(_workflow(tmp_path, prompt), [comfy_server.url], out, "--parts", "2", "--video-length", "8",
                  "--png-dir", str(png_dir))
    assert res.returncode == 0, res.stderr
    assert re.search(r"part 1/2 \(frames 0-3\): done on", res.stderr) and \
        re.search(r"part 2/2 \(frames 4-7\): done on", res.stderr), res.stderr
    files = sorted(png_dir.glob("frame_*.png"))
    assert [f.name for f in files] == [f"frame_{i:05d}.png" for i in range(8)]
    assert np.array_equal(np.stack([np.asarray(Image.open(f)) for f in files]), whole)


def test_frame_guided_workflows_read_the_frame_count_where_the_workflow_says_it():
    from t2vz_core import fanout_workflow as fw
    prompt = tiny_api("canny_to_video", chunk_size=2)
    ks = node_id(prompt, "T2VZ_VideoKSampler")
    latent = prompt[ks]["inputs"]["latent_image"][0]
    with pytest.raises(fw.WorkflowError, match=rf"node {ks} \(T2VZ_VideoKSampler\) takes its frames from "
                                               r"latent_image, .*give it with --video-length N"):
        fw.plan_parts(prompt, 2)
    assert [(p.frame_start, p.frame_count) for p in fw.plan_parts(prompt, 2, 8)] == [(0, 4), (4, 4)]
    prompt[latent]["inputs"]["batch_size"] = 6  # typed in: read from the workflow
    assert [(p.frame_start, p.frame_count) for p in fw.plan_parts(prompt, 3)] == [(0, 2), (2, 2), (4, 2)]
    with pytest.raises(fw.WorkflowError, match=r"--video-length \(8\) differs from the 6 frames"):
        fw.plan_parts(prompt, 2, 8)
    first, last = fw.plan_parts(prompt, 3)[0], fw.plan_parts(prompt, 3)[2]
    part, _ = fw.part_prompt(prompt, first, "run")
    assert (part[ks]["inputs"]["frame_start"], part[ks]["inputs"]["frame_count"]) == (0, 2)
    # the last part runs to the end of its latent: a longer hint video gives too many frames (an error), never
    # silently fewer
    part, _ = fw.part_prompt(prompt, last, "run", to_the_end=True)
    assert (part[ks]["inputs"]["frame_start"], part[ks]["inputs"]["frame_count"]) == (4, 0)


def test_a_frame_guided_pass_over_a_parts_latent_is_left_as_it_is():
    """Text-to-video, then a Video KSampler refining its latent: only the text sampler gets the
    part's frames (its latent is already the part's)."""
    from t2vz_core import fanout_workflow as fw
    prompt = tiny_api("text2video_long", **SETTINGS)
    sampler = node_id(prompt, "T2VZ_Sampler")
    inputs = prompt[sampler]["inputs"]
    prompt["95"] = {"class_type": "T2VZ_VideoKSampler", "inputs": {
        "model": inputs["model"], "positive": inputs["positive"], "negative": inputs["negative"],
        "latent_image": [sampler, 0], "seed": 1, "steps": 4, "cfg": 7.5, "sampler_name": "euler",
        "scheduler": "normal", "noise_mode": "per frame", "chunk_size": 5, "denoise": 0.4}}
    assert fw.samplers(prompt) == [sampler]
    assert fw.chunk_size(prompt) == CHUNK  # the refining pass's chunk_size does not cut the parts
    part, _ = fw.part_prompt(prompt, fw.plan_parts(prompt, PARTS)[1], "run", to_the_end=True)
    assert (part[sampler]["inputs"]["frame_start"], part[sampler]["inputs"]["frame_count"]) == (4, 1)
    assert "frame_start" not in part["95"]["inputs"] and "frame_count" not in part["95"]["inputs"]


@pytest.mark.parametrize("case", ["unreachable", "no sampler", "too many parts", "out exists"])
def test_bad_input_is_refused_before_any_work_with_a_clear_error(case, comfy_server, tmp_path):
    servers, prompt, n, out = [comfy_server.url], None, "2", tmp_path / "video.mp4"
    if case == "unreachable":
        dead = f"http://127.0.0.1:{free_port()}"
        servers, expect = [comfy_server.url, dead], rf"server {re.escape(dead)} does not answer"
    elif case == "no sampler":
        prompt, expect = core_txt2img(), r"the workflow has no Text2Video-Zero sampler .*add a T2VZ_Sampler"
    elif case == "too many parts":
        n, expect = str(LENGTH + 1), rf"part_count \({LENGTH + 1}\) is larger than the video: .* at most {LENGTH} parts"
    else:
        out.write_bytes(b"the user's file")
        expect = "already exists; the fan-out never overwrites a file"
    res = _fanout(_workflow(tmp_path, prompt), servers, out, "--parts", n, timeout=120)
    assert res.returncode == 2, res.stderr
    assert re.search(expect, res.stderr), res.stderr
    assert "Traceback" not in res.stderr
    assert (out.read_bytes() == b"the user's file") if case == "out exists" else not out.exists()


def test_the_distributed_extra_is_installed_as_the_readme_says():
    """CI runs these tests with Ray, never skips them: the setup installs the pinned extra."""
    import ray

    pin = (ROOT / "requirements-distributed.txt").read_text().split()
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["distributed"]
    assert pin == extra == [f"ray=={ray.__version__}"]
    assert "pip install -r requirements-distributed.txt" in (ROOT / "README.md").read_text()
    assert "requirements-distributed.txt" in (ROOT / "scripts" / "setup_dev.sh").read_text()


def test_a_server_whose_frame_guided_sampler_takes_no_frame_range_is_refused(comfy_server, monkeypatch):
    """A server with an older version of the pack would make the whole video for every part."""
    from t2vz_core import fanout
    prompt = tiny_api("canny_to_video")
    fanout.check_frame_ranges([comfy_server.url], prompt)  # this pack's server: accepted
    real = fanout.Comfy.object_info

    def older(self, class_type):
        info = real(self, class_type)
        info.get("input", {}).get("optional", {}).pop("frame_start", None)
        return info

    monkeypatch.setattr(fanout.Comfy, "object_info", older)
    with pytest.raises(fanout.BadInput, match=rf"server {re.escape(comfy_server.url)}: its T2VZ_VideoKSampler takes "
                                              r"no frame_start .*update ComfyUI-Text2Video-Zero there"):
        fanout.check_frame_ranges([comfy_server.url], prompt)
