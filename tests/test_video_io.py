"""Loading videos and Canny edges: the frame-selection math, reading the real input videos
(t2vz_core.video_io), and the T2VZ_LoadVideo / T2VZ_CannyEdges nodes in-process."""
from __future__ import annotations

import os
import shutil
import subprocess

import cv2
import numpy as np
import pytest
import torch

import nodes
from support.media import read_video as read_with_pyav
from t2vz_core import edges, video_io, video_select
from t2vz_core.video_io import Timeline, VideoIOError, select_frames, target_size

ASSETS = {"pose_dance1.mp4": (16, 4.0), "canny_girl_turning.mp4": (8, 4.0), "pix2pix_camel.mp4": (8, 5.0)}


def _prepare_video_indices(n_frames, fps, start_t=0.0, end_t=-1.0, output_fps=-1):
    """The original's prepare_video index math (Text2Video-Zero utils.py), without decord."""
    if output_fps == -1:
        output_fps = int(fps)
    end_t = n_frames / fps if end_t == -1 else min(n_frames / fps, end_t)
    num_f = int((end_t - start_t) * output_fps)
    return np.linspace(int(start_t * fps), int(end_t * fps), num_f, endpoint=False).astype(int).tolist()


# -- frame selection (pure) ------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,indices,fps", [
    ({}, list(range(16)), 4.0),
    ({"frame_load_cap": 4}, [0, 1, 2, 3], 4.0),
    ({"skip_first_frames": 13}, [13, 14, 15], 4.0),
    ({"select_every_nth": 2}, list(range(0, 16, 2)), 2.0),
    ({"select_every_nth": 5}, [0, 5, 10, 15], 0.8),
    ({"skip_first_frames": 1, "select_every_nth": 3, "frame_load_cap": 3}, [1, 4, 7], 4 / 3),
    ({"start_time": 1.0, "end_time": 2.5}, [4, 5, 6, 7, 8, 9], 4.0),
    ({"end_time": 100.0}, list(range(16)), 4.0),
    ({"output_fps": 2.0}, list(range(0, 16, 2)), 2.0),
    ({"output_fps": 8.0, "frame_load_cap": 6}, [0, 0, 1, 1, 2, 2], 8.0),
    ({"output_fps": 2.0, "start_time": 1.0, "end_time": 3.0}, [4, 6, 8, 10], 2.0),
    # window -> fps -> skip -> every nth -> cap: [4, 6, 8, 10, 12, 14] -> [6 .. 14] -> [6, 10, 14] -> [6, 10]
    ({"start_time": 1.0, "output_fps": 2.0, "skip_first_frames": 1, "select_every_nth": 2, "frame_load_cap": 2},
     [6, 10], 1.0),
])
def test_select_frames(kwargs, indices, fps):
    sel = select_frames(Timeline.constant(16, 4.0), **kwargs)
    assert sel.indices == indices
    assert sel.fps == pytest.approx(fps)


@pytest.mark.parametrize("n,fps,start,end,out_fps", [
    (16, 4.0, 0.0, -1, 2), (16, 4.0, 0.5, 3.0, 3), (120, 25.0, 1.0, 3.3, 8), (120, 25.0, 0.0, -1, 10),
    (300, 30.0, 2.0, 7.5, 24), (50, 10.0, 0.0, 20.0, 10), (40, 8.0, 1.5, -1, 12),
])
def test_time_window_and_fps_match_prepare_video(n, fps, start, end, out_fps):
    sel = select_frames(Timeline.constant(n, fps), start_time=start, end_time=max(end, 0.0), output_fps=out_fps)
    assert sel.indices == _prepare_video_indices(n, fps, start, end, out_fps)
    assert sel.fps == out_fps


def test_keeping_the_source_fps_takes_every_frame_of_the_window():
    assert select_frames(Timeline.constant(16, 4.0)).indices == _prepare_video_indices(16, 4.0)  # output_fps=int(fps)
    assert select_frames(Timeline.constant(300, 30000 / 1001), start_time=2.0,
                         end_time=3.0).indices == list(range(59, 89))


