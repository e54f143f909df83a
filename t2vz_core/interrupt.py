"""ComfyUI's cancel button, for loops that can run long outside the sampler.

``check()`` raises ComfyUI's InterruptProcessingException when the user pressed Cancel (or
the server was asked to interrupt); without ComfyUI (pure tests) it does nothing. Loops
over frames call it between batches, so a cancel is noticed in well under a second at any
video length.
"""
from __future__ import annotations

BATCH = 64  # frames between two checks in per-frame loops


def check() -> None:
    try:
        import comfy.model_management as mm
    except ImportError:
        return
    mm.throw_exception_if_processing_interrupted()
