"""The fan-out's view of an API workflow: which nodes make the frames, which frames the
workflow asks for, and the prompt each part queues. Pure: dicts in, dicts out.

A part's prompt is the user's workflow with three changes:
- every frame-range sampler (``RANGE_SAMPLERS``, text-to-video and frame-guided) makes only
  the part's frames;
- one SaveImage saves the decoded frames as PNGs (lossless; the fan-out reads them back
  over ``/view``): the workflow's own SaveImage on a VAE Decode, or one added;
- the workflow's other output nodes are left out (their inputs are not computed), so a
  part writes nothing on a server but its PNGs.
"""
from __future__ import annotations

import copy

from . import parts

#: Samplers that take frame_start / frame_count. The frame-guided ones (Video KSampler, Video
#: Sampler Custom) count them in their latent_image, whose length the workflow may not say.
TEXT_SAMPLERS = ("T2VZ_Sampler", "T2VZ_MotionFieldLatentInit")
FRAME_GUIDED = ("T2VZ_VideoKSampler", "T2VZ_VideoSamplerCustom")
RANGE_SAMPLERS = TEXT_SAMPLERS + FRAME_GUIDED
#: The samplers whose chunk_size chunks the video steps (parts follow its chunks).
CHUNKED_SAMPLERS = ("T2VZ_Sampler", "T2VZ_VideoSampler") + FRAME_GUIDED
#: Latent makers whose batch_size is the number of frames.
EMPTY_LATENTS = ("EmptyLatentImage", "EmptySD3LatentImage")
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


def _upstream(prompt: dict, nid: str) -> set[str]:
    """The nodes whose outputs reach node ``nid`` through links."""
    seen, todo = set(), [nid]
    while todo:
        for val in prompt.get(todo.pop(), {}).get("inputs", {}).values():
            if _is_link(val) and val[0] not in seen and val[0] in prompt:
                seen.add(val[0])
                todo.append(val[0])
    return seen


def samplers(prompt: dict) -> list[str]:
    """The nodes that get each part's frame range: every range sampler but a frame-guided one
    that samples (refines) the latent of another range sampler, which is already the part's."""
    ids = [nid for nid, n in prompt.items() if n["class_type"] in RANGE_SAMPLERS]
    ids = [nid for nid in ids if prompt[nid]["class_type"] not in FRAME_GUIDED
           or not any(prompt[u]["class_type"] in RANGE_SAMPLERS for u in _upstream(prompt, nid))]
    if not ids:
        raise WorkflowError(f"the workflow has no Text2Video-Zero sampler that takes a frame range: "
                            f"add a {', '.join(RANGE_SAMPLERS[:-1])} or {RANGE_SAMPLERS[-1]} node")
    return ids


def _number(prompt: dict, nid: str, key: str, val) -> int:
    if _is_link(val) or not isinstance(val, int) or isinstance(val, bool):
        raise WorkflowError(f"node {nid} ({prompt[nid]['class_type']}): {key} must be a number in the "
                            f"workflow, not a link or {type(val).__name__}, so the fan-out can split it")
    return val


def latent_frames(prompt: dict, nid: str) -> int | None:
    """The frame count of a frame-guided sampler's latent_image, where the workflow says it
    (an Empty Latent Image's batch_size typed in), else None."""
    link = prompt[nid].get("inputs", {}).get("latent_image")
    source = prompt.get(link[0]) if _is_link(link) else None
    if source is None or source["class_type"] not in EMPTY_LATENTS:
        return None
    size = source.get("inputs", {}).get("batch_size", 1)
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def frame_range(prompt: dict, video_length: int | None = None) -> tuple[int, int, int]:
    """(video_length, frame_start, frame_count) the workflow's samplers make; all must agree.
    ``video_length``: the frame count of the frame-guided samplers' latent_image (the hint
    video's), needed where the workflow does not say it."""
    seen = {}
    for nid in samplers(prompt):
        inputs = prompt[nid].get("inputs", {})
        if prompt[nid]["class_type"] in FRAME_GUIDED:
            length = latent_frames(prompt, nid) or video_length
            if length is None:
                raise WorkflowError(f"node {nid} ({prompt[nid]['class_type']}) takes its frames from latent_image, "
                                    f"whose frame count the workflow does not say (it comes from the hint video): "
                                    f"give it with --video-length N")
        else:
            length = _number(prompt, nid, "video_length", inputs.get("video_length"))
        seen[nid] = (length, *(_number(prompt, nid, key, inputs.get(key, 0)) for key in ("frame_start", "frame_count")))
    if len(set(seen.values())) > 1:
        raise WorkflowError("the samplers disagree on (video_length, frame_start, frame_count): "
                            + ", ".join(f"node {k}: {v}" for k, v in seen.items()))
    length, start, count = next(iter(seen.values()))
    if video_length is not None and video_length != length:
        raise WorkflowError(f"--video-length ({video_length}) differs from the {length} frames the workflow's "
                            f"samplers make; leave it out, or fix the workflow")
    video_length = length
    if video_length < 1 or start < 0 or count < 0 or start >= video_length or start + count > video_length:
        raise WorkflowError(f"the samplers' frames (video_length {video_length}, frame_start {start}, "
                            f"frame_count {count}) are not a range of the video; queue the workflow once "
                            f"to see ComfyUI's message")
    return video_length, start, count or video_length - start


def chunk_size(prompt: dict) -> int:
    """The chunk size the workflow's video steps are sampled with (T2VZ_Sampler, Video
    Sampler), so parts are cut on its boundaries; 0 (an even split) when it is linked or the
    samplers disagree."""
    split = set(samplers(prompt))  # a frame-guided pass on a part's latent is left as it is
    sizes = {n.get("inputs", {}).get("chunk_size", 8) for nid, n in prompt.items()
             if n["class_type"] in CHUNKED_SAMPLERS and (n["class_type"] not in FRAME_GUIDED or nid in split)}
    size = sizes.pop() if len(sizes) == 1 else 0
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0


def plan_parts(prompt: dict, part_count: int, video_length: int | None = None) -> list[parts.Part]:
    """The parts of the frames the workflow makes, with global frame numbers (``video_length``:
    see frame_range)."""
    video_length, start, count = frame_range(prompt, video_length)
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


def part_prompt(prompt: dict, part: parts.Part, run_id: str, output_nodes: set[str] = frozenset(),
                to_the_end: bool = False) -> tuple[dict, str]:
    """(the prompt of one part, the id of the SaveImage whose PNGs are its frames).

    output_nodes: class types that are output nodes on the servers (from /object_info);
    all but the frames' SaveImage are left out. to_the_end: the part ends the video."""
    p = copy.deepcopy(prompt)
    size = chunk_size(p)
    for nid in samplers(p):
        p[nid]["inputs"]["frame_start"] = part.frame_start
        # the last part of a frame-guided video runs to the end of its latent: a hint video
        # longer than --video-length then gives more frames than planned, an error, not a loss
        to_end = to_the_end and p[nid]["class_type"] in FRAME_GUIDED
        p[nid]["inputs"]["frame_count"] = 0 if to_end else part.frame_count
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