@pytest.mark.parametrize("kwargs,needles", [
    ({"skip_first_frames": 16}, ["skip_first_frames (16) skips every frame", "has 16 frames", "below 16"]),
    ({"skip_first_frames": 40}, ["has 16 frames"]),
    ({"start_time": 1.0, "end_time": 2.0, "skip_first_frames": 4}, ["has 16 frames", "4 of them in the time window"]),
    ({"start_time": 4.0}, ["start_time (4.0 s) is at or after the end", "16 frames", "below 4"]),
    ({"start_time": 1.0, "end_time": 1.1}, ["time window 1.0-1.1 s", "holds no frame"]),
    ({"output_fps": 0.1}, ["at output_fps 0.1", "holds no frame", "raise output_fps"]),
    ({"end_time": 1.0, "start_time": 2.0}, ["end_time (1.0) must be greater than start_time (2.0)"]),
    ({"skip_first_frames": -1}, ["skip_first_frames (-1) must be 0 or more"]),
    ({"select_every_nth": 0}, ["select_every_nth (0) must be at least 1"]),
    ({"start_time": -0.5}, ["start_time (-0.5) must be 0 or more"]),
])
def test_select_frames_says_why_nothing_is_left(kwargs, needles):
    with pytest.raises(VideoIOError) as err:
        select_frames(Timeline.constant(16, 4.0), name="video 'clip.mp4'", **kwargs)
    for needle in needles:
        assert needle in str(err.value)


def test_check_options():
    assert video_io.check_options(**video_io.DEFAULTS) is None
    assert video_io.check_options(start_time=1.0, end_time=0.0) is None  # 0 = to the end
    problem = video_io.check_options(start_time=1.0, end_time=1.0)
    assert problem.input == "end_time" and "end_time (1.0) must be greater than start_time (1.0)" in problem.message
    assert str(video_io.check_options(resolution=4)).startswith("resolution: resolution (4)")
    assert str(video_io.check_options(output_fps=-2.0)).startswith("output_fps: output_fps (-2.0)")
    assert str(video_io.check_options(resolution=100000)) == "resolution: resolution (100000) must be at most 16384"


@pytest.mark.parametrize("w,h,res,expected", [
    (512, 288, 256, (256, 144)), (512, 512, 256, (256, 256)), (1920, 1080, 512, (512, 288)),
    (288, 512, 256, (144, 256)), (640, 480, 500, (496, 376)), (512, 288, 0, (512, 288)),
    (333, 211, 0, (333, 211)), (1000, 10, 64, (64, 8)),
])
def test_target_size(w, h, res, expected):
    assert target_size(w, h, res) == expected
    if res:
        assert all(s % 8 == 0 for s in expected)


@pytest.mark.parametrize("w,h", [(512, 288), (640, 480), (1920, 1080), (300, 700)])
def test_target_size_with_64_is_the_originals_rule(w, h):
    k = 512 / max(h, w)  # prepare_video
    assert target_size(w, h, 512, multiple=64) == (int(np.round(w * k / 64.0)) * 64, int(np.round(h * k / 64.0)) * 64)


def test_resize_is_torchvisions_antialiased_bilinear():
    from torchvision.transforms import InterpolationMode, Resize
    images = torch.rand(3, 40, 72, 3)
    ours = video_io.resize_images(images, 32, 16)
    # the original resizes float 0..255 (f, c, h, w) tensors
    ref = Resize((16, 32), interpolation=InterpolationMode.BILINEAR, antialias=True)(images.movedim(-1, 1) * 255.0)
    torch.testing.assert_close(ours, (ref / 255.0).clamp(0, 1).movedim(1, -1), atol=1e-5, rtol=0)


# -- reading files ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ASSETS)
def test_reads_the_shared_videos(shared_assets, name):
    count, fps = ASSETS[name]
    video = video_io.read_video(str(shared_assets / name))
    assert tuple(video.images.shape) == (count, 512, 512, 3)
    assert video.images.dtype == torch.float32 and 0.0 <= video.images.min() and video.images.max() <= 1.0
    assert video.fps == fps and video.source.frame_count == count
    # the same pixels another decoder (PyAV) sees, up to YUV->RGB rounding
    ref, ref_fps = read_with_pyav(shared_assets / name)
    assert ref_fps == fps
    diff = np.abs(video.images.numpy() * 255.0 - ref.astype(np.float32))
    assert diff.mean() < 1.5, diff.mean()


