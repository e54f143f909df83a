"""Chunked sampling: the same video for every chunk size, frame 0 once per model
evaluation, per-frame conditioning (ControlNet hints, InstructPix2Pix latents) sliced per
chunk, and parts of a long video made in separate runs."""
from __future__ import annotations

import pytest
import torch

import comfy.controlnet
import comfy.model_management
import comfy.samplers
import nodes
from comfy_extras.nodes_custom_sampler import Guider_DualCFG
from t2vz_core import attention, chunking, parts, request as treq, sampling
from t2vz_core.problem import UserError

# Tolerance for chunked vs unchunked: the math is the same (a frame's self-attention only
# reads itself and frame 0), but the matrix products run on batches of another size, so
# float32 results may differ in the last bits; the random-weight UNet's latents are O(50).
REL_TOL = 1e-5

FRAMES = 7
STEPS = 4


@pytest.fixture(scope="module")
def tiny(tiny_dog):
    model, pos, neg, cat, vae = tiny_dog
    return attention.patch_model(model), pos, neg, cat, vae, model


def _video_latent(seed=0, frames=FRAMES):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(frames, 4, 8, 8, generator=g) * 10


def _sigmas(model):
    return sampling.schedule(model, STEPS, "euler", "normal")


def _chunked(model, chunk_size, frames=FRAMES, on_chunk=None):
    return chunking.apply(model, chunking.ChunkPlan.make(frames, chunk_size), on_chunk)


def _run(model, guider_kind, latent, conds, chunk_size, cfg=7.5):
    m = _chunked(model, chunk_size, latent.shape[0]) if chunk_size else model
    sig = _sigmas(model)
    if guider_kind == "dual":
        g = Guider_DualCFG(m)
        g.set_conds(*conds)
        g.set_cfg(cfg, 1.5)
    else:
        g = comfy.samplers.CFGGuider(m)
        g.set_conds(*conds)
        g.set_cfg(1.0 if guider_kind == "1group" else cfg)
    with torch.inference_mode():
        return g.sample(torch.zeros_like(latent), latent, comfy.samplers.sampler_object("euler"), sig, seed=1)


def _close(a, b):
    return (a - b).abs().max().item() <= REL_TOL * b.abs().max().item()


@pytest.mark.parametrize("groups", ["1group", "2groups", "dual"])
def test_chunked_equals_unchunked(tiny, groups):
    model, pos, neg, mid, *_ = tiny
    conds = (pos, mid, neg) if groups == "dual" else (pos, neg)
    lat = _video_latent()
    whole = _run(model, groups, lat, conds, 0)
    for chunk in (2, 3, 4, 8):
        part = _run(model, groups, lat, conds, chunk)
        assert _close(part, whole), f"chunk {chunk}: {(part - whole).abs().max()}"
    # and it is not trivially equal: without cross-frame attention the result differs
    plain = _run(tiny[5], groups, lat, conds, 0)
    assert not _close(plain, whole)


def test_frame_zero_runs_once_per_evaluation(tiny):
    """Count the frames every UNet call sees: chunking must not re-run frame 0."""
    model, pos, neg, *_ = tiny

    def counted(chunk):
        calls = []
        m = _chunked(model, chunk)

        def wrapper(apply_model, args):
            calls.append((args["input"].shape[0], list(args["cond_or_uncond"])))
            return apply_model(args["input"], args["timestep"], **args["c"])

        m.set_model_unet_function_wrapper(wrapper)
        _run(m, "2groups", _video_latent(), (pos, neg), 0)
        return calls

    whole, chunked = counted(0), counted(3)
    rows = lambda calls: sum(b for b, _ in calls)  # noqa: E731
    assert rows(chunked) == rows(whole) == STEPS * FRAMES * 2  # every frame once per step, per group
    assert len(chunked) >= 3 * len(whole)  # ... in three chunks (7 frames, chunk 3)
    assert max(b for b, _ in chunked) <= 3 * 2


