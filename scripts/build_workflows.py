"""Builds example_workflows/*.json (UI format) and their API twins (example_workflows/api/).

Each workflow is described once below; node definitions (widget order, socket types)
come from the in-process ComfyUI, so the UI file and its API twin cannot drift apart.
Run: .venv/bin/python scripts/build_workflows.py   (tests check the files are current)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

SD15 = "v1-5-pruned-emaonly-fp16.safetensors"
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
NOTE_SD15 = ("Needs an SD1.5 checkpoint in models/checkpoints, for example {ckpt} "
             "(any SD1.x base, DreamBooth or fine-tune works; LoRAs can be added with Load LoRA).")


def _t2v_video_settings(**over):
    s = dict(width=512, height=512, video_length=8, motion_field_strength_x=12.0, motion_field_strength_y=12.0,
             t0=44, t1=47, t_mode="scaled from 50 steps", use_motion_field=True, frame_start=0, frame_count=0)
    s.update(over)
    return s


def _sampling_settings(**over):
    s = dict(seed=0, steps=50, cfg=7.5, sampler_name="ddim", scheduler="ddim_uniform")
    s.update(over)
    return s


PROMPT = "a horse galloping on a street, high quality, detailed"
NEGATIVE = "blurry, low quality, deformed"

def _controlnet_video(head, load, controlnet, canny, cfg, chunk_size, steps, prefix):
    """Checkpoint + prompts (``head``, ids 1-3) → a ControlNet-guided video: cross-frame
    model and ControlNet, one hint per frame (the frames, or their Canny edges), an empty
    latent of the video's size and length, Video KSampler with shared noise, mp4 out."""
    title, video, resolution = load
    nodes = list(head)
    ids = iter(range(4, 100))

    def add(class_type, inputs, node_title=None):
        nid = next(ids)
        nodes.append((nid, class_type, node_title, inputs))
        return nid

    cfm = add("T2VZ_CrossFrameAttention", {"model": (1, 0)})
    frames = add("T2VZ_LoadVideo", {"video": video, "resolution": resolution}, title)
    hints = add("T2VZ_CannyEdges", {"images": (frames, 0), "low_threshold": 100, "high_threshold": 200}) \
        if canny else frames
    cn = add("ControlNetLoader", {"control_net_name": controlnet})
    cfcn = add("T2VZ_CrossFrameControlNet", {"control_net": (cn, 0)})
    apply = add("ControlNetApplyAdvanced", {"positive": (2, 0), "negative": (3, 0), "control_net": (cfcn, 0),
                                            "image": (hints, 0), "strength": 1.0, "start_percent": 0.0,
                                            "end_percent": 1.0})
    size = add("GetImageSize", {"image": (hints, 0)})
    empty = add("EmptyLatentImage", {"width": (size, 0), "height": (size, 1), "batch_size": (size, 2)})
    vks = add("T2VZ_VideoKSampler", {"model": (cfm, 0), "positive": (apply, 0), "negative": (apply, 1),
                                     "latent_image": (empty, 0), "seed": 0, "steps": steps, "cfg": cfg,
                                     "sampler_name": "euler", "scheduler": "normal",
                                     "noise_mode": "shared (same noise for every frame)", "chunk_size": chunk_size,
                                     "denoise": 1.0})
    decoded = add("VAEDecode", {"samples": (vks, 0), "vae": (1, 2)})
    video_out = add("CreateVideo", {"images": (decoded, 0), "fps": (frames, 1)})
    add("SaveVideo", {"video": (video_out, 0), "filename_prefix": prefix, "format": "auto", "codec": "auto"})
    return nodes


