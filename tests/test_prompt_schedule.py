"""Prompt schedules, pure: the keyframe text a user types, blending between keyframes, and
prompts of different lengths in one schedule (a stand-in encoder with 77-token chunks)."""
from __future__ import annotations

import pytest
import torch

from t2vz_core import prompts
from t2vz_core.prompts import Encoded, PromptScheduleError, parse_keyframes, schedule_conditioning

DIM = 6
CHUNK = 77


def fake_encode(text: str) -> Encoded:
    """Chunks of 77 tokens, one per 10 words (at least one); values fixed by the text."""
    chunks = max(1, -(-len(text.split()) // 10))
    gen = torch.Generator().manual_seed(sum(map(ord, text)) * 31 + len(text))
    return Encoded(cond=torch.randn(1, CHUNK * chunks, DIM, generator=gen),
                   pooled=torch.randn(1, DIM, generator=gen), extras={"note": "kept"})


@pytest.mark.parametrize("text", [
    '"0": "a cat",\n"16": "a tiger"',
    '"0": "a cat"\n"16": "a tiger"\n',              # no commas
    '"16": "a tiger",\n\n"0": "a cat",',            # any order, blank line, trailing comma
    '"0": "a cat", "16": "a tiger"',                # one line
    '{"0": "a cat",\n "16": "a tiger"}',            # a JSON object
    '0: "a cat"\n16 : "a tiger"',                   # frames without quotes
])
def test_the_keyframe_texts_users_write(text):
    assert parse_keyframes(text) == [(0, "a cat"), (16, "a tiger")]


def test_quotes_and_commas_inside_a_prompt():
    assert parse_keyframes('"0": "a \\"big\\" cat, sitting"\n"4": ""') == [(0, 'a "big" cat, sitting'), (4, "")]


@pytest.mark.parametrize("text,needle", [
    ("", "keyframes: no keyframes"),
    ('"0": "a cat"\n"x": "a tiger"', "keyframes: line 2: the frame 'x' must be a whole number"),
    ('"0": "a cat"\n"1.5": "a tiger"', "keyframes: line 2: the frame '1.5' must be a whole number"),
    ('"0": "a cat"\n"0": "a tiger"', "keyframes: line 2: frame 0 is given twice"),
    ('"0": "a cat"\n"8": a tiger', "keyframes: line 2 ('\"8\": a tiger') is not a \"frame\": \"prompt\" pair"),
    ('{"0": "a cat", "8": }', "keyframes: not a valid JSON object at line 1, column 21"),
    ('{"0": 3}', "keyframes: the prompt of frame 0 must be a \"quoted\" text"),
])
def test_bad_keyframes_are_named_with_the_line(text, needle):
    with pytest.raises(PromptScheduleError) as err:
        parse_keyframes(text)
    assert str(err.value).startswith(needle), str(err.value)


def test_one_row_per_frame_blended_between_keyframes():
    cond = schedule_conditioning(fake_encode, '"2": "a cat", "6": "a tiger"', 9)
    assert len(cond) == 1
    rows, extras = cond[0]
    cat, tiger = fake_encode("a cat"), fake_encode("a tiger")
    assert rows.shape == (9, CHUNK, DIM) and extras["pooled_output"].shape == (9, DIM)
    for f in (0, 1, 2):                         # held before the first keyframe, exact on it
        assert torch.equal(rows[f], cat.cond[0]) and torch.equal(extras["pooled_output"][f], cat.pooled[0])
    for f in (6, 7, 8):                         # exact on the last keyframe, held after it
        assert torch.equal(rows[f], tiger.cond[0]) and torch.equal(extras["pooled_output"][f], tiger.pooled[0])
    for f, t in ((3, 0.25), (4, 0.5), (5, 0.75)):
        torch.testing.assert_close(rows[f], (1 - t) * cat.cond[0] + t * tiger.cond[0])
        torch.testing.assert_close(extras["pooled_output"][f], (1 - t) * cat.pooled[0] + t * tiger.pooled[0])
    assert extras["note"] == "kept"


def test_prompts_of_one_and_three_chunks_in_one_schedule():
    short, long = "a cat", " ".join(["tiger"] * 25)  # 1 chunk and 3 chunks
    assert fake_encode(long).cond.shape[1] == 3 * CHUNK
    rows, extras = schedule_conditioning(fake_encode, f'"0": "{short}", "4": "{long}"', 5)[0]
    assert rows.shape == (5, 3 * CHUNK, DIM)
    empty = fake_encode("").cond[0]
    # the short prompt is padded with the empty prompt's chunk, the long one is as encoded
    assert torch.equal(rows[0], torch.cat([fake_encode(short).cond[0], empty, empty]))
    assert torch.equal(rows[4], fake_encode(long).cond[0])
    torch.testing.assert_close(rows[2, CHUNK:], torch.lerp(torch.cat([empty, empty]), fake_encode(long).cond[0, CHUNK:], 0.5))


def test_each_prompt_is_encoded_once():
    seen = []

    def counting(text):
        seen.append(text)
        return fake_encode(text)

    schedule_conditioning(counting, '"0": "a cat", "4": "a dog", "8": "a cat", "12": ""', 16)
    assert sorted(seen) == ["", "a cat", "a dog"]


def test_a_single_keyframe_gives_the_same_row_every_frame_and_no_pooled_without_one():
    def no_pooled(text):
        e = fake_encode(text)
        return Encoded(cond=e.cond, pooled=None, extras={})

    rows, extras = schedule_conditioning(no_pooled, '"3": "a cat"', 4)[0]
    assert all(torch.equal(rows[f], fake_encode("a cat").cond[0]) for f in range(4))
    assert "pooled_output" not in extras


def test_an_encoder_without_whole_chunks_is_refused():
    def odd(text):
        return Encoded(cond=torch.zeros(1, 100 if text else 77, DIM), pooled=None, extras={})

    with pytest.raises(PromptScheduleError, match=r"^clip: this text encoder gives 100 tokens"):
        schedule_conditioning(odd, '"0": "a cat"', 2)


def test_frame_weights():
    assert prompts.frame_weights([0, 4], 6) == [(0, 0, 0.0), (0, 1, 0.25), (0, 1, 0.5), (0, 1, 0.75),
                                                (1, 1, 0.0), (1, 1, 0.0)]
    # a keyframe beyond the video still pulls the last frames towards it
    assert prompts.frame_weights([0, 8], 3)[2] == (0, 1, 0.25)