def test_anchor_store_is_filled_by_the_first_chunk_and_read_by_the_rest(tiny, monkeypatch):
    """Per evaluation: the chunk holding frame 0 records one anchor per block and guidance
    group; every later chunk reads all of them, and nothing else is recorded."""
    model, pos, neg, *_ = tiny
    blocks = len(attention.transformer_block_keys(attention.unet_of(model)))
    puts, gets, alive = [], [], []  # alive: keeps each store, so that no two share an id()
    real_put, real_get = attention.AnchorStore.put, attention.AnchorStore.get

    def put(self, block, cou, context, value):
        alive.append(self)
        puts.append((id(self), block, tuple(cou), context.shape[0]))
        return real_put(self, block, cou, context, value)

    def get(self, block, cou):
        alive.append(self)
        gets.append((id(self), block, tuple(cou)))
        return real_get(self, block, cou)

    monkeypatch.setattr(attention.AnchorStore, "put", put)
    monkeypatch.setattr(attention.AnchorStore, "get", get)
    _run(model, "2groups", _video_latent(), (pos, neg), 3)  # 7 frames: chunks [0,1,2] [3,4,5] [6]
    stores = {s for s, *_ in puts}
    assert len(stores) == STEPS  # a fresh store per model evaluation (one per step with euler)
    for store in stores:
        recorded = [(b, cou) for s, b, cou, _ in puts if s == store]
        read = [(b, cou) for s, b, cou in gets if s == store]
        assert len(recorded) == len(set(recorded)) == blocks  # each block once (cond and uncond together)
        assert len(read) == 2 * blocks and set(read) == set(recorded)  # both later chunks read every block
    assert {n for *_, n in puts} == {2}  # one anchor row per guidance group


class SizeCachedControlNet(comfy.controlnet.ControlNet):
    """A stand-in for the ControlNet of newer ComfyUI (0.38.1), written from reading its
    ``get_control``: prepared hints are kept per latent size in ``cond_hints`` and reused
    whenever that size comes back, ``cond_hint`` is never read, and ``set_cond_hint()`` and
    ``cleanup()`` empty the cache. Everything else is 0.3.75's ControlNet. ``log`` records
    the copies and clean-ups made while it is set."""

    log: list | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cond_hints = {}
        self.multigpu_clones = {}  # per extra GPU, filled by core's multi-GPU preparation there

    @classmethod
    def of(cls, control):
        c = cls(None, global_average_pooling=control.global_average_pooling, load_device=control.load_device,
                manual_cast_dtype=control.manual_cast_dtype)
        c.control_model, c.control_model_wrapped = control.control_model, control.control_model_wrapped
        control.copy_to(c)
        return c

    def set_cond_hint(self, *args, **kwargs):
        self.cond_hints = {}
        return super().set_cond_hint(*args, **kwargs)

    def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
        size = tuple(x_noisy.shape[2:4])
        self.cond_hint = self.cond_hints.get(size)  # None: prepared from cond_hint_original, as there
        try:
            return super().get_control(x_noisy, t, cond, batched_number, transformer_options)
        finally:
            if self.cond_hint is not None:
                self.cond_hints[size] = self.cond_hint
            self.cond_hint = None

    def copy(self):
        c = SizeCachedControlNet.of(self)
        if SizeCachedControlNet.log is not None:
            SizeCachedControlNet.log.append(("copy", c))  # the object: alive, its id() stays unique
        return c

    def cleanup(self):
        if SizeCachedControlNet.log is not None:
            SizeCachedControlNet.log.append(("cleanup", self))
        self.cond_hints = {}
        super().cleanup()


CONTROLNET_KINDS = ["0.3.75", "cached per size (0.38.1)"]


def _control_net(tiny_controlnet, kind):
    cn = nodes.ControlNetLoader().load_controlnet(tiny_controlnet.name)[0]
    return cn if kind == CONTROLNET_KINDS[0] else SizeCachedControlNet.of(cn)


@pytest.mark.parametrize("kind", CONTROLNET_KINDS)
def test_controlnet_hints_are_sliced_per_chunk(tiny, tiny_controlnet, kind):
    """Core's context windows hand every window the first hints; we give each chunk its own,
    whether the ControlNet re-prepares its hints (0.3.75) or caches them per latent size
    (newer ComfyUI). 7 frames in chunks of 3: the last chunk holds one frame."""
    model, pos, neg, *_ = tiny
    cn = _control_net(tiny_controlnet, kind)
    g = torch.Generator().manual_seed(5)
    hints = torch.rand(FRAMES, 64, 64, 3, generator=g)
    apply = nodes.ControlNetApplyAdvanced()
    cpos, cneg = apply.apply_controlnet(pos, neg, cn, hints, 1.0, 0.0, 1.0)
    lat = _video_latent()
    whole = _run(model, "2groups", lat, (cpos, cneg), 0)
    part = _run(model, "2groups", lat, (cpos, cneg), 3)
    assert _close(part, whole)
    # the hints matter frame by frame: shuffling the later hints changes the later frames,
    # and the one-frame last chunk follows its own hint
    shuffled = torch.cat([hints[:1], hints[1:].flip(0)])
    spos, sneg = apply.apply_controlnet(pos, neg, cn, shuffled, 1.0, 0.0, 1.0)
    other = _run(model, "2groups", lat, (spos, sneg), 3)
    assert _close(other[0], whole[0]) and not _close(other[1:], whole[1:])
    assert not _close(other[6], whole[6])


