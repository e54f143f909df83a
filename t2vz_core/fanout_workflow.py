"""The fan-out's view of an API workflow: which nodes make the frames, which frames the
workflow asks for, and the prompt each part queues. Pure: dicts in, dicts out.

A part's prompt is the user's workflow with three changes:
- every frame-range sampler (``RANGE_SAMPLERS``) makes only the part's frames;
- one SaveImage saves the decoded frames as PNGs (lossless; the fan-out reads them back
  over ``/view``): the workflow's own SaveImage on a VAE Decode, or one added;
- the workflow's other output nodes are left out (their inputs are not computed), so a
  part writes nothing on a server but its PNGs.
"""
from __future__ import annotations

import copy

from . import parts

#: Samplers that take frame_start / frame_count. The frame-guided samplers (Video KSampler,
#: Video Sampler Custom) take their frames from a latent and cannot be split this way.
RANGE_SAMPLERS = ("T2VZ_Sampler", "T2VZ_MotionFieldLatentInit")
FRAME_GUIDED = ("T2VZ_VideoKSampler", "T2VZ_VideoSamplerCustom")
#: The samplers whose chunk_size chunks the video steps (parts follow its chunks).
CHUNKED_SAMPLERS = ("T2VZ_Sampler", "T2VZ_VideoSampler")
SAVE_CLASS = "SaveImage"
DECODE_CLASSES = ("VAEDecode", "VAEDecodeTiled")
FANOUT_SAVE_ID = "t2vz_fanout_frames"


class WorkflowError(ValueError):
    """The workflow cannot be split; the message says why and what to change."""


def _is_link(val) -> bool:
    return isinstance(val, list) and len(val) == 2 and isinstance(val[0], str)


def load_check(workflow) -> dict:
    """The workflow as an API prompt ({node id: {"class_type", "inputs"}}), or a WorkflowError."""
    if isinstance(workflow, dict) and "nodes" in workflow and "links" in workflow:
        raise WorkflowError("this is a UI workflow (the editor's Save); the fan-out needs the API format: "
                            "in ComfyUI use Workflow → Export (API), or take one from example_workflows/api/")
    if isinstance(workflow, dict) and isinstance(workflow.get("prompt"), dict):
        workflow = workflow["prompt"]  # a POST /prompt body
    if not isinstance(workflow, dict) or not workflow or not all(
            isinstance(n, dict) and "class_type" in n and isinstance(n.get("inputs", {}), dict)
            for n in workflow.values()):
        raise WorkflowError("the workflow is not an API-format prompt: expected a JSON object of "
                            "{node id: {\"class_type\": ..., \"inputs\": {...}}}")
    return workflow


def samplers(prompt: dict) -> list[str]:
    ids = [nid for nid, n in prompt.items() if n["class_type"] in RANGE_SAMPLERS]
    if not ids:
        guided = sorted({n["class_type"] for n in prompt.values() if n["class_type"] in FRAME_GUIDED})
        extra = (f" ({', '.join(guided)} takes its frames from a latent and has no frame range, so "
                 f"it cannot be split into parts)") if guided else ""
        raise WorkflowError(f"the workflow has no Text2Video-Zero sampler that takes a frame range: "
                            f"add a {' or '.join(RANGE_SAMPLERS)} node{extra}")
    return ids


def frame_range(prompt: dict) -> tuple[int, int, int]:
    """(video_length, frame_start, frame_count) the workflow's samplers make; all must agree."""
    seen = {}
    for nid in samplers(prompt):
        inputs = prompt[nid].get("inputs", {})
        vals = []
        for key, default in (("video_length", None), ("frame_start", 0), ("frame_count", 0)):
            val = inputs.get(key, default)
            if _is_link(val) or not isinstance(val, int) or isinstance(val, bool):
                raise WorkflowError(f"node {nid} ({prompt[nid]['class_type']}): {key} must be a number in the "
                                    f"workflow, not a link or {type(val).__name__}, so the fan-out can split it")
            vals.append(val)
        seen[nid] = tuple(vals)
    if len(set(seen.values())) > 1:
        raise WorkflowError("the samplers disagree on (video_length, frame_start, frame_count): "
                            + ", ".join(f"node {k}: {v}" for k, v in seen.items()))
    video_length, start, count = next(iter(seen.values()))
    if video_length < 1 or start < 0 or count < 0 or start >= video_length or start + count > video_length:
        raise WorkflowError(f"the samplers' frames (video_length {video_length}, frame_start {start}, "
                            f"frame_count {count}) are not a range of the video; queue the workflow once "
                            f"to see ComfyUI's message")
    return video_length, start, count or video_length - start


