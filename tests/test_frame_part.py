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
])
def test_bad_inputs_get_a_message_naming_the_input(kwargs, message):
    assert message in _node().validate_inputs(**kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _node().execute(**kwargs)


def test_linked_inputs_are_checked_when_the_node_runs():
    # a part_index from a link (Distributed Value) is unknown at queue time: the rest still passes
    assert _node().validate_inputs(video_length=8, part_count=3) is True