# node: (id, class_type, title, inputs) -- input values: constants, or ("<node id>", slot)
WORKFLOWS = {
    "text2video": {
        "note": ("Text-to-video with Text2Video-Zero in one node. Frame 0 is denoised alone, copied to "
                 "every frame with a global camera move (motion_field_strength x/y), renoised and "
                 "finished with cross-frame attention so identity and background stay consistent. "
                 "Saves an mp4 (Save Video plays it in the node). " + NOTE_SD15),
        "nodes": [
            (1, "CheckpointLoaderSimple", None, {"ckpt_name": SD15}),
            (2, "CLIPTextEncode", "Positive prompt", {"text": PROMPT, "clip": (1, 1)}),
            (3, "CLIPTextEncode", "Negative prompt", {"text": NEGATIVE, "clip": (1, 1)}),
            (4, "T2VZ_Sampler", None, {"model": (1, 0), "positive": (2, 0), "negative": (3, 0),
                                       **_sampling_settings(), **_t2v_video_settings(), "chunk_size": 8,
                                       "use_cf_attn": True}),
            (5, "VAEDecode", None, {"samples": (4, 0), "vae": (1, 2)}),
            (6, "CreateVideo", None, {"images": (5, 0), "fps": 4.0}),
            (7, "SaveVideo", None, {"video": (6, 0), "filename_prefix": "T2VZ/text2video", "format": "auto",
                                    "codec": "auto"}),
        ],
    },
    "text2video_long": {
        "note": ("A long video: 48 frames denoised 8 at a time. Every chunk attends to frame 0, which is "
                 "computed once per step, so the video is the same as in one piece while memory follows "
                 "chunk_size, not the video's length. To split a longer video over several queue runs, "
                 "use frame_start / frame_count (advanced): the parts match the frames of one long run. "
                 + NOTE_SD15),
        "nodes": [
            (1, "CheckpointLoaderSimple", None, {"ckpt_name": SD15}),
            (2, "CLIPTextEncode", "Positive prompt", {"text": "a horse galloping on a beach at sunset, high quality",
                                                      "clip": (1, 1)}),
            (3, "CLIPTextEncode", "Negative prompt", {"text": NEGATIVE, "clip": (1, 1)}),
            (4, "T2VZ_Sampler", None, {"model": (1, 0), "positive": (2, 0), "negative": (3, 0),
                                       **_sampling_settings(),
                                       **_t2v_video_settings(video_length=48, motion_field_strength_x=4.0,
                                                             motion_field_strength_y=0.0),
                                       "chunk_size": 8, "use_cf_attn": True}),
            (5, "VAEDecode", None, {"samples": (4, 0), "vae": (1, 2)}),
            (6, "CreateVideo", None, {"images": (5, 0), "fps": 8.0}),
            (7, "SaveVideo", None, {"video": (6, 0), "filename_prefix": "T2VZ/text2video_long", "format": "auto",
                                    "codec": "auto"}),
        ],
    },
    "pose_to_video": {
        "note": ("Pose-guided video: an OpenPose skeleton video drives the motion, the prompt the look. "
                 "Cross-frame attention on the model and on the ControlNet keeps the subject consistent; "
                 "every frame starts from the same noise. Put pose_dance1.mp4 (or any pose video) in "
                 "ComfyUI/input. Needs an SD1.5 checkpoint ({ckpt}) and the SD1.5 OpenPose ControlNet "
                 "(control_v11p_sd15_openpose_fp16.safetensors in models/controlnet).").format(ckpt=SD15),
        "nodes": _controlnet_video(
            [(1, "CheckpointLoaderSimple", None, {"ckpt_name": SD15}),
             (2, "CLIPTextEncode", "Positive prompt", {"text": "an astronaut dancing in outer space, high quality",
                                                       "clip": (1, 1)}),
             (3, "CLIPTextEncode", "Negative prompt", {"text": NEGATIVE, "clip": (1, 1)})],
            ("Load pose video", "pose_dance1.mp4", 512), "control_v11p_sd15_openpose_fp16.safetensors",
            canny=False, cfg=7.5, chunk_size=8, steps=20, prefix="T2VZ/pose_to_video"),
    },
    "canny_to_video": {
        "note": ("Edge-guided video: Canny edges of a real video drive the shapes, the prompt the look; "
                 "cross-frame attention on the model and the ControlNet keeps it consistent. Put "
                 "canny_girl_turning.mp4 (or any video) in ComfyUI/input. Needs an SD1.5 checkpoint ({ckpt}) "
                 "and the SD1.5 Canny ControlNet (control_v11p_sd15_canny_fp16.safetensors in "
                 "models/controlnet).").format(ckpt=SD15),
        "nodes": _controlnet_video(
            [(1, "CheckpointLoaderSimple", None, {"ckpt_name": SD15}),
             (2, "CLIPTextEncode", "Positive prompt", {"text": "oil painting of a beautiful girl, detailed, high quality",
                                                       "clip": (1, 1)}),
             (3, "CLIPTextEncode", "Negative prompt", {"text": NEGATIVE, "clip": (1, 1)})],
            ("Load video", "canny_girl_turning.mp4", 512), "control_v11p_sd15_canny_fp16.safetensors",
            canny=True, cfg=9.0, chunk_size=8, steps=20, prefix="T2VZ/canny_to_video"),
    },
    "pix2pix_video_edit": {
        "note": ("Video Instruct-Pix2Pix: edit a real video with an instruction. InstructPixToPixConditioning "
                 "adds the frames to the prompts; DualCFGGuider runs the three branches (text+image, image, "
                 "none) with cfg_conds = text guidance and cfg_cond2_negative = image guidance; "
                 "cross-frame attention across all three keeps the edit consistent. Put pix2pix_camel.mp4 "
                 "(or any video) in ComfyUI/input. Needs the InstructPix2Pix checkpoint "
                 "(instruct-pix2pix-00-22000.safetensors in models/checkpoints)."),
        "nodes": [
            (1, "CheckpointLoaderSimple", None, {"ckpt_name": "instruct-pix2pix-00-22000.safetensors"}),
            (2, "CLIPTextEncode", "Instruction", {"text": "make it Van Gogh Starry Night style", "clip": (1, 1)}),
            (3, "CLIPTextEncode", "Negative prompt", {"text": "", "clip": (1, 1)}),
            (4, "T2VZ_CrossFrameAttention", None, {"model": (1, 0)}),
            (5, "T2VZ_LoadVideo", "Load video", {"video": "pix2pix_camel.mp4", "resolution": 512}),
            (6, "InstructPixToPixConditioning", None, {"positive": (2, 0), "negative": (3, 0), "vae": (1, 2),
                                                       "pixels": (5, 0)}),
            (7, "DualCFGGuider", None, {"model": (4, 0), "cond1": (6, 0), "cond2": (6, 1), "negative": (3, 0),
                                        "cfg_conds": 7.5, "cfg_cond2_negative": 1.5, "style": "regular"}),
            (8, "KSamplerSelect", None, {"sampler_name": "euler_ancestral"}),
            (9, "BasicScheduler", None, {"model": (4, 0), "scheduler": "normal", "steps": 20, "denoise": 1.0}),
            (10, "T2VZ_VideoSamplerCustom", None, {"guider": (7, 0), "sampler": (8, 0), "sigmas": (9, 0),
                                                   "latent_image": (6, 2), "seed": 0,
                                                   "noise_mode": "shared (same noise for every frame)",
                                                   "chunk_size": 8}),
            (11, "VAEDecode", None, {"samples": (10, 0), "vae": (1, 2)}),
            (12, "CreateVideo", None, {"images": (11, 0), "fps": (5, 1)}),
            (13, "SaveVideo", None, {"video": (12, 0), "filename_prefix": "T2VZ/pix2pix_video_edit", "format": "auto",
                                     "codec": "auto"}),
        ],
    },
    "text2video_step_by_step": {
        "note": ("The same method as text2video, one step per node: Cross-Frame Attention patches a copy "
                 "of the model; Motion-Field Latent Init denoises frame 0 to T1/T0, copies and moves it "
                 "and renoises the other frames; Video Sampler finishes all frames with any sampler "
                 "(use the same prompts and cfg). Saves an mp4 and a GIF. " + NOTE_SD15),
        "nodes": [
            (1, "CheckpointLoaderSimple", None, {"ckpt_name": SD15}),
            (2, "CLIPTextEncode", "Positive prompt", {"text": PROMPT, "clip": (1, 1)}),
            (3, "CLIPTextEncode", "Negative prompt", {"text": NEGATIVE, "clip": (1, 1)}),
            (4, "T2VZ_CrossFrameAttention", None, {"model": (1, 0)}),
            (5, "T2VZ_MotionFieldLatentInit", None, {"model": (4, 0), "positive": (2, 0), "negative": (3, 0),
                                                     **_sampling_settings(), **_t2v_video_settings()}),
            (6, "T2VZ_VideoSampler", None, {"model": (4, 0), "positive": (2, 0), "negative": (3, 0),
                                            "latent": (5, 0), "sigmas": (5, 1), "seed": 0, "cfg": 7.5,
                                            "sampler_name": "ddim", "chunk_size": 8}),
            (7, "VAEDecode", None, {"samples": (6, 0), "vae": (1, 2)}),
            (8, "CreateVideo", None, {"images": (7, 0), "fps": 4.0}),
            (9, "SaveVideo", None, {"video": (8, 0), "filename_prefix": "T2VZ/step_by_step", "format": "auto",
                                    "codec": "auto"}),
            (10, "T2VZ_SaveGIF", None, {"images": (7, 0), "fps": 4.0, "filename_prefix": "T2VZ/step_by_step",
                                        "loop": 0}),
        ],
    },
}