def chunk_size(prompt: dict) -> int:
    """The chunk size the workflow's video steps are sampled with (T2VZ_Sampler, Video
    Sampler), so parts are cut on its boundaries; 0 (an even split) when it is linked or the
    samplers disagree."""
    sizes = {n.get("inputs", {}).get("chunk_size", 8) for n in prompt.values() if n["class_type"] in CHUNKED_SAMPLERS}
    size = sizes.pop() if len(sizes) == 1 else 0
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0


def plan_parts(prompt: dict, part_count: int) -> list[parts.Part]:
    """The parts of the frames the workflow makes, with global frame numbers."""
    video_length, start, count = frame_range(prompt)
    if part_count > count:
        raise WorkflowError(f"part_count ({part_count}) is larger than the video: the workflow makes {count} "
                            f"frames, so use at most {count} parts")
    size = chunk_size(prompt)
    pieces = parts.units(start, start + count, video_length, size)
    if part_count > len(pieces):
        raise WorkflowError(f"part_count ({part_count}) is larger than the {len(pieces)} chunks the workflow's "
                            f"frames make (chunk_size {size}): parts are made of whole chunks so that they equal "
                            f"one run bit for bit; use at most {len(pieces)} parts or a smaller chunk_size")
    return parts.split_range(start, start + count, part_count, video_length, size)


def frames_source(prompt: dict) -> tuple[str | None, list]:
    """(id of the SaveImage that saves decoded frames, or None; the link to save otherwise)."""
    for nid, n in prompt.items():
        link = n.get("inputs", {}).get("images")
        if n["class_type"] == SAVE_CLASS and _is_link(link) and prompt.get(link[0], {}).get("class_type") in DECODE_CLASSES:
            return nid, link
    decodes = [nid for nid, n in prompt.items() if n["class_type"] in DECODE_CLASSES]
    if len(decodes) != 1:
        raise WorkflowError(f"the fan-out saves the frames of the workflow's VAE Decode, but it has "
                            f"{len(decodes)}: add a SaveImage on the one that decodes the video")
    return None, [decodes[0], 0]


def part_prompt(prompt: dict, part: parts.Part, run_id: str, output_nodes: set[str] = frozenset()) -> tuple[dict, str]:
    """(the prompt of one part, the id of the SaveImage whose PNGs are its frames).

    output_nodes: class types that are output nodes on the servers (from /object_info);
    all but the frames' SaveImage are left out."""
    p = copy.deepcopy(prompt)
    size = chunk_size(p)
    for nid in samplers(p):
        p[nid]["inputs"]["frame_start"] = part.frame_start
        p[nid]["inputs"]["frame_count"] = part.frame_count
        if size and p[nid]["class_type"] == "T2VZ_MotionFieldLatentInit":
            p[nid]["inputs"]["chunk_size"] = size  # it prepares frame 0's chunk of the Video Sampler's chunking
    save_id, link = frames_source(p)
    for nid in [k for k, n in p.items() if k != save_id and (n["class_type"] in output_nodes or n["class_type"] == SAVE_CLASS)]:
        del p[nid]
    if save_id is None:
        save_id = FANOUT_SAVE_ID
    p[save_id] = {"class_type": SAVE_CLASS,
                  "inputs": {"images": link, "filename_prefix": f"t2vz_fanout/{run_id}/part{part.index:04d}"}}
    return p, save_id
