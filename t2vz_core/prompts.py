"""Prompt schedules: keyframed prompts blended into one conditioning row per frame.

Text (as the ``keyframes`` input takes it), one ``"frame": "prompt"`` pair per line, with or
without a trailing comma, or one JSON object::

    "0": "a cat walking on a street",
    "16": "a tiger walking on a street"

Every distinct prompt is encoded once. Prompts longer than 75 tokens take several 77-token
chunks; shorter prompts are padded to the longest with the encoding of the empty prompt,
chunk after chunk, so every row has the same number of tokens and the padding adds nothing
to the text it follows. Between two keyframes the token embeddings and the pooled embedding
(SDXL) are blended linearly (``torch.lerp``: a frame on a keyframe gets that prompt's
encoding exactly); before the first and after the last keyframe its prompt holds.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Callable

import torch

from .problem import UserError

log = logging.getLogger(__name__)

MAX_FRAME = 1_000_000
EXAMPLE = '"0": "a cat walking on a street",\n"7": "a tiger walking on a street"'
_LINE = re.compile(r'^\s*"?\s*([^":]*?)\s*"?\s*:\s*(".*")\s*,?\s*$')


class PromptScheduleError(UserError):
    """Bad keyframes or an encoder the schedule cannot use; the message names the input."""


@dataclass(frozen=True)
class Encoded:
    """One prompt's encoding: cond (1, tokens, dim), pooled (1, dim) or None."""
    cond: torch.Tensor
    pooled: torch.Tensor | None
    extras: dict


def parse_keyframes(text: str, name: str = "keyframes") -> list[tuple[int, str]]:
    """Keyframes [(frame, prompt), ...] sorted by frame; errors start with ``name: ``."""
    if not isinstance(text, str) or not text.strip():
        raise PromptScheduleError(f"{name}: no keyframes; write one \"frame\": \"prompt\" pair per line, e.g. "
                                  f"{EXAMPLE!r}")
    stripped = text.strip()
    if stripped.startswith("{"):
        pairs = _json_pairs(stripped, name)
    else:
        try:  # the lines together as the inside of a JSON object (commas between pairs)
            pairs = _json_pairs("{" + stripped.rstrip(",") + "}", name)
        except PromptScheduleError:
            pairs = _line_pairs(text, name)  # one pair per line, commas optional; errors by line
    keys: dict[int, str] = {}
    for where, frame_text, prompt in pairs:
        frame_text = str(frame_text).strip()
        if not re.fullmatch(r"[0-9]+", frame_text):
            raise PromptScheduleError(f"{name}: {where}the frame '{frame_text}' must be a whole number, 0 or more")
        frame = int(frame_text)
        if frame > MAX_FRAME:
            raise PromptScheduleError(f"{name}: {where}frame {frame} is beyond {MAX_FRAME}")
        if not isinstance(prompt, str):
            raise PromptScheduleError(f"{name}: {where}the prompt of frame {frame} must be a \"quoted\" text")
        if frame in keys:
            raise PromptScheduleError(f"{name}: {where}frame {frame} is given twice; give each keyframe once")
        keys[frame] = prompt
    if not keys:
        raise PromptScheduleError(f"{name}: no keyframes; write one \"frame\": \"prompt\" pair per line")
    return sorted(keys.items())


def _json_pairs(text: str, name: str) -> list[tuple[str, str, object]]:
    def pairs_hook(items):
        return items

    try:
        items = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as err:
        raise PromptScheduleError(f"{name}: not a valid JSON object at line {err.lineno}, column {err.colno}: "
                                  f"{err.msg}") from None
    if not isinstance(items, list):
        raise PromptScheduleError(f"{name}: expected an object of \"frame\": \"prompt\" pairs")
    return [("", k, v) for k, v in items]