def _dreambooth_canny():
    nodes = [n for n in WORKFLOWS["canny_to_video"]["nodes"]]
    dreambooth = "avatar_style_dreambooth_sd15.safetensors"
    nodes[0] = (1, "CheckpointLoaderSimple", "DreamBooth checkpoint", {"ckpt_name": dreambooth})
    nodes[1] = (2, "CLIPTextEncode", "Positive prompt",
                {"text": "avatar style, a beautiful girl turning her head, detailed", "clip": (1, 1)})
    nodes = [(15, *n[1:3], {**n[3], "filename_prefix": "T2VZ/dreambooth_canny_to_video"}) if n[0] == 15 else n
             for n in nodes]
    return {
        "note": ("Your own DreamBooth (or fine-tuned) SD1.5 model + the Canny ControlNet: a real video "
                 "re-rendered in the model's style, as in the original's DreamBooth demos (Avatar, GTA-5, "
                 "Arcane styles). Put any SD1.5 DreamBooth checkpoint in models/checkpoints and pick it in "
                 "the loader (the name here is a placeholder), use its trigger words in the prompt, put "
                 "canny_girl_turning.mp4 (or any video) in ComfyUI/input, and "
                 "control_v11p_sd15_canny_fp16.safetensors in models/controlnet."),
        "nodes": nodes,
    }


