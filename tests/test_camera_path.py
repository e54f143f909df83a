"""Camera paths (T2VZ_MOTION): the paper's translation as an exact special case, exact
quarter turns, rotation without shear on non-square frames, schedules, and interrupts."""
from __future__ import annotations

import math

import pytest
import torch
from diffusers.pipelines.deprecated.text_to_video_synthesis.pipeline_text_to_video_zero import (
    create_motion_field_and_warp_latents,
)

from t2vz_core import motion
from t2vz_core.camera import CameraPath
from t2vz_core.schedule import Schedule, ScheduleError, parse


def _lat(n, h, w, seed=0):
    torch.manual_seed(seed)
    return torch.randn(n, 4, h, w)


# -- the paper's motion is an exact special case --------------------------------------------

@pytest.mark.parametrize("sx,sy", [(12, 12), (-8, 5), (3.5, -12.25), (0.1, 0.7)])
@pytest.mark.parametrize("hw", [(64, 64), (64, 40), (96, 160), (128, 128)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_translation_path_equals_todays_warp_and_the_reference(sx, sy, hw):
    frame_ids = [0, 1, 2, 7, 31, 250]
    lat = _lat(len(frame_ids), *hw)
    path = CameraPath.translation(sx, sy)
    # the per-frame shifts are the reference's products, not a drifting running sum
    assert [(p["pan_x"], p["pan_y"]) for p in path.parameters(frame_ids)] == [(sx * k, sy * k) for k in frame_ids]
    ours = path.warp(lat, frame_ids)
    assert torch.equal(ours, motion.warp_latents(lat, sx, sy, frame_ids))
    assert torch.equal(ours, create_motion_field_and_warp_latents(sx, sy, frame_ids=frame_ids, latents=lat))


def test_a_translation_written_as_a_schedule_is_the_same_path():
    lat = _lat(6, 32, 48)
    ids = [0, 1, 2, 3, 4, 40]
    scheduled = CameraPath.from_schedules(pan_x="0:(6)", pan_y="-3", zoom="1", roll="0")
    assert torch.equal(scheduled.warp(lat, ids), motion.warp_latents(lat, 6, -3, ids))


def test_identity_is_exact():
    lat = _lat(5, 40, 72)
    for path in (CameraPath(), CameraPath.translation(0, 0),
                 CameraPath.from_schedules(pan_x="7", zoom="1.5", roll="33", mode="absolute")):
        assert path.is_identity
        assert torch.equal(path.warp(lat, [0, 1, 2, 9, 4000]), lat)
    assert not CameraPath.from_schedules(roll="0:(0), 5:(1)", mode="absolute").is_identity
    assert not CameraPath.from_schedules(zoom="0:(1), 9:(1.01)").is_identity


def test_frame_zero_is_never_moved():
    lat = _lat(1, 32, 32)
    for mode in ("accumulated", "absolute"):
        path = CameraPath.from_schedules(pan_x="0:(5), 4:(9)", pan_y="2", zoom="0:(1.3)", roll="0:(20), 8:(0)",
                                         mode=mode)
        assert torch.equal(path.warp(lat, [0]), lat)


# -- rotation ------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [8, 64])
def test_quarter_turns_are_exact(size):
    lat = _lat(4, size, size)
    path = CameraPath.from_schedules(roll="90")  # accumulated: frame k turned by k·90°
    out = path.warp(lat, [1, 2, 3, 4])
    assert torch.equal(out[0], torch.rot90(lat[0], 1, dims=(-2, -1)))   # counter-clockwise
    assert torch.equal(out[1], torch.flip(lat[1], dims=(-2, -1)))       # 180°: both axes flipped
    assert torch.equal(out[2], torch.rot90(lat[2], -1, dims=(-2, -1)))
    assert torch.equal(out[3], lat[3])


def test_half_turn_flips_a_non_square_frame():
    lat = _lat(1, 40, 64)
    out = CameraPath.from_schedules(roll="0:(0), 1:(180)", mode="absolute").warp(lat, [1])
    assert torch.equal(out[0], torch.flip(lat[0], dims=(-2, -1)))


def _disc(h, w, radius):
    ys, xs = torch.meshgrid(torch.arange(h) - (h - 1) / 2, torch.arange(w) - (w - 1) / 2, indexing="ij")
    return ((xs ** 2 + ys ** 2) <= radius ** 2).float()[None, None].repeat(1, 4, 1, 1)


def _extents(img):
    """Height, width and area of the disc in the frame's middle square (reflection padding puts
    mirrored copies of the disc near the left and right edges of a turned wide frame)."""
    h, w = img.shape[-2:]
    mask = img[0, 0, :, (w - h) // 2:(w + h) // 2] > 0.5
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1), int(mask.sum())


@pytest.mark.parametrize("degrees", [30, 45, 90])
def test_a_disc_rotated_on_a_wide_frame_keeps_its_shape(degrees):
    """2:1 frame: rotating in grid units instead of real pixels would squash the disc into an
    ellipse (at 90° its width and height would swap scales by 2×)."""
    disc = _disc(32, 64, radius=7)
    h0, w0, area0 = _extents(disc)
    out = CameraPath.from_schedules(roll=str(degrees)).warp(disc, [1])
    h1, w1, area1 = _extents(out)
    assert abs(h1 - h0) <= 1 and abs(w1 - w0) <= 1, (h0, w0, h1, w1)
    assert abs(area1 - area0) <= 0.05 * area0


def test_zoom_two_enlarges_the_middle():
    lat = _lat(1, 16, 16)
    out = CameraPath.from_schedules(zoom="0:(1), 1:(2)", mode="absolute").warp(lat, [1])
    middle = lat[0, :, 4:12, 4:12]
    assert torch.equal(out[0], middle.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1))


def test_the_centre_is_where_the_zoom_stays_put():
    lat = _lat(1, 16, 16)
    out = CameraPath.from_schedules(zoom="0:(1), 1:(2)", centre_x="0", centre_y="0",
                                    mode="absolute").warp(lat, [1])
    # about the top-left corner: the top-left quarter fills the frame
    assert torch.equal(out[0], lat[0, :, :8, :8].repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1))


