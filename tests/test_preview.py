"""The editor's Load Video preview (t2vz_core/preview.py), in-process: the frames it shows are
the node's frames, and its cost is bounded whatever the video and options."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from support.media import read_video
from t2vz_core import preview, video_io

OPTIONS = dict(frame_load_cap=0, skip_first_frames=0, select_every_nth=1, resolution=128, output_fps=0.0,
               start_time=0.0, end_time=0.0)


@pytest.fixture
def folders(tmp_path, shared_assets):
    inp, tmp = tmp_path / "input", tmp_path / "temp"
    inp.mkdir()
    shutil.copy(shared_assets / "pose_dance1.mp4", inp / "dance.mp4")
    return str(inp), str(tmp)


def _node_frames(folders, **options):
    out = video_io.read_video(f"{folders[0]}/dance.mp4", **{**OPTIONS, **options})
    return video_io.to_uint8_frames(out.images), out.fps


def test_preview_frames_are_the_nodes_frames(folders):
    options = {**OPTIONS, "select_every_nth": 2, "skip_first_frames": 3}
    meta = preview.load_video_preview("dance.mp4", options, *folders)
    node, fps = _node_frames(folders, select_every_nth=2, skip_first_frames=3)
    frames, preview_fps = read_video(f"{folders[1]}/{meta['subfolder']}/{meta['filename']}")
    assert (meta["frame_count"], meta["shown_frames"], meta["height"], meta["width"]) == (7, 7, 128, 128)
    assert frames.shape == node.shape and preview_fps == pytest.approx(fps) == pytest.approx(meta["fps"])
    err = np.abs(frames.astype(int) - node.astype(int)).mean(axis=(1, 2, 3))
    assert err.max() < 5, err  # h264 of the same pictures
    shifted = np.abs(frames[1:].astype(int) - node[:-1].astype(int)).mean()
    assert shifted > 2 * err.mean()  # and not merely similar frames of the same video


def test_long_selections_show_their_first_frames_and_report_the_full_count(folders, monkeypatch):
    monkeypatch.setattr(preview, "PREVIEW_MAX_FRAMES", 3)
    meta = preview.load_video_preview("dance.mp4", OPTIONS, *folders)
    assert (meta["frame_count"], meta["shown_frames"]) == (16, 3)
    frames, _ = read_video(f"{folders[1]}/{meta['subfolder']}/{meta['filename']}")
    node, _ = _node_frames(folders, frame_load_cap=3)
    assert frames.shape == node.shape and np.abs(frames.astype(int) - node.astype(int)).mean() < 5


def test_large_outputs_are_shown_scaled_down_with_the_nodes_size_reported(folders, monkeypatch):
    monkeypatch.setattr(preview, "PREVIEW_MAX_SIDE", 64)
    meta = preview.load_video_preview("dance.mp4", {**OPTIONS, "resolution": 256, "frame_load_cap": 2}, *folders)
    assert (meta["width"], meta["height"]) == (256, 256)
    frames, _ = read_video(f"{folders[1]}/{meta['subfolder']}/{meta['filename']}")
    assert frames.shape == (2, 64, 64, 3)


def test_a_preview_is_made_once_and_old_ones_are_pruned(folders, monkeypatch):
    first = preview.load_video_preview("dance.mp4", {**OPTIONS, "frame_load_cap": 1}, *folders)
    path = f"{folders[1]}/{first['subfolder']}/{first['filename']}"
    stamp = os.stat(path).st_mtime_ns
    assert preview.load_video_preview("dance.mp4", {**OPTIONS, "frame_load_cap": 1}, *folders) == first
    assert os.stat(path).st_mtime_ns == stamp  # reused, not made again
    monkeypatch.setattr(preview, "PREVIEW_KEEP", 2)
    for cap in (2, 3, 4):
        preview.load_video_preview("dance.mp4", {**OPTIONS, "frame_load_cap": cap}, *folders)
    kept = sorted(p.name for p in (Path(folders[1]) / "t2vz_preview").iterdir())
    assert len(kept) == 4 and first["filename"] not in kept  # 2 previews: mp4 + json each


@pytest.mark.parametrize("query, needle", [
    ({"resolution": "100000"}, "resolution (100000) must be at most 16384"),
    ({"output_fps": "1e8"}, "output_fps (1e8) must be at most 1000"),
    ({"frame_load_cap": "inf"}, "frame_load_cap ('inf') must be a whole number"),
    ({"start_time": "nan"}, "start_time (nan) must be 0 or more"),
])
def test_options_beyond_the_nodes_limits_are_refused(query, needle):
    with pytest.raises(preview.PreviewError) as e:
        preview.parse_options({"video": "x.mp4", **query})
    assert needle in str(e.value)


def test_a_selection_far_into_the_video_gets_numbers_but_no_pictures(folders, monkeypatch):
    monkeypatch.setattr(preview, "PREVIEW_MAX_DECODE", 5)
    meta = preview.load_video_preview("dance.mp4", {**OPTIONS, "skip_first_frames": 8}, *folders)
    assert (meta["frame_count"], meta["shown_frames"], meta["width"]) == (8, 0, 128)
    assert "filename" not in meta
    assert preview.load_video_preview("dance.mp4", {**OPTIONS, "skip_first_frames": 8}, *folders) == meta


def test_ffmpeg_sends_only_the_selected_frames_and_they_are_the_same(folders):
    path = f"{folders[0]}/dance.mp4"
    info = video_io.probe_video(path)
    indices = [1, 1, 4, 9, 9, 9, 15]  # repeats: output_fps above the video's
    every = video_io.decode_frames(path, info, indices)
    got = {}
    video_io.decode_each(path, info, indices, lambda pos, frame: got.__setitem__(pos, frame.copy()),
                         only_selected=True)
    assert sorted(got) == list(range(len(indices)))
    assert np.array_equal(np.stack([got[i] for i in range(len(indices))]), every)


def _ffmpeg(*args):
    import subprocess
    subprocess.run([video_io.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", *args], check=True)


@pytest.mark.parametrize("clip,options", [
    ("vfr.mp4", {"end_time": 1.0, "resolution": 0}),
    ("vfr.mp4", {"output_fps": 2.0, "end_time": 3.0, "resolution": 0}),
    ("sar2.mp4", {"resolution": 256}),
    ("sar2.mp4", {"resolution": 0}),
])
def test_preview_agrees_with_the_node_on_phone_and_camera_footage(folders, clip, options):
    """Variable frame rate (10 frames in the first second, then one every 0.5 s) and 2:1 pixels."""
    src = f"{folders[0]}/{clip}"
    if clip == "vfr.mp4":
        _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x96:rate=10:duration=2", "-vf",
                "setpts='if(lt(N,10),N*0.1,1+(N-10)*0.5)/TB'", "-fps_mode", "vfr", "-c:v", "libx264",
                "-pix_fmt", "yuv420p", src)
    else:
        _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x96:rate=10:duration=1", "-vf", "setsar=2",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", src)
    options = {**OPTIONS, **options}
    meta = preview.load_video_preview(clip, options, *folders)
    node = video_io.read_video(src, **options)
    n, h, w, _ = node.images.shape
    assert (meta["frame_count"], meta["height"], meta["width"]) == (n, h, w)
    assert meta["fps"] == pytest.approx(node.fps)
    expected = {("vfr.mp4", 1.0): (10, 96, 160, 10.0), ("vfr.mp4", 3.0): (6, 96, 160, 2.0),
                ("sar2.mp4", 256): (10, 80, 256, 10.0), ("sar2.mp4", 0): (10, 96, 320, 10.0)}
    key = (clip, options["end_time"] if clip == "vfr.mp4" else options["resolution"])
    assert (n, h, w, node.fps) == pytest.approx(expected[key])
    frames, _ = read_video(f"{folders[1]}/{meta['subfolder']}/{meta['filename']}")
    ours = video_io.to_uint8_frames(node.images)
    assert frames.shape == ours.shape
    assert np.abs(frames.astype(int) - ours.astype(int)).mean() < 6  # h264 of the same pictures


def test_the_preview_refuses_what_the_node_refuses_with_the_same_numbers(folders, monkeypatch):
    monkeypatch.setenv("T2VZ_LOAD_VIDEO_MAX_GB", "0.01")
    options = {**OPTIONS, "resolution": 512, "output_fps": 1000.0}
    with pytest.raises(video_io.VideoIOError) as from_preview:
        preview.load_video_preview("dance.mp4", options, *folders)
    with pytest.raises(video_io.VideoIOError) as from_node:
        video_io.read_video(f"{folders[0]}/dance.mp4", name="dance.mp4", **options)
    assert str(from_preview.value) == str(from_node.value)
    assert "would load as 4000 frames of 512x512: 12.6 GB" in str(from_preview.value)
    assert not list((Path(folders[1]) / "t2vz_preview").glob("*.mp4"))


def test_the_preview_notes_repeats_and_sizes_the_samplers_cannot_take(folders):
    meta = preview.load_video_preview("dance.mp4", {**OPTIONS, "output_fps": 8.0, "frame_load_cap": 4}, *folders)
    assert meta["notes"] == ["2 repeated frames (output_fps above the video's 4 fps)"]
    odd = f"{folders[0]}/odd.mp4"
    _ffmpeg("-i", f"{folders[0]}/dance.mp4", "-frames:v", "2", "-vf", "scale=90:54,setsar=1", "-c:v", "libx264",
            "-pix_fmt", "yuv444p", odd)
    meta = preview.load_video_preview("odd.mp4", {**OPTIONS, "resolution": 0}, *folders)
    assert (meta["width"], meta["height"]) == (90, 54)
    assert meta["notes"] == ["90×54 is not a multiple of 8, which the samplers need: set a resolution"]
    assert preview.load_video_preview("odd.mp4", OPTIONS, *folders)["notes"] == []


def test_error_messages_do_not_spell_out_the_servers_folders(folders):
    (Path(folders[0]) / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 500)
    for name in ("broken.mp4", "missing.mp4", "../outside.mp4", "/etc/passwd"):
        with pytest.raises(video_io.VideoIOError) as err:
            preview.load_video_preview(name, OPTIONS, *folders)
        assert folders[0] not in str(err.value) and os.path.realpath(folders[0]) not in str(err.value)
        assert "input folder" in str(err.value) or "not a readable video" in str(err.value)