WORKFLOWS["dreambooth_canny_to_video"] = _dreambooth_canny()

SDXL = "sd_xl_base_1.0.safetensors"
SDXL_NOTE = ("Needs an SDXL checkpoint in models/checkpoints, for example {ckpt} (SDXL fine-tunes and "
             "SDXL-family models such as Segmind Vega or KOALA work too). SDXL is made for 1024×1024; "
             "the prompts use CLIP Text Encode (SDXL) so each frame carries SDXL's size/crop conditioning.").format(ckpt=SDXL)


def _sdxl_prompts(text, negative):
    size = {"width": 1024, "height": 1024, "crop_w": 0, "crop_h": 0, "target_width": 1024, "target_height": 1024}
    return [
        (2, "CLIPTextEncodeSDXL", "Positive prompt (SDXL)", {"clip": (1, 1), **size, "text_g": text, "text_l": text}),
        (3, "CLIPTextEncodeSDXL", "Negative prompt (SDXL)", {"clip": (1, 1), **size, "text_g": negative,
                                                             "text_l": negative}),
    ]


WORKFLOWS["sdxl_text2video"] = {
    "note": ("Text-to-video on SDXL with the same pack nodes: no SDXL-specific node is needed. The motion "
             "strength keeps its meaning (pixels of a 512-pixel frame, i.e. a fraction of the frame), and "
             "t0/t1 are scaled to the step count. " + SDXL_NOTE),
    "nodes": [
        (1, "CheckpointLoaderSimple", None, {"ckpt_name": SDXL}),
        *_sdxl_prompts("a panda playing guitar on times square, high quality", NEGATIVE),
        (4, "T2VZ_Sampler", None, {"model": (1, 0), "positive": (2, 0), "negative": (3, 0),
                                   **_sampling_settings(), **_t2v_video_settings(width=1024, height=1024),
                                   "chunk_size": 8, "use_cf_attn": True}),
        (5, "VAEDecode", None, {"samples": (4, 0), "vae": (1, 2)}),
        (6, "CreateVideo", None, {"images": (5, 0), "fps": 4.0}),
        (7, "SaveVideo", None, {"video": (6, 0), "filename_prefix": "T2VZ/sdxl_text2video", "format": "auto",
                                "codec": "auto"}),
    ],
}