# -- schedules and modes -------------------------------------------------------------------

@pytest.mark.parametrize("component,step", [("pan_x", 3.0), ("pan_y", -0.5), ("roll", 2.0)])
def test_accumulated_constant_steps_equal_absolute_k_times_step(component, step):
    # steps chosen so that the absolute schedule's interpolation k·(10·step)/10 is exact
    frames = list(range(11))
    lat = _lat(len(frames), 32, 48)
    acc = CameraPath.from_schedules(**{component: str(step)})
    absolute = CameraPath.from_schedules(**{component: f"0:(0), 10:({10 * step})"}, mode="absolute")
    assert [p[component] for p in acc.parameters(frames)] == [k * step for k in frames]
    assert torch.equal(acc.warp(lat, frames), absolute.warp(lat, frames))


def test_accumulated_zoom_compounds():
    params = CameraPath.from_schedules(zoom="1.1").parameters([0, 1, 2, 10])
    assert [p["zoom"] for p in params] == pytest.approx([1.0, 1.1, 1.21, 1.1 ** 10], rel=1e-12)


def test_a_path_holds_its_last_value_after_its_last_keyframe():
    lat = _lat(2, 32, 32)
    absolute = CameraPath.from_schedules(pan_x="0:(0), 4:(16)", roll="0:(0), 4:(10)", mode="absolute")
    assert absolute.last_keyframe == 4
    assert torch.equal(absolute.warp(lat[:1], [4]), absolute.warp(lat[:1], [40]))
    # accumulated: the last step keeps moving the camera
    acc = CameraPath.from_schedules(pan_x="0:(0), 4:(2)")
    assert [p["pan_x"] for p in acc.parameters([3, 4, 5, 10])] == [3.0, 5.0, 7.0, 17.0]


def test_chunks_of_a_long_path_line_up_with_one_run():
    path = CameraPath.from_schedules(pan_x="0:(2), 20:(-3)", zoom="1.01", roll="0:(1), 10:(4)",
                                     centre_x="0.3")
    lat = _lat(1, 24, 40).repeat(24, 1, 1, 1)
    whole = path.warp(lat, list(range(24)))
    assert torch.equal(whole[16:24], path.warp(lat[:8], list(range(16, 24))))
    assert not torch.equal(whole[16], whole[17])


def test_schedule_interpolates_linearly_and_holds():
    s = parse("4:(10), 0:(0) ,12:(2),", "pan_x")  # any order, spaces, a trailing comma
    assert s.keys == ((0, 0.0), (4, 10.0), (12, 2.0))
    assert s.values(14) == [0, 2.5, 5, 7.5, 10, 9, 8, 7, 6, 5, 4, 3, 2, 2]
    assert parse("5:(3)", "roll").values(7) == [3.0] * 7   # held before the first keyframe too
    assert parse(" -1.5e1 ", "zoom") == Schedule.constant(-15.0)
    assert parse("0: 1, 3: -2", "pan_y").keys == ((0, 1.0), (3, -2.0))  # parentheses optional
    assert parse(2.5, "pan_x") == Schedule.constant(2.5)