def test_chunk_controls_are_made_once_per_run_and_cleaned_up(tiny, tiny_controlnet):
    """One copy of the control per chunk for the whole run (not per step), each cleaned up
    when the run ends; the user's control is left as it was."""
    model, pos, neg, *_ = tiny
    cn = _control_net(tiny_controlnet, CONTROLNET_KINDS[1])
    hints = torch.rand(FRAMES, 64, 64, 3, generator=torch.Generator().manual_seed(7))
    cpos, cneg = nodes.ControlNetApplyAdvanced().apply_controlnet(pos, neg, cn, hints, 1.0, 0.0, 1.0)
    user_control = cpos[0][1]["control"]
    SizeCachedControlNet.log = log = []
    try:
        _run(model, "2groups", _video_latent(), (cpos, cneg), 3)
    finally:
        SizeCachedControlNet.log = None
    copies = [id(c) for what, c in log if what == "copy"]
    cleaned = [id(c) for what, c in log if what == "cleanup"]
    assert len(copies) == 3  # 3 chunks, STEPS evaluations each
    assert set(copies) <= set(cleaned)
    assert user_control.cond_hint_original.shape[0] == FRAMES and user_control.cond_hints == {}


def test_chunk_copies_follow_the_chain_and_the_per_gpu_clones(tiny, tiny_controlnet):
    """A chunk's copy slices every per-frame control of the chain, and, where newer ComfyUI
    keeps a clone of the control per extra GPU (``multigpu_clones``, read through
    ``get_instance_for_device``), holds the chunk's copy of each; made once per run."""
    base = tiny[0].model
    cn = _control_net(tiny_controlnet, CONTROLNET_KINDS[1])
    hints = torch.rand(FRAMES, 3, 64, 64, generator=torch.Generator().manual_seed(8))
    head = cn.copy().set_cond_hint(hints).set_previous_controlnet(cn.copy().set_cond_hint(hints.flip(0)))
    other_gpu = torch.device("meta")
    head.multigpu_clones[other_gpu] = head.copy().set_previous_controlnet(head.previous_controlnet.copy())
    controls = chunking.ChunkControls()
    chunk = [3, 4, 5]
    c = controls.for_chunk(head, chunk, FRAMES, base)
    assert controls.for_chunk(head, chunk, FRAMES, base) is c and len(controls) == 1
    for copy in (c, c.multigpu_clones[other_gpu]):
        assert copy is not head and copy is not head.multigpu_clones[other_gpu]
        assert torch.equal(copy.cond_hint_original, hints[chunk])
        assert torch.equal(copy.previous_controlnet.cond_hint_original, hints.flip(0)[chunk])
        assert copy.timestep_range is not None  # prepared like core prepares the originals
    assert head.cond_hint_original.shape[0] == FRAMES  # the run's own control is untouched
    single = cn.copy().set_cond_hint(hints[:1])
    assert controls.for_chunk(single, chunk, FRAMES, base) is single  # nothing to slice
    controls.cleanup()
    assert len(controls) == 0 and c.timestep_range is None


def test_a_model_with_core_context_windows_is_refused(tiny):
    from comfy_extras.nodes_context_windows import ContextWindowsManualNode
    model = tiny[0]
    windowed = ContextWindowsManualNode.execute(model, 4, 1, "standard_static", 1, False, "pyramid", 0).result[0]
    with pytest.raises(UserError, match=r"Context Windows \(ContextWindowsManual\)") as err:
        chunking.apply(windowed, chunking.ChunkPlan.make(FRAMES, 3))
    assert "chunk_size" in str(err.value)
    chunking.apply(model, chunking.ChunkPlan.make(FRAMES, 3))  # ours twice is fine


