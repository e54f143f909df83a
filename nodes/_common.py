"""What several node files share: the category, the inputs that mean the same on every
node (seed, cfg, sampler, scheduler, chunk_size, conditioning), one validation helper and
one way to turn the core's errors into a node's message.

Numeric ranges come from ``t2vz_core.request.RANGES``, so a schema's min/max and the
check that enforces them at queue time cannot drift apart.
"""
from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass

import comfy.samplers
from comfy_api.latest import io

from ..t2vz_core import sampling
from ..t2vz_core.problem import Problem, UserError, first
from ..t2vz_core.request import RANGES, VideoRequest, find_problem

CATEGORY = "Text2Video-Zero"
# A camera path (T2VZ_CameraPath → Text2Video-Zero Sampler / Motion-Field Latent Init).
MOTION = io.Custom("T2VZ_MOTION")


def advanced(inp):
    """Mark a widget as a secondary knob (shown under 'advanced' by frontends that support it).

    Newer ComfyUI (0.38.1) V3 inputs take ``advanced`` themselves and publish it in
    /object_info; 0.3.75's take no such argument, so there the flag travels in the input's
    extra options, which lands on the same key of /object_info.
    """
    if "advanced" in inspect.signature(type(inp).__init__).parameters:
        inp.advanced = True
    else:
        inp.extra_dict["advanced"] = True
    return inp


def int_input(name: str, default: int, tooltip: str, **extra) -> io.Int.Input:
    lo, hi = RANGES[name]
    return io.Int.Input(name, default=default, min=int(lo), max=int(hi), tooltip=tooltip, **extra)


def float_input(name: str, default: float, tooltip: str, **extra) -> io.Float.Input:
    lo, hi = RANGES[name]
    return io.Float.Input(name, default=default, min=lo, max=hi, tooltip=tooltip, **extra)


def schema(node_id: str, display_name: str, family: str, description: str, inputs: list, outputs: list,
           **extra) -> io.Schema:
    """A pack node's schema, in the pack's category ``Text2Video-Zero/<family>``."""
    return io.Schema(node_id=node_id, display_name=display_name, category=f"{CATEGORY}/{family}",
                     description=description, inputs=inputs, outputs=outputs, **extra)


# -- inputs several nodes share ---------------------------------------------------------------

TOKEN_MERGE_TOOLTIP = (
    "Token merging (ToMe, as the original uses): the share of each frame's tokens merged before "
    "self-attention in the highest-resolution blocks, for speed and memory. 0 = off (default). The token "
    "partition is fixed by the sampling seed, so the same seed gives the same video and chunked runs and "
    "frame parts still match one long run; results differ slightly from 0.")


def model_input(tooltip: str) -> io.Model.Input:
    return io.Model.Input("model", tooltip=tooltip)


def conditioning_inputs(positive: str = "What the video shows (CLIP Text Encode).",
                        negative: str = "What to keep out of the video (CLIP Text Encode).") -> list[io.Input]:
    return [io.Conditioning.Input("positive", tooltip=positive),
            io.Conditioning.Input("negative", tooltip=negative)]


def seed_input(tooltip: str) -> io.Int.Input:
    return int_input("seed", 0, tooltip, control_after_generate=True)


def cfg_input(tooltip: str = "Classifier-free guidance scale.") -> io.Float.Input:
    return io.Float.Input("cfg", default=7.5, min=0.0, max=100.0, step=0.1, round=0.01, tooltip=tooltip)


def sampler_input(default: str, tooltip: str) -> io.Combo.Input:
    return io.Combo.Input("sampler_name", options=comfy.samplers.KSampler.SAMPLERS, default=default, tooltip=tooltip)


def scheduler_input(default: str, tooltip: str) -> io.Combo.Input:
    return io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default=default, tooltip=tooltip)


def chunk_input() -> io.Int.Input:
    return int_input("chunk_size", 8, "Frames denoised together in one model call (0 = all at once). Every "
                     "chunk attends to frame 0, so the video is the same for any chunk size; memory grows with "
                     "chunk_size, not with the video's length.")


# -- checks -----------------------------------------------------------------------------------

def choice_problem(sampler_name=None, scheduler=None) -> Problem | None:
    """ComfyUI 0.3.75 does not check V3 combo values at queue time; we do."""
    for name, val, options in (("sampler_name", sampler_name, comfy.samplers.KSampler.SAMPLERS),
                               ("scheduler", scheduler, comfy.samplers.KSampler.SCHEDULERS)):
        if val is not None and val not in options:
            return Problem(name, f"{name} '{val}' is not a ComfyUI {name.split('_')[0]}; choose one of: "
                                 f"{', '.join(options)}")
    return None


def validate(sampler_name=None, scheduler=None, **request_fields) -> bool | str:
    """What a node's validate_inputs returns: True, or the first problem as
    "<input>: <sentence>" (the server puts it on that input)."""
    p = first(choice_problem(sampler_name, scheduler), find_problem(**request_fields))
    return True if p is None else str(p)


def require(problem: Problem | None) -> None:
    """At run time: raise the problem (the same message validate_inputs gives)."""
    if problem is not None:
        raise ValueError(str(problem))


def require_conditioning(positive, negative) -> None:
    for name, cond in (("positive", positive), ("negative", negative)):
        if not cond:
            raise ValueError(f"{name}: {name} conditioning is empty; connect a CLIP Text Encode (Prompt) node to "
                             f"'{name}' (an empty prompt text is fine, an empty conditioning list is not)")


@dataclass(frozen=True)
class Guidance:
    """The guidance inputs of a KSampler-like node (model, prompts, cfg, sampler, scheduler)."""

    model: object
    positive: list
    negative: list
    cfg: float
    sampler_name: str
    scheduler: str | None = None

    @classmethod
    def take(cls, inputs: dict) -> "Guidance":
        """Moves the guidance inputs out of a node's inputs (the rest are request fields)."""
        return cls(*(inputs.pop(k) for k in ("model", "positive", "negative", "cfg", "sampler_name")),
                   inputs.pop("scheduler", None))

    def checked(self) -> "Guidance":
        require(choice_problem(self.sampler_name, self.scheduler))
        require_conditioning(self.positive, self.negative)
        return self

    def guider(self, model=None):
        """Core's CFGGuider for these prompts and cfg (on ``model``, default this model)."""
        return sampling.cfg_guider(model if model is not None else self.model, self.positive, self.negative, self.cfg)


def checked_request(**fields) -> VideoRequest:
    request = VideoRequest(**fields)
    require(request.problem())
    return request


@contextlib.contextmanager
def as_node(display_name: str):
    """The core's errors name no node: say which node it was, as a plain ValueError (its
    type then carries no install path into ComfyUI's error report)."""
    try:
        yield
    except UserError as e:
        raise ValueError(f"{display_name}: {e}") from None
