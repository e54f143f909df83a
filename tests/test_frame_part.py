"""Frame Part (T2VZ): the balanced contiguous split of a video's frames into parts."""
from __future__ import annotations

import pytest

import nodes
from t2vz_core import parts


@pytest.mark.parametrize("length", [1, 2, 3, 5, 7, 8, 10, 13, 48, 100, 601, 4096])
def test_every_frame_is_in_exactly_one_part_and_parts_are_balanced(length):
    for count in sorted({1, 2, 3, 4, 5, 7, 16, length // 2 or 1, length - 1 or 1, length}):
        if count > length:
            continue
        split = parts.split(length, count)
        covered = [f for p in split for f in range(p.frame_start, p.frame_start + p.frame_count)]
        assert covered == list(range(length)), (length, count)  # contiguous, in order, each frame once
        sizes = [p.frame_count for p in split]
        assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1, (length, count, sizes)
        assert sizes == sorted(sizes, reverse=True)  # the longer parts first
        assert [p.index for p in split] == list(range(count))
        for p in split:
            assert parts.part(length, count, p.index) == p


def test_a_known_split():
    assert [(p.frame_start, p.frame_count) for p in parts.split(10, 4)] == [(0, 3), (3, 3), (6, 2), (8, 2)]


@pytest.mark.parametrize("length,chunk", [(9, 4), (24, 8), (25, 8), (48, 8), (601, 8), (100, 7), (5, 2), (16, 16)])
def test_parts_of_a_chunked_video_are_whole_chunks(length, chunk):
    chunks = -(-length // chunk)
    for count in sorted({1, 2, 3, chunks // 2 or 1, chunks}):
        if count > chunks:
            continue
        split = parts.split(length, count, chunk)
        covered = [f for p in split for f in range(p.frame_start, p.frame_end)]
        assert covered == list(range(length)), (length, chunk, count)
        if chunk < length:
            assert all(p.frame_start % chunk == 0 for p in split)  # every part starts a chunk ...
            per_part = [-(-p.frame_count // chunk) for p in split]
            assert max(per_part) - min(per_part) <= 1 and per_part == sorted(per_part, reverse=True)
        else:  # a video of one chunk is not chunked: frames are split evenly
            assert split == parts.split(length, count)
        for p in split:
            assert parts.part(length, count, p.index, chunk) == p


def test_more_parts_than_chunks_is_refused_with_both_numbers():
    msg = parts.check(24, 4, 0, 8)
    assert "part_count (4) is larger than the video's 3 chunks (video_length 24, chunk_size 8)" in msg
    assert parts.check(24, 3, 2, 8) is None and parts.check(24, 4, 0, 0) is None


NODE = "T2VZ_FramePart"


def _node():
    return nodes.NODE_CLASS_MAPPINGS[NODE]


def test_the_node_gives_frame_start_and_count_that_the_sampler_accepts_for_every_part():
    node = _node()
    sampler = nodes.NODE_CLASS_MAPPINGS["T2VZ_Sampler"]
    for i in range(3):
        out = node.execute(video_length=8, part_count=3, part_index=i)
        start, count = out.result
        assert (start, count) == [(0, 3), (3, 3), (6, 2)][i]
        # the last part too: its frame_count is the real count (0 would mean "to the end")
        assert count > 0
        assert sampler.validate_inputs(video_length=8, frame_start=start, frame_count=count) is True
    # with the samplers' chunk_size (the editor's default, 8), parts are whole chunks
    got = [node.execute(video_length=20, part_count=2, part_index=i, chunk_size=8).result for i in range(2)]
    assert got == [(0, 16), (16, 4)]


def test_the_node_schema_has_tooltips_and_its_category():
    schema = _node().define_schema()
    assert schema.category == "Text2Video-Zero/video"
    assert schema.description
    for io_ in [*schema.inputs, *schema.outputs]:
        assert io_.tooltip, io_.id
    assert [o.id for o in schema.outputs] == ["frame_start", "frame_count"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(video_length=4, part_count=5, part_index=0), "part_count (5) is larger than video_length (4)"),
    (dict(video_length=8, part_count=3, part_index=3), "part_index (3) must be smaller than part_count (3)"),
    (dict(video_length=8, part_count=0, part_index=0), "part_count (0) must be at least 1"),
    (dict(video_length=24, part_count=4, part_index=0, chunk_size=8), "part_count (4) is larger than the video's 3 chunks"),
])
def test_bad_inputs_get_a_message_naming_the_input(kwargs, message):
    assert message in _node().validate_inputs(**kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _node().execute(**kwargs)


def test_linked_inputs_are_checked_when_the_node_runs():
    # a part_index from a link (Distributed Value) is unknown at queue time: the rest still passes
    assert _node().validate_inputs(video_length=8, part_count=3) is True
