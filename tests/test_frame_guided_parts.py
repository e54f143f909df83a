"""Parts of a frame-guided video (Video KSampler, Video Sampler Custom given frame_start /
frame_count): each part takes its own frames' hints, Instruct-Pix2Pix images and noise, and
parts cut on the chunks equal one run of the whole video bit for bit."""
from __future__ import annotations

import pytest
import torch

import comfy.samplers
import nodes
from comfy_extras.nodes_custom_sampler import Guider_DualCFG
from comfy_extras.nodes_ip2p import InstructPixToPixConditioning
from t2vz_core import attention, parts

FRAMES = 6
CHUNK = 2


@pytest.fixture(scope="module")
def tiny(tiny_dog):
    model, pos, neg, *_ = tiny_dog
    return attention.patch_model(model), pos, neg


def _empty(frames=FRAMES):
    return {"samples": torch.zeros(frames, 4, 8, 8)}


def _ksampler(model, conds, chunk_size, latent=None, **frames):
    node = nodes.NODE_CLASS_MAPPINGS["T2VZ_VideoKSampler"]
    with torch.inference_mode():
        return node.execute(model=model, positive=conds[0], negative=conds[1], latent_image=latent or _empty(),
                            seed=3, steps=3, cfg=7.5, sampler_name="euler", scheduler="normal",
                            noise_mode="per frame", chunk_size=chunk_size,
                            denoise=1.0, **frames).result[0]


def _split(chunk_size):
    return [dict(frame_start=p.frame_start, frame_count=p.frame_count) for p in parts.split(FRAMES, 2, chunk_size)]


@pytest.mark.parametrize("chunk_size", [CHUNK, 0])
def test_video_ksampler_parts_with_a_hint_video_equal_one_run(tiny, tiny_controlnet, chunk_size):
    model, pos, neg = tiny
    cn = nodes.ControlNetLoader().load_controlnet(tiny_controlnet.name)[0]
    hints = torch.rand(FRAMES, 64, 64, 3, generator=torch.Generator().manual_seed(5))
    conds = nodes.ControlNetApplyAdvanced().apply_controlnet(pos, neg, cn, hints, 1.0, 0.0, 1.0)[:2]
    whole = _ksampler(model, conds, chunk_size)
    assert set(whole) == {"samples"}  # the whole video: a plain LATENT, as before
    got = [_ksampler(model, conds, chunk_size, **frames) for frames in _split(chunk_size)]
    expected_ids = [[0, 1, 2, 3], [4, 5]] if chunk_size else [[0, 1, 2], [3, 4, 5]]
    assert [g["t2vz_frame_ids"] for g in got] == expected_ids
    joined = torch.cat([g["samples"] for g in got])
    if chunk_size:
        assert torch.equal(joined, whole["samples"])
    else:  # batches of other sizes than the one run's: equal up to float rounding
        assert (joined - whole["samples"]).abs().max() <= 1e-5 * whole["samples"].abs().max()
    # the part follows its own hints: other hints for frames 4, 5 change that part only
    other_hints = torch.cat([hints[:4], hints[4:].flip(0)])
    other = nodes.ControlNetApplyAdvanced().apply_controlnet(pos, neg, cn, other_hints, 1.0, 0.0, 1.0)[:2]
    late = _ksampler(model, other, chunk_size, frame_start=4, frame_count=2)["samples"]
    assert not torch.allclose(late, whole["samples"][4:], rtol=1e-3, atol=1e-3)
    early = _ksampler(model, other, chunk_size, frame_start=0, frame_count=4)["samples"]
    assert torch.allclose(early, whole["samples"][:4], rtol=0, atol=1e-5 * whole["samples"].abs().max().item())