def test_the_handler_carries_what_newer_core_context_window_code_reads():
    """Newer ComfyUI reads ``dim``, ``context_length``, ``context_overlap`` and ``freenoise``
    from a model's context handler (0.38.1's context_windows.py): ours says one chunk of frames
    along the batch, no overlap, no noise shuffling. (Core's Context Windows node itself is
    refused with cross-frame attention: tests/test_audit.py.)"""
    handler = chunking.handler_class()(chunking.ChunkPlan.make(7, 3))
    assert (handler.dim, handler.context_length, handler.context_overlap, handler.freenoise) == (0, 3, 0, False)


def test_ip2p_concat_latents_are_sliced_per_chunk(tiny_ip2p):
    model, clip, vae = nodes.CheckpointLoaderSimple().load_checkpoint(tiny_ip2p.name)[:3]
    model = attention.patch_model(model)
    enc = nodes.CLIPTextEncode()
    pos, neg = enc.encode(clip, "make it snowy")[0], enc.encode(clip, "")[0]
    from comfy_extras.nodes_ip2p import InstructPixToPixConditioning
    g = torch.Generator().manual_seed(6)
    pixels = torch.rand(FRAMES, 64, 64, 3, generator=g)
    ipos, ineg, empty = InstructPixToPixConditioning.execute(pos, neg, pixels, vae).result
    lat = _video_latent()
    whole = _run(model, "dual", lat, (ipos, ineg, ineg), 0)
    part = _run(model, "dual", lat, (ipos, ineg, ineg), 4)
    assert _close(part, whole)


def test_parts_of_a_long_video_match_one_long_run(tiny):
    model, pos, neg, *_ = tiny
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]

    def run(**over):
        args = dict(seed=4, steps=6, cfg=7.5, sampler_name="ddim", scheduler="ddim_uniform", width=64, height=64,
                    video_length=9, motion_field_strength_x=8.0, motion_field_strength_y=0.0, t0=44, t1=47,
                    chunk_size=4, use_cf_attn=False)
        args.update(over)
        with torch.inference_mode():
            return sampler.execute(model=model, positive=pos, negative=neg, **args).result[0]

    whole = run()["samples"]
    # cut on the chunks of 4 (as Frame Part cuts): every model call is one of the one run's
    got = [run(frame_start=p.frame_start, frame_count=p.frame_count) for p in parts.split(9, 3, 4)]
    assert [g["t2vz_frame_ids"] for g in got] == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]
    assert torch.equal(torch.cat([g["samples"] for g in got]), whole)
    # cut inside a chunk: the same frames up to float rounding
    a = run(frame_start=3, frame_count=3)
    assert a["samples"].shape[0] == 3 and a["t2vz_frame_ids"] == [3, 4, 5]
    assert _close(a["samples"], whole[3:6])


def test_step_by_step_parts_equal_one_run_bit_for_bit(tiny):
    """Motion-Field Latent Init (with the Video Sampler's chunk_size) + Video Sampler: parts cut on
    the chunks equal one run of the whole video bit for bit. With Init's chunk_size left at its
    default (8, not the Video Sampler's 3) the part is the same up to float rounding."""
    model, pos, neg, *_ = tiny
    init, video = nodes.NODE_CLASS_MAPPINGS["T2VZ_MotionFieldLatentInit"], nodes.NODE_CLASS_MAPPINGS["T2VZ_VideoSampler"]
    common = dict(model=model, positive=pos, negative=neg, seed=5, cfg=7.5, sampler_name="euler")

    def run(init_chunk=None, **frames):
        extra = {} if init_chunk is None else {"chunk_size": init_chunk}
        with torch.inference_mode():
            latent, sigmas = init.execute(steps=6, scheduler="normal", width=64, height=64, video_length=7,
                                          motion_field_strength_x=8.0, motion_field_strength_y=4.0, t0=44, t1=47,
                                          **common, **frames, **extra).result
            return video.execute(latent=latent, sigmas=sigmas, chunk_size=3, **common).result[0]

    whole = run(3)["samples"]
    got = [run(3, frame_start=p.frame_start, frame_count=p.frame_count) for p in parts.split(7, 2, 3)]
    assert [g["t2vz_frame_ids"] for g in got] == [[0, 1, 2, 3, 4, 5], [6]]
    assert torch.equal(torch.cat([g["samples"] for g in got]), whole)
    assert _close(run(frame_start=3, frame_count=3)["samples"], whole[3:6])