def _line_pairs(text: str, name: str) -> list[tuple[str, str, object]]:
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.strip() in ("{", "}"):
            continue
        match = _LINE.match(line)
        if not match:
            raise PromptScheduleError(f"{name}: line {number} ({line.strip()[:60]!r}) is not a \"frame\": "
                                      f"\"prompt\" pair, e.g. \"16\": \"a tiger walking on a street\",")
        try:
            prompt = json.loads(match.group(2))
        except json.JSONDecodeError:
            raise PromptScheduleError(f"{name}: line {number}: the prompt must be one \"quoted\" text "
                                      f"(write \\\" for a quote inside it)") from None
        pairs.append((f"line {number}: ", match.group(1), prompt))
    return pairs


def frame_weights(keyframes: list[int], video_length: int) -> list[tuple[int, int, float]]:
    """Per frame, (index of the keyframe before, index of the one after, weight of the one after)."""
    out = []
    for f in range(video_length):
        if f <= keyframes[0]:
            out.append((0, 0, 0.0))
        elif f >= keyframes[-1]:
            last = len(keyframes) - 1
            out.append((last, last, 0.0))
        else:
            b = next(i for i, k in enumerate(keyframes) if k > f)
            a = b - 1
            if keyframes[a] == f:
                out.append((a, a, 0.0))
            else:
                out.append((a, b, (f - keyframes[a]) / (keyframes[b] - keyframes[a])))
    return out


def pad_to_chunks(conds: list[torch.Tensor], empty: torch.Tensor, name: str = "clip") -> list[torch.Tensor]:
    """Pad conds (1, tokens, dim) to the longest with chunks of the empty prompt's encoding."""
    chunk = empty.shape[1]
    for c in conds:
        if c.shape[1] % chunk or c.shape[2] != empty.shape[2]:
            raise PromptScheduleError(f"{name}: this text encoder gives {c.shape[1]} tokens for a prompt but "
                                      f"{chunk} for the empty prompt, not whole chunks: the prompt schedule "
                                      f"supports the CLIP encoders of SD1.x, SD2.x and SDXL")
    longest = max(c.shape[1] for c in conds)
    return [c if c.shape[1] == longest else
            torch.cat([c] + [empty.to(c)] * ((longest - c.shape[1]) // chunk), dim=1) for c in conds]


def blend(rows: torch.Tensor, weights: list[tuple[int, int, float]]) -> torch.Tensor:
    """(K, ...) keyframe rows → (N, ...) frame rows, linear between keyframes."""
    out = torch.empty((len(weights),) + tuple(rows.shape[1:]), dtype=rows.dtype, device=rows.device)
    for f, (a, b, t) in enumerate(weights):
        out[f] = rows[a] if a == b else torch.lerp(rows[a], rows[b], t)
    return out


def schedule_conditioning(encode: Callable[[str], Encoded], text: str, video_length: int) -> list:
    """CONDITIONING with one row per frame: [[cond (N, tokens, dim), {"pooled_output": (N, dim), ...}]]."""
    keyframes = parse_keyframes(text)
    prompts = sorted({p for _, p in keyframes})
    encoded = {p: encode(p) for p in prompts}
    empty = encoded[""] if "" in encoded else encode("")
    padded = dict(zip(prompts, pad_to_chunks([encoded[p].cond for p in prompts], empty.cond)))
    weights = frame_weights([f for f, _ in keyframes], video_length)
    cond = blend(torch.cat([padded[p] for _, p in keyframes], dim=0), weights)
    extras = {k: v for k, v in encoded[keyframes[0][1]].extras.items() if not torch.is_tensor(v)}
    dropped = sorted(k for k, v in encoded[keyframes[0][1]].extras.items() if torch.is_tensor(v))
    if dropped:
        log.warning("prompt schedule: per-prompt %s not carried into the per-frame conditioning", dropped)
    pooled = [encoded[p].pooled for _, p in keyframes]
    if all(p is not None for p in pooled):
        extras["pooled_output"] = blend(torch.cat(pooled, dim=0), weights)
    log.debug("prompt schedule: %d keyframes, %d frames, %d tokens per row", len(keyframes), video_length,
              cond.shape[1])
    return [[cond, extras]]