@pytest.mark.parametrize("text,position,expected", [
    ("0:(0), 12(8)", 10, "':'"),
    ("0:(0), 12:(8", 13, "')'"),
    ("0:(0) 12:(8)", 7, "','"),
    ("0:(zero)", 4, "a number"),
    ("a:(1)", 1, "a frame number"),
    ("0:(1), -3:(2)", 8, "a frame number"),
])
def test_a_syntax_error_names_the_input_and_the_position(text, position, expected):
    with pytest.raises(ScheduleError) as err:
        CameraPath.from_schedules(zoom="1", roll=text)
    msg = str(err.value)
    assert msg.startswith("roll: ")
    assert f"expected {expected}" in msg and f" at character {position}, found" in msg


@pytest.mark.parametrize("kwargs,start", [
    (dict(pan_x=""), "pan_x: empty"),
    (dict(pan_y="0:(1), 0:(2)"), "pan_y: frame 0 is given twice"),
    (dict(zoom="0:(1), 8:(0)"), "zoom: 0.0 at frame 8 must be above 0"),
    (dict(centre_x="1e999"), "centre_x: inf is not a finite number"),
    (dict(mode="relative"), "mode: 'relative' is not one of accumulated, absolute"),
])
def test_bad_values_are_named(kwargs, start):
    with pytest.raises(ScheduleError) as err:
        CameraPath.from_schedules(**kwargs)
    assert str(err.value).startswith(start), str(err.value)


def test_describe_is_one_short_line():
    assert CameraPath().describe() == "camera path: no motion"
    text = CameraPath.from_schedules(pan_x="0:(0), 12:(8)", zoom="1.02").describe()
    assert text == "camera path (accumulated): pan_x 0:(0), 12:(8); zoom 1.02; centre 0.5, 0.5"


def test_bad_shapes_are_refused():
    path = CameraPath.translation(1, 1)
    with pytest.raises(ValueError, match="frame ids"):
        path.warp(torch.zeros(2, 4, 8, 8), [1])
    with pytest.raises(ValueError, match="frames, channels"):
        path.warp(torch.zeros(4, 8, 8), [1, 2, 3, 4])
    with pytest.raises(ValueError, match="0 or more"):
        path.warp(torch.zeros(1, 4, 8, 8), [-1])


# -- long videos: batches, and ComfyUI's interrupt -----------------------------------------

def test_a_long_warp_checks_for_interrupts_between_batches(monkeypatch):
    calls = []

    class Interrupted(Exception):
        pass

    def check():
        calls.append(1)
        if len(calls) == 3:
            raise Interrupted

    import comfy.model_management
    monkeypatch.setattr(comfy.model_management, "throw_exception_if_processing_interrupted", check)
    lat = torch.zeros(300, 4, 8, 8)
    with pytest.raises(Interrupted):
        CameraPath.from_schedules(roll="1").warp(lat, list(range(300)))
    assert len(calls) == 3  # stopped at the third batch, not at the end


def test_comfyui_interrupt_flag_stops_a_warp():
    import comfy.model_management as mm
    mm.interrupt_current_processing(True)
    try:
        with pytest.raises(mm.InterruptProcessingException):
            motion.warp_latents(torch.zeros(4, 4, 8, 8), 12, 12, [1, 2, 3, 4])
    finally:
        mm.interrupt_current_processing(False)
    assert motion.warp_latents(torch.zeros(1, 4, 8, 8), 12, 12, [1]).shape == (1, 4, 8, 8)


def test_batches_do_not_change_the_result(monkeypatch):
    lat = _lat(40, 16, 24)
    ids = list(range(40))
    path = CameraPath.from_schedules(pan_x="0:(3), 30:(-2)", zoom="0.99", roll="1.5")
    whole = path.warp(lat, ids)
    monkeypatch.setattr(motion, "GRID_BUFFER_BYTES", 3 * 2 * 512 * 512 * 4)  # 3 frames a batch
    assert torch.equal(path.warp(lat, ids), whole)
    assert torch.equal(path.warp(lat[[0, 39]], [0, 39]), whole[[0, 39]])
    assert math.isfinite(float(whole.sum()))


@pytest.mark.parametrize("zoom, frames, needle", [
    ("1.5", 2001, "zoom: by frame 23 the camera is more than 10000 times closer than at frame 0"),
    ("0.5", 1100, "zoom: by frame 14 the camera is more than 10000 times further than at frame 0"),
])
def test_a_zoom_compounding_over_a_long_video_is_a_clear_error(zoom, frames, needle):
    """Accumulated zoom multiplies every frame: 1.5 over 2000 frames overflowed a float and 0.5
    over 1100 divided by zero inside the warp; now the run stops with the frame and the fix."""
    path = CameraPath.from_schedules(zoom=zoom)
    with pytest.raises(ScheduleError, match=needle):
        path.warp(torch.zeros(1, 4, 8, 8), [frames - 1])
    with pytest.raises(ScheduleError, match="mode 'absolute'"):
        path.parameters(range(frames))
    assert path.parameters([10])[0]["zoom"] == pytest.approx(float(zoom) ** 10)  # a short video is fine
