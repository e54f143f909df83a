"""How the core says that something the user set cannot work.

``Problem`` is a finding about one input: its name and a sentence a user understands.
``str(problem)`` is ``"<input>: <sentence>"``; nodes return it from ``validate_inputs`` and
the pack's server middleware (nodes/routes.py) puts it on that one input in the editor.

``UserError`` is what the core raises at run time for a mistake in the graph (a model of
the wrong kind, a hint count that does not match). Its message names no node: the node
layer adds its own display name (``nodes._common.as_node``) and re-raises a plain
``ValueError``, so ComfyUI reports no install path in the exception type.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    input: str
    message: str

    def __str__(self) -> str:
        return f"{self.input}: {self.message}"


class UserError(ValueError):
    """A mistake in the graph or its settings; the message says what to change."""


def first(*problems: Problem | None) -> Problem | None:
    return next((p for p in problems if p is not None), None)
