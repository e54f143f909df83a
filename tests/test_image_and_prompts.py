"""A user's image as frame 0, and per-frame conditioning rows picked by global frame id
(issue 13, parts 2 and 3), through the pack's nodes in-process on the tiny checkpoint."""
from __future__ import annotations

import pytest
import torch

import nodes
from t2vz_core import motion, noise

STEPS = 8
SHAPE = (4, 8, 8)  # 64×64 pixels


@pytest.fixture(scope="module")
def tiny(tiny_ckpt):
    model, clip, vae = nodes.CheckpointLoaderSimple().load_checkpoint(tiny_ckpt.name)[:3]
    enc = nodes.CLIPTextEncode()
    texts = {t: enc.encode(clip, t)[0] for t in ("a red fox", "blurry", "a blue bird", "a green frog",
                                                 "a yellow cat", "a black dog", "a white horse")}
    return model, texts


def _image_latent(seed=7):
    g = torch.Generator().manual_seed(seed)
    return {"samples": torch.randn(1, *SHAPE, generator=g) * 3}


def _args(**over):
    args = dict(seed=3, steps=STEPS, cfg=7.5, sampler_name="ddim", scheduler="ddim_uniform", width=64, height=64,
                video_length=4, motion_field_strength_x=12.0, motion_field_strength_y=6.0, t0=44, t1=47,
                chunk_size=0)
    args.update(over)
    return args


def _video(model, pos, neg, **over):
    with torch.inference_mode():
        out = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"].execute(model=model, positive=pos, negative=neg,
                                                                **_args(**over))
    return out.result[0]


def _close(a, b, rel=1e-5):
    return (a - b).abs().max().item() <= rel * b.abs().max().item()


# -- image to video -----------------------------------------------------------------------------

@pytest.mark.parametrize("sampler", ["ddim", "euler", "dpmpp_2m"])
def test_pinned_frame_0_is_the_image_bit_for_bit(tiny, sampler):
    model, t = tiny
    image = _image_latent()
    out = _video(model, t["a red fox"], t["blurry"], first_frame=image, sampler_name=sampler,
                 scheduler="normal" if sampler != "ddim" else "ddim_uniform")["samples"]
    assert torch.equal(out[0], image["samples"][0])
    assert not torch.equal(out[1], image["samples"][0])  # the others are denoised


def test_other_frames_start_from_the_image_moved_and_renoised(tiny):
    model, t = tiny
    image = _image_latent()
    init = nodes.NODE_CLASS_MAPPINGS["T2VZ_MotionFieldLatentInit"]
    args = _args(image_strength=0.5)
    del args["chunk_size"]
    with torch.inference_mode():
        latent, sigmas_tail = init.execute(model=model, positive=t["a red fox"], negative=t["blurry"],
                                           first_frame=image, **args).result
    from t2vz_core import sampling
    sigmas = sampling.schedule(model, STEPS, "ddim", "ddim_uniform")  # the schedule a KSampler runs
    k1 = round(0.5 * STEPS)  # image_strength places T1; T0 keeps t0/t1's gap in steps
    k0 = min(k1 + max(1, _gap()), STEPS - 1)
    assert torch.equal(sigmas_tail, sigmas[k1:])
    lf = model.get_model_object("latent_format")
    eps0 = noise.first_frame_noise(3, SHAPE)
    m_t0 = lf.process_in(image["samples"]) + float(sigmas[k0]) * eps0
    moved = motion.warp_latents(m_t0.repeat(3, 1, 1, 1), 12.0, 6.0, [1, 2, 3])
    eps = noise.frame_noise(3, [1, 2, 3], SHAPE, noise.STREAM_RENOISE)
    expected = lf.process_out(moved + (float(sigmas[k1]) ** 2 - float(sigmas[k0]) ** 2) ** 0.5 * eps)
    assert _close(latent["samples"][1:], expected, 1e-6)
    assert torch.equal(latent["samples"][0], image["samples"][0])  # frame 0: the clean image, noised by the sampler


def _gap():
    from t2vz_core import timing
    tm = timing.resolve(STEPS, 44, 47, timing.REL_50)
    return tm.k0 - tm.k1