@pytest.mark.parametrize("kind", CONTROLNET_KINDS)
def test_parts_with_per_frame_controlnet_hints_match_one_run(tiny, tiny_controlnet, kind):
    """A ControlNet given the whole hint video (one image per frame): every part takes its
    own frames' hints (core would give a part's batch the first images), so parts cut on the
    chunks equal one run bit for bit; the user's ControlNet keeps all its hints."""
    model, pos, neg, *_ = tiny
    cn = _control_net(tiny_controlnet, kind)
    hints = torch.rand(6, 64, 64, 3, generator=torch.Generator().manual_seed(5))
    apply = nodes.ControlNetApplyAdvanced()
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]

    def run(conds, chunk_size, **frames):
        with torch.inference_mode():
            return sampler.execute(model=model, positive=conds[0], negative=conds[1], seed=4, steps=3, cfg=7.5,
                                   sampler_name="euler", scheduler="normal", width=64, height=64, video_length=6,
                                   motion_field_strength_x=8.0, motion_field_strength_y=0.0, t0=44, t1=47,
                                   chunk_size=chunk_size, **frames).result[0]["samples"]

    conds = apply.apply_controlnet(pos, neg, cn, hints, 1.0, 0.0, 1.0)[:2]
    user_control = conds[0][0][1]["control"]
    for chunk_size in (2, 0):
        whole = run(conds, chunk_size)
        got = torch.cat([run(conds, chunk_size, frame_start=p.frame_start, frame_count=p.frame_count)
                         for p in parts.split(6, 2, chunk_size)])
        if chunk_size:
            assert torch.equal(got, whole)
        else:  # batches of other sizes than the one run's: the same up to float rounding
            assert _close(got, whole)
    assert user_control.cond_hint_original.shape[0] == 6
    # the hints act frame by frame: other hints for frames 4, 5 change only the part that has them
    other = apply.apply_controlnet(pos, neg, cn, torch.cat([hints[:4], hints[4:].flip(0)]), 1.0, 0.0, 1.0)[:2]
    late = run(other, 2, frame_start=4, frame_count=2)
    assert not _close(late, whole[4:]) and torch.equal(run(other, 2, frame_start=0, frame_count=4), whole[:4])


def test_the_text_sampler_takes_a_cross_frame_controlnet_with_a_hint_video(tiny, tiny_controlnet):
    """Frame 0's phase (frame 0 alone) is given hint 0 explicitly: the Cross-Frame ControlNet,
    which refuses a hint count other than 1 or the batch's frames, works on the Text2Video-Zero
    Sampler too, and its parts equal one run."""
    from t2vz_core import controlnet
    model, pos, neg, *_ = tiny
    cn = controlnet.cross_frame_controlnet(_control_net(tiny_controlnet, CONTROLNET_KINDS[0]))
    hints = torch.rand(6, 64, 64, 3, generator=torch.Generator().manual_seed(5))
    cpos, cneg = nodes.ControlNetApplyAdvanced().apply_controlnet(pos, neg, cn, hints, 1.0, 0.0, 1.0)[:2]
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]

    def run(p, n, **frames):
        with torch.inference_mode():
            return sampler.execute(model=model, positive=p, negative=n, seed=4, steps=3, cfg=7.5, sampler_name="euler",
                                   scheduler="normal", width=64, height=64, video_length=6, motion_field_strength_x=8.0,
                                   motion_field_strength_y=0.0, t0=44, t1=47, chunk_size=2, **frames).result[0]["samples"]

    whole = run(cpos, cneg)
    assert not _close(whole, run(pos, neg))  # the hints act
    assert torch.equal(torch.cat([run(cpos, cneg, frame_start=0, frame_count=4),
                                  run(cpos, cneg, frame_start=4, frame_count=2)]), whole)


def test_a_part_with_another_number_of_hint_images_is_refused(tiny, tiny_controlnet):
    model, pos, neg, *_ = tiny
    cn = _control_net(tiny_controlnet, CONTROLNET_KINDS[0])
    hints = torch.rand(4, 64, 64, 3, generator=torch.Generator().manual_seed(5))
    cpos, cneg = nodes.ControlNetApplyAdvanced().apply_controlnet(pos, neg, cn, hints, 1.0, 0.0, 1.0)[:2]
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]
    with pytest.raises(ValueError, match=r"positive: a ControlNet has 4 hint images for a 6-frame video; .*one hint "
                                        r"image per frame of the whole video \(6\)"):
        with torch.inference_mode():
            sampler.execute(model=model, positive=cpos, negative=cneg, seed=4, steps=3, cfg=7.5, sampler_name="euler",
                            scheduler="normal", width=64, height=64, video_length=6, motion_field_strength_x=8.0,
                            motion_field_strength_y=0.0, t0=44, t1=47, chunk_size=2, frame_start=4, frame_count=2)