WORKFLOWS["sdxl_pose_to_video"] = {
    "note": ("Pose-guided video on SDXL: an SDXL OpenPose ControlNet (e.g. thibaud/controlnet-openpose-sdxl-1.0, "
             "saved as OpenPoseXL2.safetensors in models/controlnet) with cross-frame attention on the model and "
             "the ControlNet, shared noise. Put pose_dance1.mp4 (or any pose video) in ComfyUI/input. " + SDXL_NOTE),
    "nodes": _controlnet_video(
        [(1, "CheckpointLoaderSimple", None, {"ckpt_name": SDXL}),
         *_sdxl_prompts("an astronaut dancing in outer space, high quality", NEGATIVE)],
        ("Load pose video", "pose_dance1.mp4", 1024), "OpenPoseXL2.safetensors",
        canny=False, cfg=7.0, chunk_size=4, steps=25, prefix="T2VZ/sdxl_pose_to_video"),
}


def _defs():
    from support import comfy_env
    comfy_env.setup_comfy()
    import nodes
    return nodes.NODE_CLASS_MAPPINGS


def _spec(cls):
    it = cls.INPUT_TYPES()
    ordered = list(it.get("required", {}).items()) + list(it.get("optional", {}).items())
    out = []
    for name, spec in ordered:
        typ = spec[0]
        opts = spec[1] if len(spec) > 1 else {}
        is_widget = isinstance(typ, list) or typ in WIDGET_TYPES
        out.append((name, "COMBO" if isinstance(typ, list) else typ, opts, is_widget))
    return out


def _outputs(cls):
    types = list(cls.RETURN_TYPES)
    names = list(getattr(cls, "RETURN_NAMES", None) or types)
    return types, names


