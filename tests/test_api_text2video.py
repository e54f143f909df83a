"""Text-to-video through the real ComfyUI server (POST /prompt), as API users queue it."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from support.graphs import core_txt2img
from support.media import read_gif, read_video
from support.server import execution_error
from support.workflows import node_id, pngs, tiny_api, with_png

pytestmark = pytest.mark.server


def _video(server, entry, prompt, class_type="SaveVideo"):
    nid = node_id(prompt, class_type)
    files = server.output_files(entry, node_id=nid)
    assert len(files) == 1, entry.get("outputs")
    return files[0]


def _run_ok(server, prompt, timeout=300):
    entry = server.run(prompt, timeout=timeout)
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    return entry


def _cached_nodes(entry) -> set[str]:
    return {n for ev, data in entry["status"]["messages"] if ev == "execution_cached" for n in data.get("nodes", [])}


def test_text2video_example_makes_an_mp4_with_every_frame(comfy_server):
    prompt = tiny_api("text2video", video_length=5, width=64, height=48)
    prompt[node_id(prompt, "CreateVideo")]["inputs"]["fps"] = 6.0
    entry = _run_ok(comfy_server, prompt)
    path = _video(comfy_server, entry, prompt)
    assert path.suffix == ".mp4" and path.stat().st_size > 0
    frames, fps = read_video(path)
    assert frames.shape == (5, 48, 64, 3)
    assert fps == pytest.approx(6.0)
    # the preview entry the frontend plays
    out = entry["outputs"][node_id(prompt, "SaveVideo")]
    assert out["images"][0]["type"] == "output" and out["images"][0]["filename"] == path.name
    assert out["animated"] == [True]


def test_camera_motion_changes_every_frame_but_frame_0(comfy_server):
    def run(use_motion_field, prefix):
        # 64 pixels of a 512-pixel frame: one latent pixel per frame at this 64×64 size
        p = with_png(tiny_api("text2video", video_length=4, use_motion_field=use_motion_field,
                              motion_field_strength_x=64.0, motion_field_strength_y=64.0), prefix)
        p[node_id(p, "SaveVideo")]["inputs"]["filename_prefix"] = prefix
        return pngs(comfy_server, _run_ok(comfy_server, p))

    moving, still = run(True, "motion/on"), run(False, "motion/off")
    assert np.array_equal(moving[0], still[0])  # frame 0 is never moved
    for k in range(1, 4):  # every later frame starts from a moved copy of frame 0
        assert np.abs(moving[k].astype(int) - still[k].astype(int)).mean() > 1.0, k


def test_same_seed_same_frames_other_seed_other_frames(comfy_server):
    def run(seed, prefix):
        p = with_png(tiny_api("text2video", seed=seed), prefix)
        p[node_id(p, "SaveVideo")]["inputs"]["filename_prefix"] = prefix
        entry = _run_ok(comfy_server, p)
        assert node_id(p, "T2VZ_Sampler") not in _cached_nodes(entry)  # really sampled again
        assert read_video(_video(comfy_server, entry, p))[0].shape == (4, 64, 64, 3)
        return pngs(comfy_server, entry)

    a = run(11, "seed/a")
    b = run(12, "seed/b")
    a2 = run(11, "seed/a2")
    assert np.array_equal(a, a2)
    assert not np.array_equal(a, b)


def test_step_by_step_example_gives_the_same_video_and_a_gif(comfy_server):
    one = with_png(tiny_api("text2video", seed=3), "same/one")
    steps = with_png(tiny_api("text2video_step_by_step", seed=3), "same/steps")
    v1 = pngs(comfy_server, _run_ok(comfy_server, one))
    entry = _run_ok(comfy_server, steps)
    v2 = pngs(comfy_server, entry)
    assert v1.shape == (4, 64, 64, 3) and np.array_equal(v1, v2)
    gif = _video(comfy_server, entry, steps, "T2VZ_SaveGIF")
    frames, durations = read_gif(gif)
    assert frames.shape == (4, 64, 64, 3)
    assert durations == [pytest.approx(0.25, abs=0.011)] * 4
    out = entry["outputs"][node_id(steps, "T2VZ_SaveGIF")]
    # under "gifs" with what the pack's GIF preview sizes itself by (web/js/gif_preview.js)
    assert list(out) == ["gifs"]
    assert out["gifs"] == [{"filename": gif.name, "subfolder": "T2VZ", "type": "output", "format": "image/gif",
                            "frame_rate": 4.0, "frame_count": 4, "width": 64, "height": 64}]


def test_an_api_prompt_saved_before_the_newer_inputs_still_runs_with_their_defaults(comfy_server):
    """Inputs added to released nodes are optional: a prompt without them (as scripts saved it
    before they existed) is accepted and gives the frames of their defaults."""
    now = with_png(tiny_api("text2video_step_by_step", seed=5), "older/now")
    before = with_png(tiny_api("text2video_step_by_step", seed=5), "older/before")
    later = {"T2VZ_MotionFieldLatentInit": ["first_frame_mode", "image_strength", "first_frame_release", "chunk_size"],
             "T2VZ_CrossFrameAttention": ["token_merge_ratio", "merge_anchor_keys"]}
    for cls, names in later.items():
        inputs = before[node_id(before, cls)]["inputs"]
        assert set(names) <= set(inputs)  # the example has them today
        for name in names:
            del inputs[name]
    assert np.array_equal(pngs(comfy_server, _run_ok(comfy_server, before)),
                          pngs(comfy_server, _run_ok(comfy_server, now)))
    sampler = with_png(tiny_api("text2video", seed=5), "older/sampler")
    for name in ("first_frame_mode", "image_strength", "first_frame_release", "token_merge_ratio"):
        del sampler[node_id(sampler, "T2VZ_Sampler")]["inputs"][name]
    assert pngs(comfy_server, _run_ok(comfy_server, sampler)).shape == (4, 64, 64, 3)


def test_gif_never_overwrites(comfy_server):
    p = tiny_api("text2video_step_by_step", seed=21)
    gid = node_id(p, "T2VZ_SaveGIF")
    p[gid]["inputs"]["filename_prefix"] = "keep/clip"
    first = _video(comfy_server, _run_ok(comfy_server, p), p, "T2VZ_SaveGIF")
    before = first.read_bytes()
    p[gid]["inputs"]["fps"] = 2.0  # re-run just the GIF node, same prefix
    second = _video(comfy_server, _run_ok(comfy_server, p), p, "T2VZ_SaveGIF")
    assert second != first and first.read_bytes() == before


def test_users_model_is_untouched_by_a_t2vz_run(comfy_server):
    """A plain KSampler on the same MODEL gives bit-identical images before and after."""
    def plain(prefix):
        p = core_txt2img(batch_size=1, steps=3, seed=99, filename_prefix=prefix)
        entry = _run_ok(comfy_server, p)
        assert "5" not in _cached_nodes(entry)
        files = comfy_server.output_files(entry, node_id="7")
        return np.asarray(Image.open(files[0]))

    before = plain("untouched/before")
    t2v = tiny_api("text2video_step_by_step", seed=4)
    entry = _run_ok(comfy_server, t2v)
    assert "1" in _cached_nodes(entry)  # the very same loaded MODEL object went through the pack
    after = plain("untouched/after")
    assert np.array_equal(before, after)