@pytest.mark.parametrize("mask_rows", [FRAMES, 4])
def test_per_frame_noise_masks_follow_the_part(tiny, mask_rows):
    """An inpainting-style video (denoise < 1, a noise mask per frame, or fewer masks that
    ComfyUI repeats over the frames): a part takes its own frames' masks."""
    model, pos, neg = tiny
    g = torch.Generator().manual_seed(9)
    latent = {"samples": torch.randn(FRAMES, 4, 8, 8, generator=g),
              "noise_mask": (torch.rand(mask_rows, 64, 64, generator=g) > 0.5).float()}
    node = nodes.NODE_CLASS_MAPPINGS["T2VZ_VideoKSampler"]

    def run(**frames):
        with torch.inference_mode():
            return node.execute(model=model, positive=pos, negative=neg, latent_image=latent, seed=3, steps=4,
                                cfg=7.5, sampler_name="euler", scheduler="normal", noise_mode="per frame",
                                chunk_size=CHUNK, denoise=0.6, **frames).result[0]["samples"]

    whole = run()
    assert torch.equal(torch.cat([run(**frames) for frames in _split(CHUNK)]), whole)
    # the masks act: frame 4's unmasked pixels keep the input there
    assert not torch.equal(whole[4], latent["samples"][4])


def test_a_whole_videos_latent_from_a_sampler_can_be_split(tiny):
    """A LATENT that a pack sampler made for the whole video (it carries frame ids 0…n−1) is
    cut like a plain one."""
    model, pos, neg = tiny
    plain = _ksampler(model, (pos, neg), CHUNK, frame_start=4, frame_count=2)
    tagged = _ksampler(model, (pos, neg), CHUNK, latent={**_empty(), "t2vz_frame_ids": list(range(FRAMES))},
                       frame_start=4, frame_count=2)
    assert torch.equal(tagged["samples"], plain["samples"]) and tagged["t2vz_frame_ids"] == [4, 5]


def test_video_sampler_custom_parts_of_an_instruct_pix2pix_edit_equal_one_run(tiny_ip2p):
    model, clip, vae = nodes.CheckpointLoaderSimple().load_checkpoint(tiny_ip2p.name)[:3]
    model = attention.patch_model(model)
    enc = nodes.CLIPTextEncode()
    pos, neg = enc.encode(clip, "make it snowy")[0], enc.encode(clip, "")[0]
    pixels = torch.rand(FRAMES, 64, 64, 3, generator=torch.Generator().manual_seed(6))
    ipos, ineg, empty = InstructPixToPixConditioning.execute(pos, neg, pixels, vae).result
    guider = Guider_DualCFG(model)
    guider.set_conds(ipos, ineg, ineg)
    guider.set_cfg(7.5, 1.5)
    sampler = comfy.samplers.sampler_object("euler")
    from t2vz_core import sampling
    sigmas = sampling.schedule(model, 3, "euler", "normal")
    node = nodes.NODE_CLASS_MAPPINGS["T2VZ_VideoSamplerCustom"]

    def run(**frames):
        with torch.inference_mode():
            return node.execute(guider=guider, sampler=sampler, sigmas=sigmas, latent_image=empty, seed=2,
                                noise_mode="shared (same noise for every frame)", chunk_size=CHUNK,
                                **frames).result[0]["samples"]

    whole = run()
    assert torch.equal(torch.cat([run(**frames) for frames in _split(CHUNK)]), whole)


@pytest.mark.parametrize("frames,needle", [
    (dict(frame_start=6), r"frame_start \(6\) is beyond latent_image's 6 frames \(the last is frame 5\)"),
    (dict(frame_start=4, frame_count=3), r"frame_start \(4\) \+ frame_count \(3\) goes beyond latent_image's 6 frames"),
])
def test_a_frame_range_beyond_the_latent_is_refused(tiny, frames, needle):
    model, pos, neg = tiny
    with pytest.raises(ValueError, match=rf"Video KSampler \(T2VZ_VideoKSampler\): {needle}"):
        _ksampler(model, (pos, neg), CHUNK, **frames)


def test_a_latent_that_is_not_one_image_per_frame_is_refused(tiny):
    model, pos, neg = tiny
    with pytest.raises(ValueError, match=r"latent_image must be a batch of image latents, one per frame; got shape "
                                         r"\(1, 4, 6, 8, 8\)"):
        _ksampler(model, (pos, neg), CHUNK, latent={"samples": torch.zeros(1, 4, 6, 8, 8)}, frame_start=2)


def test_a_parts_latent_cannot_be_split_again(tiny):
    model, pos, neg = tiny
    part = _ksampler(model, (pos, neg), CHUNK, frame_start=4, frame_count=2)
    with pytest.raises(ValueError, match="latent_image already holds part of a video"):
        _ksampler(model, (pos, neg), CHUNK, latent=part, frame_start=1)