def test_options_change_what_comes_out(shared_assets):
    path = str(shared_assets / "pose_dance1.mp4")
    full = video_io.read_video(path).images
    capped = video_io.read_video(path, frame_load_cap=4)
    assert capped.images.shape[0] == 4 and torch.equal(capped.images, full[:4])
    nth = video_io.read_video(path, select_every_nth=2)
    assert nth.images.shape[0] == 8 and nth.fps == 2.0 and torch.equal(nth.images, full[::2])
    late = video_io.read_video(path, start_time=2.0, skip_first_frames=1)
    assert torch.equal(late.images, full[9:])
    small = video_io.read_video(path, resolution=256)
    assert tuple(small.images.shape) == (16, 256, 256, 3)
    torch.testing.assert_close(small.images, video_io.resize_images(full, 256, 256))
    slow = video_io.read_video(path, output_fps=2.0, frame_load_cap=3)
    assert slow.fps == 2.0 and torch.equal(slow.images, full[[0, 2, 4]])


def _ffmpeg(*args):
    subprocess.run([video_io.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", *args], check=True)


def test_rotated_video_comes_out_upright(shared_assets, tmp_path):
    plain, rotated = tmp_path / "wide.mp4", tmp_path / "rotated.mp4"
    _ffmpeg("-i", str(shared_assets / "pose_dance1.mp4"), "-frames:v", "4", "-vf", "scale=128:72,setsar=1",
            "-c:v", "libx264", str(plain))
    _ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", str(rotated))  # same packets, rotated
    a = video_io.read_video(str(plain)).images
    b = video_io.read_video(str(rotated)).images
    assert tuple(a.shape) == (4, 72, 128, 3) and tuple(b.shape) == (4, 128, 72, 3)
    assert torch.equal(torch.rot90(a, 1, dims=(1, 2)), b)


def _vfr_video(shared_assets, tmp_path):
    """16 frames: 8 at 4 fps, then 8 one second apart (a variable frame rate)."""
    path = tmp_path / "vfr.mp4"
    _ffmpeg("-i", str(shared_assets / "pose_dance1.mp4"), "-vf",
            "setpts='if(lt(N,8),N*0.25/TB,(2+(N-8))/TB)',scale=64:64", "-fps_mode", "vfr", "-c:v", "libx264", str(path))
    return path


def test_variable_frame_rate_gives_each_frame_once(shared_assets, tmp_path):
    path = _vfr_video(shared_assets, tmp_path)
    video = video_io.read_video(str(path))
    ref, _ = read_with_pyav(path)  # PyAV hands out every decoded frame once
    assert video.source.frame_count == 16 and tuple(video.images.shape) == (16, 64, 64, 3)
    assert np.abs(video.images.numpy() * 255.0 - ref).max() <= 1.0


def test_old_ffmpeg_without_fps_mode(shared_assets, tmp_path, monkeypatch):
    """ffmpeg < 5.1 only knows -vsync: a wrapper that refuses -fps_mode and maps -vsync back."""
    real = video_io.ffmpeg_exe()
    path = _vfr_video(shared_assets, tmp_path)
    wrapper = tmp_path / "old-ffmpeg"
    wrapper.write_text(f"""#!/bin/sh
for a in "$@"; do [ "$a" = "-fps_mode" ] && {{ echo "Unrecognized option 'fps_mode'." >&2; exit 1; }}; done
for a in "$@"; do [ "$a" = "-vsync" ] && a="-fps_mode"; set -- "$@" "$a"; shift; done
exec {real} "$@"
""")
    wrapper.chmod(0o755)
    monkeypatch.setenv(video_io.ENV_FFMPEG, str(wrapper))
    video_io.ffmpeg_exe.cache_clear()
    try:
        assert video_io.ffmpeg_exe() == str(wrapper)
        video = video_io.read_video(str(path))
    finally:
        monkeypatch.undo()
        video_io.ffmpeg_exe.cache_clear()
    assert tuple(video.images.shape) == (16, 64, 64, 3)
    assert torch.equal(video.images, video_io.read_video(str(path)).images)


def test_unreadable_files(shared_assets, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("these are my notes, not a video\n" * 20)
    with pytest.raises(VideoIOError, match=r"video 'notes.mp4' is not a readable video: its content is not"):
        video_io.read_video(str(text))

    data = (shared_assets / "pose_dance1.mp4").read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[:2048])
    with pytest.raises(VideoIOError, match=r"'truncated.mp4' is not a readable video: it starts like an MP4/MOV "
                                           r"file but is truncated or corrupt; ffmpeg: .*moov atom not found"):
        video_io.read_video(str(truncated))

    # index at the front, frames cut off half way: the header is fine, the frames are not
    faststart = tmp_path / "faststart.mp4"
    _ffmpeg("-i", str(shared_assets / "pose_dance1.mp4"), "-c", "copy", "-movflags", "+faststart", str(faststart))
    partial = tmp_path / "partial.mp4"
    partial.write_bytes(faststart.read_bytes()[:20000])
    with pytest.raises(VideoIOError, match=r"'partial.mp4' is not a readable video: .*truncated or corrupt"):
        video_io.read_video(str(partial))


def test_resolve_in_folder(tmp_path):
    inside, outside = tmp_path / "input", tmp_path / "elsewhere"
    (inside / "sub").mkdir(parents=True)
    outside.mkdir()
    (inside / "a.mp4").write_bytes(b"x")
    (inside / "sub" / "b.mp4").write_bytes(b"x")
    (outside / "secret.mp4").write_bytes(b"x")
    os.symlink(outside / "secret.mp4", inside / "link.mp4")
    assert video_io.resolve_in_folder("a.mp4", str(inside)) == str((inside / "a.mp4").resolve())
    assert video_io.resolve_in_folder("sub/b.mp4", str(inside)) == str((inside / "sub" / "b.mp4").resolve())
    for name, needle in [("../elsewhere/secret.mp4", "points outside ComfyUI's input folder"),
                         ("sub/../../elsewhere/secret.mp4", "points outside"),
                         ("link.mp4", "points outside"),
                         (str(outside / "secret.mp4"), "is an absolute path"),
                         ("missing.mp4", "was not found in ComfyUI's input folder"),
                         ("sub", "is a folder"),
                         ("", "no file chosen")]:
        with pytest.raises(VideoIOError, match=needle):
            video_io.resolve_in_folder(name, str(inside))
    assert video_io.list_videos(str(inside)) == ["a.mp4", "link.mp4"]


# -- what a player shows: variable frame rate, non-square pixels, still pictures, memory -----

def _player(path):
    """(frames, presentation times in seconds) as a player decodes them (PyAV), in display order."""
    import av

    with av.open(str(path)) as container:
        frames = [(f.time, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    frames.sort(key=lambda tf: tf[0])
    t0 = frames[0][0]
    return np.stack([f for _, f in frames]), [t - t0 for t, _ in frames]


def _shown_at(times, seconds):
    """Index of the frame a player shows at ``seconds``."""
    return max(i for i, t in enumerate(times) if t <= seconds + 1e-9)


@pytest.fixture(scope="module")
def phone_clips(tmp_path_factory):
    """The issue's files: vfr.mp4 (10 frames in the first second, then one every 0.5 s) and
    160x96 clips with 2:1 and 1:2 pixels."""
    folder = tmp_path_factory.mktemp("phone_clips")
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x96:rate=10:duration=2", "-vf",
            "setpts='if(lt(N,10),N*0.1,1+(N-10)*0.5)/TB'", "-fps_mode", "vfr", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", str(folder / "vfr.mp4"))
    for sar in ("2", "1/2"):
        _ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x96:rate=10:duration=1", "-vf", f"setsar={sar}",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", str(folder / f"sar{sar.replace('/', '_')}.mp4"))
    return folder


def test_variable_frame_rate_time_window_takes_the_frames_a_player_shows(phone_clips):
    path = phone_clips / "vfr.mp4"
    ref, times = _player(path)
    assert len(times) == 20 and sum(t < 1.0 for t in times) == 10  # the file is what the issue describes
    full = video_io.read_video(str(path))
    assert tuple(full.images.shape) == (20, 96, 160, 3)
    assert np.abs(full.images.numpy() * 255.0 - ref).max() <= 1.0
    for start, end in ((0.0, 1.0), (0.35, 2.0), (1.2, 3.6)):
        video = video_io.read_video(str(path), start_time=start, end_time=end)
        first, stop = _shown_at(times, start), _shown_at(times, end)
        assert video.images.shape[0] == stop - first, (start, end)
        assert torch.equal(video.images, full.images[first:stop])
        assert video.fps == pytest.approx((stop - first) / (times[stop] - times[first]))  # the real rate
    assert video_io.read_video(str(path), end_time=1.0).fps == pytest.approx(10.0)


def test_variable_frame_rate_output_fps_picks_the_frame_shown_at_each_output_time(phone_clips):
    path = phone_clips / "vfr.mp4"
    _, times = _player(path)
    full = video_io.read_video(str(path)).images
    video = video_io.read_video(str(path), output_fps=2.0, end_time=3.0)
    expected = [_shown_at(times, k / 2.0) for k in range(6)]
    assert expected == [0, 5, 10, 11, 12, 13]
    assert video.fps == 2.0 and torch.equal(video.images, full[expected])
    fast = video_io.read_video(str(path), output_fps=4.0, start_time=1.0, end_time=2.0)  # 2 fps there: repeats
    assert torch.equal(fast.images, full[[10, 10, 11, 11]])


@pytest.mark.parametrize("clip,resolution,size", [
    ("sar2.mp4", 0, (320, 96)), ("sar2.mp4", 256, (256, 80)),
    ("sar1_2.mp4", 0, (80, 96)), ("sar1_2.mp4", 256, (216, 256)),
])
def test_non_square_pixels_come_out_as_a_player_shows_them(phone_clips, clip, resolution, size):
    path = phone_clips / clip
    assert _player(path)[0].shape[1:3] == (96, 160)  # stored 160x96: a node ignoring SAR keeps 5:3
    # what ffmpeg says a player shows: the display aspect ratio, and the picture stretched to it
    probe = subprocess.run([video_io.ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    num, den = map(int, __import__("re").search(r"DAR (\d+):(\d+)", probe.stderr).groups())
    video = video_io.read_video(str(path), resolution=resolution)
    n, h, w, _ = video.images.shape
    assert (w, h) == size and n == 10
    assert abs(h - w * den / num) <= video_io.SIZE_MULTIPLE / 2, (w, h, num, den)  # up to rounding to 8
    shown = phone_clips / f"shown_{clip}_{resolution}.mp4"  # ffmpeg's own stretch to that size
    _ffmpeg("-y", "-i", str(path), "-vf", f"scale={w}:{h}:flags=bilinear,setsar=1", "-c:v", "libx264", "-crf", "0",
            "-pix_fmt", "yuv444p", str(shown))
    ref, _ = _player(shown)
    diff = np.abs(video.images.numpy() * 255.0 - ref.astype(np.float32)).mean()
    assert diff < 6.0, diff  # the same picture, up to the two resizers


def test_a_still_picture_renamed_mp4_is_refused(tmp_path):
    from PIL import Image
    Image.new("RGB", (64, 48), (200, 30, 30)).save(tmp_path / "photo.png")
    (tmp_path / "photo.mp4").write_bytes((tmp_path / "photo.png").read_bytes())
    with pytest.raises(VideoIOError, match=r"video 'photo.mp4' is a still picture \(png\), not a video; load pictures "
                                           r"with core's Load Image node"):
        video_io.read_video(str(tmp_path / "photo.mp4"))


def test_one_frame_videos_still_load(shared_assets, tmp_path):
    one = tmp_path / "one.mp4"
    _ffmpeg("-i", str(shared_assets / "pose_dance1.mp4"), "-frames:v", "1", "-vf", "scale=64:64", str(one))
    video = video_io.read_video(str(one))
    assert tuple(video.images.shape) == (1, 64, 64, 3) and video.fps == 4.0


def test_an_output_beyond_the_memory_budget_is_refused_before_decoding(shared_assets, monkeypatch):
    path = str(shared_assets / "pose_dance1.mp4")  # 16 frames of 512x512 at 4 fps
    decoded = []
    monkeypatch.setattr(video_io, "decode_each", lambda *a, **k: decoded.append(a))
    monkeypatch.setenv(video_select.ENV_BUDGET, "0.05")  # 50 MB
    with pytest.raises(VideoIOError) as err:
        video_io.read_video(path, resolution=512)  # 16 x 512 x 512 x 3 x 4 = 50.3 MB
    assert str(err.value).startswith(
        "video 'pose_dance1.mp4' would load as 16 frames of 512x512: 50.3 MB as an IMAGE batch "
        "(16 x 512 x 512 x 3 values x 4 bytes), more than Load Video's limit of 50 MB (set by "
        "T2VZ_LOAD_VIDEO_MAX_GB); lower resolution, set frame_load_cap or select_every_nth")
    with pytest.raises(VideoIOError, match=r"would load as 4000 frames of 16384x16384: 12.9 TB .* lower "
                                           r"output_fps \(above the video's 4 fps it repeats frames\)"):
        video_io.read_video(path, resolution=16384, output_fps=1000.0)
    assert decoded == []
    monkeypatch.undo()
    monkeypatch.setattr(video_io, "decode_each", lambda *a, **k: decoded.append(a))
    budget, why = video_select.memory_budget()
    assert budget > 1e9 and why.startswith("half of this machine's memory")
    with pytest.raises(VideoIOError, match="would load as 4000 frames"):
        video_io.read_video(path, resolution=16384, output_fps=1000.0)
    assert decoded == []
    monkeypatch.undo()
    assert video_io.read_video(path, resolution=504, frame_load_cap=1).images.shape == (1, 504, 504, 3)


def test_output_fps_above_the_videos_repeats_frames_and_says_so(shared_assets, caplog):
    path = str(shared_assets / "canny_girl_turning.mp4")  # 8 frames at 4 fps
    with caplog.at_level("INFO", logger=video_io.__name__):
        video = video_io.read_video(path, output_fps=8.0, resolution=64)
    assert video.images.shape[0] == 16 and video.fps == 8.0
    assert all(torch.equal(video.images[2 * i], video.images[2 * i + 1]) for i in range(8))
    assert "8 of them repeats" in caplog.text


# -- canny (pure) ----------------------------------------------------------------------------

def _square(level=255, size=64, lo=16, hi=48):
    img = np.zeros((1, size, size, 3), np.uint8)
    img[0, lo:hi, lo:hi] = level
    return img


def test_canny_edges_lie_on_the_square_border_only():
    out = edges.canny(_square())
    assert out.shape == (1, 64, 64, 3) and set(np.unique(out)) == {0, 255}
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 0] == out[..., 2]).all()
    e = out[0, ..., 0] > 0
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 1
    kernel = np.ones((3, 3), np.uint8)
    border = (cv2.dilate(mask, kernel) - cv2.erode(mask, kernel)).astype(bool)  # rows/cols 15-16 and 47-48
    assert not (e & ~border).any(), "edges away from the square's border"
    for side in (e[15:17, 16:48], e[47:49, 16:48], e[16:48, 15:17].T, e[16:48, 47:49].T):
        assert side.any(axis=0).mean() > 0.9, "a side of the square has no edge"
    assert not edges.canny(np.full((1, 32, 32, 3), 90, np.uint8)).any()  # a flat image has no edges


def test_canny_thresholds_change_the_result():
    faint = _square(level=30)  # a step of 30: gradient 120 on the sides, below the default high of 200
    assert not edges.canny(faint).any()
    assert edges.canny(faint, 50, 100).any()
    levels = [10, 20, 30, 40, 60, 80, 120, 200]  # squares of rising contrast on black, side by side
    strip = np.zeros((1, 32, 32 * len(levels), 3), np.uint8)
    for i, level in enumerate(levels):
        strip[0, 8:24, 32 * i + 8:32 * i + 24] = level

    def squares_with_edges(low, high):
        e = edges.canny(strip, low, high)[0, ..., 0] > 0
        return [level for i, level in enumerate(levels) if e[:, 32 * i:32 * i + 32].any()]

    assert squares_with_edges(20, 40) == levels
    assert squares_with_edges(50, 100) == levels[1:]
    assert squares_with_edges(100, 200) == levels[3:]  # the original's defaults
    assert squares_with_edges(200, 255) == levels[4:]
    assert np.array_equal(edges.canny(strip, 70, 140)[0, ..., 0], cv2.Canny(strip[0], 70, 140))  # the original's call


def test_canny_refuses_low_above_high():
    with pytest.raises(ValueError, match=r"low_threshold \(150\) must not be greater than high_threshold \(100\)"):
        edges.canny(_square(), 150, 100)
    assert edges.check_thresholds(100, 100) is None
    assert "between 0 and 255" in edges.check_thresholds(100, 300)


# -- the nodes, in-process -------------------------------------------------------------------

LOAD, CANNY = "T2VZ_LoadVideo", "T2VZ_CannyEdges"


@pytest.fixture
def dance(comfy_dirs, shared_assets):
    shutil.copyfile(shared_assets / "pose_dance1.mp4", comfy_dirs.input / "dance.mp4")
    yield "dance.mp4"
    (comfy_dirs.input / "dance.mp4").unlink()


def test_load_video_lists_the_input_folders_videos_with_an_upload_button(dance, comfy_dirs):
    (comfy_dirs.input / "readme.txt").write_text("not a video")
    spec = nodes.NODE_CLASS_MAPPINGS[LOAD].GET_NODE_INFO_V1()["input"]["required"]["video"]
    assert spec[1]["video_upload"] is True
    assert "dance.mp4" in spec[1]["options"] and "readme.txt" not in spec[1]["options"]


def test_load_video_node(dance):
    cls = nodes.NODE_CLASS_MAPPINGS[LOAD]
    out = cls.execute(video=dance, select_every_nth=2, resolution=256)
    images, fps, count = out.result
    assert tuple(images.shape) == (8, 256, 256, 3) and fps == 2.0 and count == 8
    images, fps, count = cls.execute(video=dance, resolution=0, frame_load_cap=4).result
    assert tuple(images.shape) == (4, 512, 512, 3) and fps == 4.0 and count == 4
    # a plain ValueError (ComfyUI names an error's type by its module: for the pack, its install path)
    with pytest.raises(ValueError, match="skip_first_frames \\(16\\) skips every frame: video 'dance.mp4' has 16"):
        cls.execute(video=dance, skip_first_frames=16)


def test_load_video_validation(dance):
    cls = nodes.NODE_CLASS_MAPPINGS[LOAD]
    assert cls.validate_inputs(video=dance, start_time=0.0, end_time=0.0) is True
    assert cls.validate_inputs(video="../" + dance).startswith("video: video '../dance.mp4' points outside ComfyUI's "
                                                               "input folder")
    assert "is an absolute path" in cls.validate_inputs(video="/etc/passwd")
    assert "'gone.mp4' was not found" in cls.validate_inputs(video="gone.mp4")
    assert cls.validate_inputs(video=dance, start_time=2.0, end_time=1.0).startswith(
        "end_time: end_time (1.0) must be greater than start_time (2.0)")  # on the input it is about
    assert "frame_load_cap (-3) must be 0 or more" in cls.validate_inputs(frame_load_cap=-3)
    assert cls.validate_inputs(video=dance, resolution=100000) == "resolution: resolution (100000) must be at most 16384"
    with pytest.raises(ValueError, match="points outside"):
        cls.execute(video="../" + dance)


def test_load_video_reloads_a_changed_file(dance, comfy_dirs, shared_assets):
    cls = nodes.NODE_CLASS_MAPPINGS[LOAD]
    before = cls.fingerprint_inputs(video=dance, frame_load_cap=0)
    assert cls.fingerprint_inputs(video=dance, frame_load_cap=0) == before
    shutil.copyfile(shared_assets / "canny_girl_turning.mp4", comfy_dirs.input / dance)
    assert cls.fingerprint_inputs(video=dance, frame_load_cap=0) != before
    assert cls.execute(video=dance).result[2] == 8


def test_canny_node():
    cls = nodes.NODE_CLASS_MAPPINGS[CANNY]
    images = torch.from_numpy(_square()).float() / 255.0
    (out,) = cls.execute(images=images.repeat(2, 1, 1, 1), low_threshold=100, high_threshold=200).result
    assert out.shape == (2, 64, 64, 3) and out.dtype == torch.float32
    assert torch.equal(out[0], torch.from_numpy(edges.canny(_square())[0]).float() / 255.0)
    assert set(out.unique().tolist()) == {0.0, 1.0}
    gray = images[..., :1]  # one channel in, three out
    assert cls.execute(images=gray, low_threshold=100, high_threshold=200).result[0].shape == (1, 64, 64, 3)
    assert "low_threshold (201) must not be greater than high_threshold (200)" in cls.validate_inputs(201, 200)
    assert cls.validate_inputs(low_threshold=100, high_threshold=200) is True