def test_image_video_chunked_equals_unchunked_and_parts_equal_one_run(tiny):
    model, t = tiny
    image = _image_latent()
    kw = dict(first_frame=image, video_length=7)
    whole = _video(model, t["a red fox"], t["blurry"], **kw)["samples"]
    chunked = _video(model, t["a red fox"], t["blurry"], chunk_size=3, **kw)["samples"]
    assert _close(chunked, whole)
    part = _video(model, t["a red fox"], t["blurry"], frame_start=4, frame_count=3, chunk_size=2, **kw)
    assert part["t2vz_frame_ids"] == [4, 5, 6]
    assert _close(part["samples"], whole[4:7])


def test_free_frame_0_is_ksampler_advanced_started_at_the_same_step(tiny):
    model, t = tiny
    image = _image_latent()
    out = _video(model, t["a red fox"], t["blurry"], first_frame=image, first_frame_mode="free",
                 sampler_name="euler", scheduler="normal", image_strength=0.5)["samples"]
    with torch.inference_mode():
        ref = nodes.KSamplerAdvanced().sample(model, "enable", 3, STEPS, 7.5, "euler", "normal", t["a red fox"],
                                              t["blurry"], image, round(0.5 * STEPS), 10000, "disable")[0]["samples"]
    # frame 0 attends only to itself, so it is the single image's run (batched matmuls: last bits)
    assert _close(out[0], ref[0], 1e-4)
    assert not torch.equal(out[0], image["samples"][0])


def test_refine_releases_frame_0_late(tiny):
    model, t = tiny
    image = _image_latent()
    pinned = _video(model, t["a red fox"], t["blurry"], first_frame=image)["samples"]
    refined = _video(model, t["a red fox"], t["blurry"], first_frame=image, first_frame_mode="refine",
                     first_frame_release=0.5)["samples"]
    free = _video(model, t["a red fox"], t["blurry"], first_frame=image, first_frame_mode="free")["samples"]
    d_refine = (refined[0] - image["samples"][0]).abs().mean()
    d_free = (free[0] - image["samples"][0]).abs().mean()
    assert torch.equal(pinned[0], image["samples"][0])
    assert 0 < d_refine < d_free  # released for the last steps only: closer to the image than free


def test_an_image_of_another_size_is_a_clear_error(tiny):
    model, t = tiny
    wrong = {"samples": torch.zeros(1, 4, 12, 8)}
    with pytest.raises(ValueError, match=r"first_frame: the image latent is 8×12 .* the video's is 8×8"):
        _video(model, t["a red fox"], t["blurry"], first_frame=wrong)


# -- per-frame conditioning -----------------------------------------------------------------------

def _rows(t, texts):
    """One conditioning row per frame, as prompt-schedule nodes give it."""
    return [[torch.cat([t[x][0][0] for x in texts]), {k: v for k, v in t[texts[0]][0][1].items()
                                                        if k != "pooled_output"}]]


PROMPTS = ["a red fox", "a blue bird", "a green frog", "a yellow cat", "a black dog"]


def test_a_frames_row_changes_that_frame_only(tiny):
    model, t = tiny
    base = _video(model, _rows(t, PROMPTS), t["blurry"], video_length=5)["samples"]
    changed = list(PROMPTS)
    changed[3] = "a white horse"
    other = _video(model, _rows(t, changed), t["blurry"], video_length=5)["samples"]
    assert not torch.equal(other[3], base[3])
    for k in (0, 1, 2, 4):
        assert torch.equal(other[k], base[k]), k
    first = ["a white horse"] + PROMPTS[1:]
    moved = _video(model, _rows(t, first), t["blurry"], video_length=5)["samples"]
    assert all(not torch.equal(moved[k], base[k]) for k in range(5))  # frame 0 is everyone's anchor


def test_rows_follow_global_frame_ids_in_chunks_and_parts(tiny):
    model, t = tiny
    rows = _rows(t, PROMPTS)
    whole = _video(model, rows, t["blurry"], video_length=5)["samples"]
    assert _close(_video(model, rows, t["blurry"], video_length=5, chunk_size=2)["samples"], whole)
    part = _video(model, rows, t["blurry"], video_length=5, frame_start=3, chunk_size=2)["samples"]
    assert _close(part, whole[3:])
    # frame 0's phase uses row 0: the same as a one-row prompt of row 0's text
    single = _video(model, t["a red fox"], t["blurry"], video_length=1)["samples"]
    assert _close(whole[0], single[0], 1e-4)


def test_a_row_count_that_is_not_the_video_length_is_refused(tiny):
    model, t = tiny
    with pytest.raises(ValueError, match=r"positive: the conditioning has 5 rows .* for a 4-frame video"):
        _video(model, _rows(t, PROMPTS), t["blurry"], video_length=4)