def build(name, wf, defs):
    ui_nodes, links, api = [], [], {}
    link_id = 0
    out_links = {}  # (node, slot) -> [link ids]
    col = {}
    col_bottom = {}  # column -> y below its last node
    for order, (nid, ctype, title, inputs) in enumerate(wf["nodes"]):
        cls = defs[ctype]
        spec = _spec(cls)
        known = {s[0] for s in spec}
        unknown = set(inputs) - known
        if unknown:
            raise KeyError(f"{name}: {ctype} has no inputs {sorted(unknown)}")
        sockets, widgets, api_inputs = [], [], {}
        for iname, itype, opts, is_widget in spec:
            if iname not in inputs:
                if is_widget and "default" in opts:
                    val = opts["default"]
                else:
                    if not opts.get("optional") and iname in cls.INPUT_TYPES().get("required", {}):
                        raise KeyError(f"{name}: {ctype}.{iname} is required")
                    continue
            else:
                val = inputs[iname]
            if isinstance(val, tuple):
                link_id += 1
                src, slot = val
                src_type = _outputs(defs[next(n[1] for n in wf["nodes"] if n[0] == src)])[0][slot]
                links.append([link_id, src, slot, nid, None, src_type])
                out_links.setdefault((src, slot), []).append(link_id)
                socket = {"name": iname, "type": itype, "link": link_id}
                if is_widget:  # a widget fed by a link keeps its place (and value) in widgets_values
                    socket["widget"] = {"name": iname}
                    widgets.append(opts.get("default", 0))
                    if opts.get("control_after_generate"):
                        widgets.append("fixed")
                sockets.append(socket)
                api_inputs[iname] = [str(src), slot]
            else:
                widgets.append(val)
                if opts.get("control_after_generate"):
                    widgets.append("fixed")
                api_inputs[iname] = val
        if any(opts.get("video_upload") or opts.get("image_upload") for _, _, opts, _ in spec):
            widgets.append("image")  # the frontend's upload button saves this value, as on core's Load Image
        for i, s in enumerate(sockets):
            for ln in links:
                if ln[0] == s["link"]:
                    ln[4] = i
        depth = col.setdefault(nid, 0)
        for v in inputs.values():
            if isinstance(v, tuple):
                depth = max(depth, col.get(v[0], 0) + 1)
        col[nid] = depth
        height = _height(ctype, sockets, widgets, len(_outputs(cls)[0]))
        y = col_bottom.get(depth, 60)
        col_bottom[depth] = y + height + 30 + 40  # + the title bar, + a gap
        node = {"id": nid, "type": ctype, "pos": [40 + 360 * depth, y],
                "size": [320, height], "flags": {}, "order": order, "mode": 0, "inputs": sockets,
                "properties": {"Node name for S&R": ctype}, "widgets_values": widgets}
        if title:
            node["title"] = title
        ui_nodes.append(node)
        api[str(nid)] = {"class_type": ctype, "inputs": api_inputs, "_meta": {"title": title or ctype}}
    for node in ui_nodes:
        types, names = _outputs(defs[node["type"]])
        node["outputs"] = [{"name": n, "type": t, "links": out_links.get((node["id"], i), []), "slot_index": i}
                           for i, (t, n) in enumerate(zip(types, names))]
    note_id = max(n["id"] for n in ui_nodes) + 1
    ui_nodes.insert(0, {"id": note_id, "type": "Note", "pos": [40, -200], "size": [700, 160], "flags": {},
                        "order": len(ui_nodes), "mode": 0, "inputs": [], "outputs": [],
                        "properties": {"text": ""}, "widgets_values": [wf["note"]],
                        "color": "#432", "bgcolor": "#653"})
    ui = {"last_node_id": note_id, "last_link_id": link_id, "nodes": ui_nodes, "links": links, "groups": [],
          "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4}
    return ui, api


# Room the editor gives what a node shows besides its sockets and widgets: the pack's web
# previews (web/js), the motion pad, core's video preview and upload button.
EXTRA_HEIGHT = {"T2VZ_LoadVideo": 24 + 300, "T2VZ_SaveGIF": 300, "SaveVideo": 280, "T2VZ_Sampler": 150,
                "T2VZ_MotionFieldLatentInit": 150}


def _height(ctype: str, sockets: list, widgets: list, n_outputs: int) -> int:
    """The node's height (without its title bar) in the editor, so that nodes never overlap."""
    rows = max(sum(1 for s in sockets if "widget" not in s), n_outputs)
    return 12 + 20 * rows + 24 * len(widgets) + EXTRA_HEIGHT.get(ctype, 0)


def render_all() -> dict[Path, str]:
    defs = _defs()
    files = {}
    for name, wf in WORKFLOWS.items():
        ui, api = build(name, wf, defs)
        files[ROOT / "example_workflows" / f"{name}.json"] = json.dumps(ui, indent=2) + "\n"
        files[ROOT / "example_workflows" / "api" / f"{name}.json"] = json.dumps(api, indent=2) + "\n"
    return files


def main() -> int:
    for path, text in render_all().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