@pytest.mark.parametrize("frames,chunk,expected", [
    (7, 0, [[0, 1, 2, 3, 4, 5, 6]]),
    (7, 3, [[0, 1, 2], [3, 4, 5], [6]]),
    (7, 7, [[0, 1, 2, 3, 4, 5, 6]]),
    (7, 50, [[0, 1, 2, 3, 4, 5, 6]]),
    (4, 2, [[0, 1], [2, 3]]),
])
def test_plan(frames, chunk, expected):
    plan = chunking.ChunkPlan.make(frames, chunk)
    assert [list(c) for c in plan.chunks] == expected
    assert plan.chunked == (len(expected) > 1)


@pytest.mark.parametrize("fields,input_name,needle", [
    (dict(video_length=10, frame_start=10, frame_count=0), "frame_start", "frame_start (10) is beyond the video"),
    (dict(video_length=10, frame_start=8, frame_count=4), "frame_count",
     "frame_start (8) + frame_count (4) goes beyond video_length (10)"),
    (dict(video_length=10, frame_start=-1, frame_count=0), "frame_start", "must be between 0 and 100000"),
    (dict(video_length=5000), "video_length", "video_length (5000) must be between 1 and 4096"),
    (dict(chunk_size=100000), "chunk_size", "chunk_size (100000) must be between 0 and 4096"),
])
def test_frame_selection_errors(fields, input_name, needle):
    problem = treq.find_problem(**fields)
    assert problem.input == input_name and needle in problem.message
    with pytest.raises(ValueError, match=input_name):
        treq.VideoRequest(**fields).checked()


def test_frame_selection_puts_the_anchor_first():
    assert treq.VideoRequest(video_length=9).frames.ids == tuple(range(9))
    # a part of a chunked video also samples frame 0's chunk (and drops it), so the model sees
    # the batches of one run of the whole video
    part = treq.VideoRequest(video_length=20, frame_start=12, frame_count=3, chunk_size=4).frames
    assert part.ids == (0, 1, 2, 3, 12, 13, 14) and part.output_ids == (12, 13, 14) and part.anchor_only == 4
    inside = treq.VideoRequest(video_length=9, frame_start=3, frame_count=3).frames  # chunk 8: frames 0-7
    assert inside.ids == tuple(range(8)) and inside.output_ids == (3, 4, 5)
    # an unchunked video (chunk_size 0, or not smaller than the video): frame 0 alone
    for size in (0, 9):
        alone = treq.VideoRequest(video_length=9, frame_start=6, chunk_size=size).frames
        assert alone.ids == (0, 6, 7, 8) and alone.output_ids == (6, 7, 8)


def test_chunk_plan_follows_the_videos_chunks_by_frame_id():
    plan = treq.VideoRequest(video_length=20, chunk_size=4).chunk_plan([0, 1, 2, 3, 12, 13, 14])
    assert plan.chunks == ((0, 1, 2, 3), (4, 5, 6))  # positions: frame 0's chunk, then frames 12-14
    assert chunking.ChunkPlan.of([0, 5, 6, 7, 8], 4).chunks == ((0,), (1, 2, 3), (4,))
    assert chunking.ChunkPlan.make(7, 3).chunks == ((0, 1, 2), (3, 4, 5), (6,))
    assert chunking.ChunkPlan.of(range(5), 0).chunks == ((0, 1, 2, 3, 4),)


def test_chunk_size_one_is_refused():
    assert "chunk_size (1) must be 0" in chunking.check_chunk_size(1)
    assert treq.find_problem(chunk_size=1).input == "chunk_size"
    with pytest.raises(ValueError):
        chunking.ChunkPlan.make(5, 1)


def test_interrupt_stops_between_chunks(tiny):
    model, pos, neg, *_ = tiny
    seen = []

    def on_chunk():
        seen.append(1)
        if len(seen) == 2:
            comfy.model_management.interrupt_current_processing(True)

    m = _chunked(model, 2, on_chunk=on_chunk)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            _run(m, "2groups", _video_latent(), (pos, neg), 0)
    finally:
        comfy.model_management.interrupt_current_processing(False)
    assert len(seen) == 2  # the third chunk never started
