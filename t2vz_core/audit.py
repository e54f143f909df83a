"""What else patches a cross-frame model, and what we do about each.

Cross-frame attention replaces self-attention in every UNet transformer block; other
nodes patch the same places. ``check`` looks at a model's options (and, at sampling time,
the conditionings) and, for each other patch it knows, either lets it through, raises a
``UserError`` naming the other node and the fix, or — only where the video is still
correct — logs one warning. It runs twice: when cross-frame attention is applied
(``attention.patch_model``) and when sampling starts, from an outer-sample wrapper on the
model (``install``), so it sees the final graph whatever sampler node runs it.

Each known patch is recognised by what its node puts into the model (read from the
node's code, ComfyUI core or the other pack):

    core ToMe (TomePatchModel)           attn1_patch ``tomesd_m``          → warning
    core HyperTile                       attn1_patch ``hypertile_in``      → works, warning
    core PAG (PerturbedAttentionGuidance) post-CFG ``post_cfg_function``    → works (perturbed pass marked)
    core SAG (SelfAttentionGuidance)     post-CFG + attn1 replace          → error
    core Context Windows                 context_handler / prepare wrapper → error
    AnimateDiff-Evolved context options  attachment ``ADE_params``         → error
    IPAdapter (cubiq)                    attn2 replace ``Attn2Replace``    → works (ad_params)
    Advanced-ControlNet reference-only   ``ReferenceAttnPatch`` / control  → error
    anything replacing our attn1 blocks                                    → error
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from .problem import UserError

logger = logging.getLogger(__name__)

WRAPPER_KEY = "t2vz_audit"  # our outer-sample wrapper (add_wrapper_with_key)
AD_PARAMS = "ad_params"  # the transformer_options entry AnimateDiff publishes per context window

OURS = "Cross-Frame Attention (T2VZ)"
ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    """Another node's patch on a cross-frame model: the node's name, what we do, why."""

    node: str
    verdict: str  # ERROR or WARNING
    message: str

    def __str__(self) -> str:
        return f"{self.node}: {self.message}"


def _name(fn) -> str:
    """module + qualified name of a patch function or callable object."""
    fn = getattr(fn, "__func__", fn)
    qual = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    mod = getattr(fn, "__module__", None) or type(fn).__module__
    return f"{mod}.{qual}"


def _is(fn, module_tail: str, qual_prefix: str) -> bool:
    fn = getattr(fn, "__func__", fn)
    mod = getattr(fn, "__module__", "") or ""
    qual = getattr(fn, "__qualname__", "") or ""
    return mod.endswith(module_tail) and qual.startswith(qual_prefix)


def _class_named(obj, *names: str) -> bool:
    return any(c.__name__ in names for c in type(obj).__mro__)


def _ours(fn) -> bool:
    return getattr(getattr(fn, "__self__", fn), "t2vz_cross_frame", False)


# -- detectors: each returns a Finding or None ---------------------------------------------

def _tome(to: dict, **_) -> Finding | None:
    if any(_is(p, "nodes_tomesd", "TomePatchModel.") for p in to.get("patches", {}).get("attn1_patch", [])):
        return Finding("Token Merging (TomePatchModel)", WARNING,
                       "draws a new random token partition at every step, so this video will not repeat with "
                       "the same seed, and chunked runs or frame parts will not match one long run. For a "
                       f"reproducible video remove it and set token_merge_ratio on {OURS} instead.")
    return None


def _hypertile(to: dict, **_) -> Finding | None:
    if any(_is(p, "nodes_hypertile", "HyperTile.") for p in to.get("patches", {}).get("attn1_patch", [])):
        return Finding("HyperTile", WARNING,
                       "has no effect on cross-frame attention (every tile's queries attend to the whole "
                       "anchor frame), so the video is the same as without it; remove it to save a step.")
    return None


def _post_cfg(model_options: dict, module_tail: str, qual_prefix: str) -> bool:
    return any(_is(f, module_tail, qual_prefix) for f in model_options.get("sampler_post_cfg_function", []))


PERTURB_KEY = "t2vz_perturb"  # transformer_options entry in PAG's perturbed pass: the (block, id) it perturbs
PAG_BLOCK = ("middle", 0)  # where core's PAG node perturbs self-attention


def _is_pag(fn) -> bool:
    return _is(fn, "nodes_pag", "PerturbedAttentionGuidance.")


class PerturbOnAnchor:
    """Core PAG's post-CFG function, run with the perturbed pass marked: there, cross-frame
    attention in PAG's block gives what PAG's own replace gives (each token's value), while
    every other block keeps attending to frame 0. (Unmarked, our per-block replace wins
    ComfyUI's lookup over PAG's and PAG silently does nothing.)"""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, args):
        mo = dict(args["model_options"])
        mo["transformer_options"] = {**mo.get("transformer_options", {}), PERTURB_KEY: PAG_BLOCK}
        return self.fn({**args, "model_options": mo})


def make_pag_work(model_options: dict) -> None:
    """In one sampling run's own model options: core PAG's post-CFG function marked."""
    fns = model_options.get("sampler_post_cfg_function", [])
    model_options["sampler_post_cfg_function"] = [PerturbOnAnchor(f) if _is_pag(f) else f for f in fns]


def _sag(to: dict, model_options: dict, **_) -> Finding | None:
    replaced = to.get("patches_replace", {}).get("attn1", {}).values()
    if _post_cfg(model_options, "nodes_sag", "SelfAttentionGuidance.") or any(
            _is(p, "nodes_sag", "SelfAttentionGuidance.") for p in replaced):
        return Finding("Self-Attention Guidance (SelfAttentionGuidance)", ERROR,
                       "needs the attention scores of plain self-attention in the middle block, which "
                       f"cross-frame attention replaces (it fails or guides from the wrong scores). Remove the "
                       f"SAG node from this model (before or after {OURS}).")
    return None


def _context_windows(to: dict, model_options: dict, patcher=None, **_) -> Finding | None:
    handler = model_options.get("context_handler")
    theirs = handler is not None and _class_named(handler, "IndexListContextHandler")  # core's (and subclasses)
    wrappers = to.get("wrappers", {}).get("prepare_sampling", {})
    if patcher is not None:
        wrappers = {**wrappers, **patcher.wrappers.get("prepare_sampling", {})}
    if theirs or wrappers.get("ContextWindows_prepare_sampling"):
        return Finding("Context Windows (ContextWindowsManual)", ERROR,
                       "samples the video in windows whose first frame becomes each window's anchor, so "
                       "identity drifts from window to window without a word (and the pack's chunking would "
                       f"replace its windows). Remove it and set chunk_size on the T2VZ sampler: chunks keep "
                       f"frame 0 as the anchor of every frame.")
    return None


def refuse_context_windows(model_patcher) -> None:
    """Before chunking replaces a model's context handler: core Context Windows get the same
    error as when cross-frame attention meets them."""
    mo = model_patcher.model_options
    finding = _context_windows(mo.get("transformer_options", {}), mo, patcher=model_patcher)
    if finding is not None:
        raise UserError(f"cross-frame attention cannot be combined with {finding}")


def _animatediff_context(to: dict, patcher=None, **_) -> Finding | None:
    params = patcher.get_attachment("ADE_params") if patcher is not None and hasattr(patcher, "get_attachment") else None
    ctx = getattr(params, "context_options", None)
    if ctx is not None and (getattr(ctx, "context_length", None) is not None
                            or getattr(getattr(ctx, "extras", None), "context_ref", None) is not None):
        return Finding("AnimateDiff-Evolved Context Options (ADE_*ContextOptions)", ERROR,
                       "samples the video in sliding windows whose first frame becomes each window's anchor, so "
                       "identity drifts from window to window. Disconnect context_options from the AnimateDiff "
                       "nodes and set chunk_size on the T2VZ sampler instead.")
    return None


def _controls(conds):
    seen = []
    for cond in (conds or {}).values() if isinstance(conds, dict) else (conds or []):
        for c in cond or []:
            ctrl = c.get("control") if isinstance(c, dict) else None
            while ctrl is not None:
                if all(ctrl is not x for x in seen):
                    seen.append(ctrl)
                ctrl = getattr(ctrl, "previous_controlnet", None)
    return seen


def _reference_only(to: dict, model_options: dict, conds=None, **_) -> Finding | None:
    out_patches = to.get("patches", {}).get("attn1_output_patch", [])
    if ("ref_control_info" in model_options or any(_class_named(p, "ReferenceAttnPatch") for p in out_patches)
            or any(_class_named(c, "ReferenceAdvanced") for c in _controls(conds))):
        return Finding("Advanced-ControlNet reference-only (ACN_ReferencePreprocessor / ReferenceControlNet)",
                       ERROR,
                       "injects the reference image's features into every self-attention, which does not match "
                       f"the anchor frame's keys that {OURS} uses. Remove the reference ControlNet, or make the "
                       "reference image frame 0 of the video instead.")
    return None


def _ours_replaced(to: dict, blocks=frozenset(), **_) -> Finding | None:
    replace = to.get("patches_replace", {}).get("attn1", {})
    others = {}
    for key in blocks:
        fn = replace.get(key)
        if fn is not None and not _ours(fn):
            others.setdefault(_name(fn), []).append(key)
    if others:
        name, keys = next(iter(others.items()))
        return Finding(f"another node ({name})", ERROR,
                       f"replaced cross-frame attention in {len(keys)} block(s), e.g. {keys[0]}, so those frames "
                       f"would no longer attend to frame 0. Apply {OURS} after that node, or remove it.")
    return None


DETECTORS = (_sag, _context_windows, _animatediff_context, _reference_only, _ours_replaced,
             _tome, _hypertile)


def find(model_options: dict, patcher=None, conds=None, blocks=frozenset()) -> list[Finding]:
    """Every known other patch on a model with these options, errors first."""
    to = model_options.get("transformer_options", {})
    found = [f for d in DETECTORS
             if (f := d(to, model_options=model_options, patcher=patcher, conds=conds, blocks=blocks))]
    return sorted(found, key=lambda f: f.verdict != ERROR)


def check(model_options: dict, patcher=None, conds=None, blocks=frozenset(), warn: bool = True) -> None:
    """Raise UserError for the first other patch we refuse; log one warning for each we let through."""
    found = find(model_options, patcher, conds, blocks)
    for f in found:
        if f.verdict == ERROR:
            raise UserError(f"cross-frame attention cannot be combined with {f}")
    if warn:
        for f in found:
            logger.warning("cross-frame attention with %s", f)


def _our_blocks(model_options: dict) -> frozenset:
    for p in model_options.get("transformer_options", {}).get("patches", {}).get("attn1_patch", []):
        if _ours(p):
            return getattr(p, "__self__", p).blocks
    return frozenset()


def outer_sample_wrapper(executor, *args, **kwargs):
    """Checks the final graph when sampling starts, whichever sampler node runs it."""
    guider = executor.class_obj
    mo = guider.model_options
    blocks = _our_blocks(mo)
    if blocks:  # a node after ours may have removed cross-frame attention altogether
        check(mo, guider.model_patcher, getattr(guider, "conds", None), blocks)
        make_pag_work(mo)  # guider.model_options is this run's own copy
    return executor(*args, **kwargs)


def install(model_patcher) -> None:
    """Our outer-sample wrapper on ``model_patcher`` (once, however often it is applied)."""
    import comfy.patcher_extension
    kind = comfy.patcher_extension.WrappersMP.OUTER_SAMPLE
    model_patcher.remove_wrappers_with_key(kind, WRAPPER_KEY)
    model_patcher.add_wrapper_with_key(kind, WRAPPER_KEY, outer_sample_wrapper)


# -- IPAdapter and friends: per-chunk frame indices, as AnimateDiff publishes them ------------

def chunk_options(frames: int, idx: list[int]) -> dict:
    """transformer_options entries for one chunk of a video of ``frames`` frames.

    IPAdapter (cubiq) and other packs that take one embed (or mask, or weight) per frame
    slice them by AnimateDiff's ``ad_params``: ``full_length`` (the video's length) and
    ``sub_idxs`` (the frames in this model call). Without them every chunk after the first
    would get the first frames' embeds."""
    return {AD_PARAMS: {"full_length": frames, "sub_idxs": list(idx)}}
