"""Builds example_workflows/*.json (UI format) and their API twins (example_workflows/api/).

Each example is a small graph built by name (``g.add(...)`` returns a node, ``node["MODEL"]``
is its output called MODEL); EXAMPLES lists them all with their Notes. workflow_graph.py
renders a graph to both formats from the node schemas of the in-process ComfyUI, so the UI
file and its API twin cannot drift apart. Loaders naming a file in MODELS carry its download
link (``properties.models``, as ComfyUI's own templates do), so the frontend offers the
download when the file is missing.
Run: .venv/bin/python scripts/build_workflows.py   (tests check the files are current)
"""
import json
import logging
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]
from workflow_graph import Graph, Node, Out, node_schemas, render  # noqa: E402

log = logging.getLogger(__name__)

# -- the models the examples name, with where ComfyUI reads them and where to download them --

SD15 = "v1-5-pruned-emaonly-fp16.safetensors"
SDXL = "sd_xl_base_1.0.safetensors"
IP2P = "instruct-pix2pix-00-22000.safetensors"
OPENPOSE = "control_v11p_sd15_openpose_fp16.safetensors"
CANNY = "control_v11p_sd15_canny_fp16.safetensors"
OPENPOSE_XL = "OpenPoseXL2.safetensors"
DREAMBOOTH = "avatar_style_dreambooth_sd15.safetensors"  # a placeholder: the user's own model
HF = "https://huggingface.co"
MODELS = {  # file name -> (models/ folder, download url)
    SD15: ("checkpoints", f"{HF}/Comfy-Org/stable-diffusion-v1-5-archive/resolve/main/{SD15}"),
    SDXL: ("checkpoints", f"{HF}/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/{SDXL}"),
    IP2P: ("checkpoints", f"{HF}/timbrooks/instruct-pix2pix/resolve/main/{IP2P}"),
    OPENPOSE: ("controlnet", f"{HF}/comfyanonymous/ControlNet-v1-1_fp16_safetensors/resolve/main/{OPENPOSE}"),
    CANNY: ("controlnet", f"{HF}/comfyanonymous/ControlNet-v1-1_fp16_safetensors/resolve/main/{CANNY}"),
    OPENPOSE_XL: ("controlnet", f"{HF}/thibaud/controlnet-openpose-sdxl-1.0/resolve/main/{OPENPOSE_XL}"),
}

# -- the pieces the examples share --------------------------------------------------------------

PROMPT = "a horse galloping on a street, high quality, detailed"
NEGATIVE = "blurry, low quality, deformed"
SAMPLING = dict(seed=0, steps=50, cfg=7.5, sampler_name="ddim", scheduler="ddim_uniform")
VIDEO = dict(width=512, height=512, video_length=8, motion_field_strength_x=12.0, motion_field_strength_y=12.0,
             t0=44, t1=47, t_mode="scaled from 50 steps", use_motion_field=True, frame_start=0, frame_count=0)
SHARED_NOISE = "shared (same noise for every frame)"
FIRST_FRAME_IMAGE = "t2vz_first_frame.png"
TRAVEL = ('"0": "a horse galloping on a street in spring, high quality, detailed",\n'
          '"15": "a horse galloping on a street in winter, snow, high quality, detailed"')
NEEDS_SD15 = (f"Needs an SD1.5 checkpoint in models/checkpoints, for example {SD15} (any SD1.x base, "
              "DreamBooth or fine-tune works; LoRAs can be added with Load LoRA).")
NEEDS_SDXL = (f"Needs an SDXL checkpoint in models/checkpoints, for example {SDXL} (SDXL fine-tunes and "
              "SDXL-family models such as Segmind Vega or KOALA work too). SDXL is made for 1024×1024; "
              "the prompts use CLIP Text Encode (SDXL) so each frame carries SDXL's size/crop conditioning.")


def checkpoint_and_prompts(g: Graph, ckpt: str, positive: str, negative: str = NEGATIVE, *,
                           ckpt_title: str | None = None, sdxl: bool = False, positive_title="Positive prompt"):
    """Load Checkpoint and the two prompts (CLIP Text Encode, or the SDXL one at 1024×1024)."""
    loader = g.add("CheckpointLoaderSimple", ckpt_title, ckpt_name=ckpt)
    if sdxl:
        size = dict(width=1024, height=1024, crop_w=0, crop_h=0, target_width=1024, target_height=1024)
        pos = g.add("CLIPTextEncodeSDXL", "Positive prompt (SDXL)", clip=loader["CLIP"], **size,
                    text_g=positive, text_l=positive)
        neg = g.add("CLIPTextEncodeSDXL", "Negative prompt (SDXL)", clip=loader["CLIP"], **size,
                    text_g=negative, text_l=negative)
    else:
        pos = g.add("CLIPTextEncode", positive_title, text=positive, clip=loader["CLIP"])
        neg = g.add("CLIPTextEncode", "Negative prompt", text=negative, clip=loader["CLIP"])
    return loader, pos, neg


def decode_and_save(g: Graph, samples: Out, vae: Out, fps, prefix: str) -> Node:
    """VAE Decode → Create Video → Save Video (mp4); returns the decode node."""
    decoded = g.add("VAEDecode", samples=samples, vae=vae)
    video = g.add("CreateVideo", images=decoded["IMAGE"], fps=fps)
    g.add("SaveVideo", video=video["VIDEO"], filename_prefix=prefix, format="auto", codec="auto")
    return decoded


def one_node_text2video(g: Graph, *, ckpt=SD15, prompt=PROMPT, sdxl=False, video=None, fps=4.0, prefix):
    """Text-to-video with the all-in-one Text2Video-Zero Sampler."""
    loader, pos, neg = checkpoint_and_prompts(g, ckpt, prompt, sdxl=sdxl)
    sampler = g.add("T2VZ_Sampler", model=loader["MODEL"], positive=pos["CONDITIONING"],
                    negative=neg["CONDITIONING"], **SAMPLING, **{**VIDEO, **(video or {})}, chunk_size=8,
                    use_cf_attn=True)
    decode_and_save(g, sampler["LATENT"], loader["VAE"], fps, prefix)


def camera_path_video(g: Graph, *, prefix):
    """A camera path (pan, zoom, roll keyframes) instead of the sampler's x/y strengths."""
    loader, pos, neg = checkpoint_and_prompts(g, SD15, PROMPT)
    path = g.add("T2VZ_CameraPath", "Camera path", pan_x="0:(0), 7:(8)", pan_y="0", zoom="1.02",
                 roll="0:(0), 7:(2)", centre_x=0.5, centre_y=0.5, mode="accumulated")
    sampler = g.add("T2VZ_Sampler", model=loader["MODEL"], positive=pos["CONDITIONING"],
                    negative=neg["CONDITIONING"], **SAMPLING, **VIDEO, chunk_size=8, use_cf_attn=True,
                    motion=path["T2VZ_MOTION"], first_frame_mode="pinned", image_strength=0.5, first_frame_release=0.5)
    decode_and_save(g, sampler["LATENT"], loader["VAE"], 4.0, prefix)


def video_part(g: Graph, *, prefix):
    """One part of a long video: Frame Part gives the sampler its frame_start / frame_count."""
    loader, pos, neg = checkpoint_and_prompts(g, SD15, PROMPT)
    part = g.add("T2VZ_FramePart", "Frame part (set part_index per server or run)", video_length=48,
                 part_count=2, part_index=0)
    sampler = g.add("T2VZ_Sampler", model=loader["MODEL"], positive=pos["CONDITIONING"],
                    negative=neg["CONDITIONING"], **SAMPLING,
                    **{**VIDEO, "video_length": 48, "frame_start": part["frame_start"],
                       "frame_count": part["frame_count"]}, chunk_size=8, use_cf_attn=True,
                    first_frame_mode="pinned", image_strength=0.5, first_frame_release=0.5)
    decode_and_save(g, sampler["LATENT"], loader["VAE"], 8.0, prefix)


def image_to_video(g: Graph, *, prefix):
    """A user's image as frame 0: Load Image → scale to the video's size → VAE Encode → Sampler."""
    loader, pos, neg = checkpoint_and_prompts(g, SD15, "a horse galloping on a street, high quality, detailed")
    image = g.add("LoadImage", "Your image (frame 0)", image=FIRST_FRAME_IMAGE)
    scaled = g.add("ImageScale", image=image["IMAGE"], upscale_method="lanczos", width=512, height=512,
                   crop="center")
    encoded = g.add("VAEEncode", pixels=scaled["IMAGE"], vae=loader["VAE"])
    sampler = g.add("T2VZ_Sampler", model=loader["MODEL"], positive=pos["CONDITIONING"],
                    negative=neg["CONDITIONING"], **SAMPLING, **VIDEO, chunk_size=8, use_cf_attn=True,
                    first_frame=encoded["LATENT"], first_frame_mode="pinned", image_strength=0.5,
                    first_frame_release=0.5)
    decode_and_save(g, sampler["LATENT"], loader["VAE"], 4.0, prefix)


def prompt_travel(g: Graph, *, prefix):
    """Prompt travel: a prompt schedule (one conditioning row per frame) into the sampler."""
    loader = g.add("CheckpointLoaderSimple", ckpt_name=SD15)
    schedule = g.add("T2VZ_PromptSchedule", "Prompt schedule", clip=loader["CLIP"], keyframes=TRAVEL,
                     video_length=16)
    neg = g.add("CLIPTextEncode", "Negative prompt", text=NEGATIVE, clip=loader["CLIP"])
    sampler = g.add("T2VZ_Sampler", model=loader["MODEL"], positive=schedule["CONDITIONING"],
                    negative=neg["CONDITIONING"], **SAMPLING, **{**VIDEO, "video_length": 16,
                                                                  "motion_field_strength_y": 0.0}, chunk_size=8,
                    use_cf_attn=True, first_frame_mode="pinned", image_strength=0.5, first_frame_release=0.5)
    decode_and_save(g, sampler["LATENT"], loader["VAE"], 8.0, prefix)


def smooth_background(g: Graph, *, prefix):
    """Background smoothing: a first pass, masks, smoothing at T1, a second pass with the same sigmas."""
    loader, pos, neg = checkpoint_and_prompts(g, SD15, PROMPT)
    prompts = dict(positive=pos["CONDITIONING"], negative=neg["CONDITIONING"])
    cfm = g.add("T2VZ_CrossFrameAttention", model=loader["MODEL"])
    init = g.add("T2VZ_MotionFieldLatentInit", model=cfm["MODEL"], **prompts, **SAMPLING, **VIDEO)
    video_steps = dict(seed=0, cfg=7.5, sampler_name="ddim", chunk_size=8)
    first = g.add("T2VZ_VideoSampler", "Video Sampler (first pass)", model=cfm["MODEL"], **prompts,
                  latent=init["LATENT"], sigmas=init["SIGMAS"], **video_steps)
    decode_and_save(g, first["LATENT"], loader["VAE"], 4.0, f"{prefix}_first_pass")
    masks = g.add("SolidMask", "Foreground masks (replace with background removal)", value=0.0, width=512,
                  height=512)
    smoothed = g.add("T2VZ_BackgroundSmoothing", latent=init["LATENT"], masks=masks["MASK"], strength=0.4,
                     dilation=5, invert=False)
    second = g.add("T2VZ_VideoSampler", "Video Sampler (smoothed)", model=cfm["MODEL"], **prompts,
                   latent=smoothed["LATENT"], sigmas=init["SIGMAS"], **video_steps)
    decode_and_save(g, second["LATENT"], loader["VAE"], 4.0, prefix)


def step_by_step_text2video(g: Graph, *, prefix):
    """The same method, one node per step, saved as mp4 and GIF."""
    loader, pos, neg = checkpoint_and_prompts(g, SD15, PROMPT)
    prompts = dict(positive=pos["CONDITIONING"], negative=neg["CONDITIONING"])
    cfm = g.add("T2VZ_CrossFrameAttention", model=loader["MODEL"])
    init = g.add("T2VZ_MotionFieldLatentInit", model=cfm["MODEL"], **prompts, **SAMPLING, **VIDEO)
    sampler = g.add("T2VZ_VideoSampler", model=cfm["MODEL"], **prompts, latent=init["LATENT"],
                    sigmas=init["SIGMAS"], seed=0, cfg=7.5, sampler_name="ddim", chunk_size=8)
    decoded = decode_and_save(g, sampler["LATENT"], loader["VAE"], 4.0, prefix)
    g.add("T2VZ_SaveGIF", images=decoded["IMAGE"], fps=4.0, filename_prefix=prefix, loop=0)


def controlnet_video(g: Graph, *, ckpt, prompt, video, controlnet, prefix, ckpt_title=None, sdxl=False,
                     video_title="Load video", resolution=512, canny=False, cfg=7.5, chunk_size=8, steps=20):
    """A ControlNet-guided video: cross-frame model and ControlNet, one hint per frame (the
    frames, or their Canny edges), an empty latent of the video's size and length, Video
    KSampler with shared noise, mp4 out."""
    loader, pos, neg = checkpoint_and_prompts(g, ckpt, prompt, ckpt_title=ckpt_title, sdxl=sdxl)
    cfm = g.add("T2VZ_CrossFrameAttention", model=loader["MODEL"])
    frames = g.add("T2VZ_LoadVideo", video_title, video=video, resolution=resolution)
    hints = g.add("T2VZ_CannyEdges", images=frames["IMAGE"], low_threshold=100, high_threshold=200) \
        if canny else frames
    cn = g.add("ControlNetLoader", control_net_name=controlnet)
    cfcn = g.add("T2VZ_CrossFrameControlNet", control_net=cn["CONTROL_NET"])
    apply = g.add("ControlNetApplyAdvanced", positive=pos["CONDITIONING"], negative=neg["CONDITIONING"],
                  control_net=cfcn["CONTROL_NET"], image=hints["IMAGE"], strength=1.0, start_percent=0.0,
                  end_percent=1.0)
    size = g.add("GetImageSize", image=hints["IMAGE"])
    empty = g.add("EmptyLatentImage", width=size["width"], height=size["height"], batch_size=size["batch_size"])
    sampler = g.add("T2VZ_VideoKSampler", model=cfm["MODEL"], positive=apply["positive"],
                    negative=apply["negative"], latent_image=empty["LATENT"], seed=0, steps=steps, cfg=cfg,
                    sampler_name="euler", scheduler="normal", noise_mode=SHARED_NOISE, chunk_size=chunk_size,
                    denoise=1.0)
    decode_and_save(g, sampler["LATENT"], loader["VAE"], frames["fps"], prefix)


def pix2pix_video_edit(g: Graph, *, prefix):
    """Video Instruct-Pix2Pix: the frames join the prompts; DualCFGGuider runs three branches."""
    loader, pos, neg = checkpoint_and_prompts(g, IP2P, "make it Van Gogh Starry Night style", "",
                                              positive_title="Instruction")
    cfm = g.add("T2VZ_CrossFrameAttention", model=loader["MODEL"])
    frames = g.add("T2VZ_LoadVideo", "Load video", video="pix2pix_camel.mp4", resolution=512)
    ip2p = g.add("InstructPixToPixConditioning", positive=pos["CONDITIONING"], negative=neg["CONDITIONING"],
                 vae=loader["VAE"], pixels=frames["IMAGE"])
    guider = g.add("DualCFGGuider", model=cfm["MODEL"], cond1=ip2p["positive"], cond2=ip2p["negative"],
                   negative=neg["CONDITIONING"], cfg_conds=7.5, cfg_cond2_negative=1.5, style="regular")
    sampler_select = g.add("KSamplerSelect", sampler_name="euler_ancestral")
    sigmas = g.add("BasicScheduler", model=cfm["MODEL"], scheduler="normal", steps=20, denoise=1.0)
    sampler = g.add("T2VZ_VideoSamplerCustom", guider=guider["GUIDER"], sampler=sampler_select["SAMPLER"],
                    sigmas=sigmas["SIGMAS"], latent_image=ip2p["latent"], seed=0, noise_mode=SHARED_NOISE,
                    chunk_size=8)
    decode_and_save(g, sampler["LATENT"], loader["VAE"], frames["fps"], prefix)


# -- the examples: file name -> (Note, graph) -------------------------------------------------------


@dataclass(frozen=True)
class Example:
    note: str
    build: Callable[[Graph], None]


EXAMPLES = {
    "text2video": Example(
        "Text-to-video with Text2Video-Zero in one node. Frame 0 is denoised alone, copied to every frame "
        "with a global camera move (motion_field_strength x/y), renoised and finished with cross-frame "
        "attention so identity and background stay consistent. Saves an mp4 (Save Video plays it in the "
        "node). " + NEEDS_SD15,
        partial(one_node_text2video, prefix="T2VZ/text2video")),
    "text2video_long": Example(
        "A long video: 48 frames denoised 8 at a time. Every chunk attends to frame 0, which is computed "
        "once per step, so the video is the same as in one piece while memory follows chunk_size, not the "
        "video's length. To split a longer video over several queue runs, use frame_start / frame_count "
        "(advanced): the parts match the frames of one long run. " + NEEDS_SD15,
        partial(one_node_text2video, prompt="a horse galloping on a beach at sunset, high quality",
                video=dict(video_length=48, motion_field_strength_x=4.0, motion_field_strength_y=0.0), fps=8.0,
                prefix="T2VZ/text2video_long")),
    "pose_to_video": Example(
        "Pose-guided video: an OpenPose skeleton video drives the motion, the prompt the look. Cross-frame "
        "attention on the model and on the ControlNet keeps the subject consistent; every frame starts from "
        "the same noise. Put pose_dance1.mp4 (or any pose video) in ComfyUI/input. Needs an SD1.5 "
        f"checkpoint ({SD15}) and the SD1.5 OpenPose ControlNet ({OPENPOSE} in models/controlnet).",
        partial(controlnet_video, ckpt=SD15, prompt="an astronaut dancing in outer space, high quality",
                video="pose_dance1.mp4", video_title="Load pose video", controlnet=OPENPOSE,
                prefix="T2VZ/pose_to_video")),
    "canny_to_video": Example(
        "Edge-guided video: Canny edges of a real video drive the shapes, the prompt the look; cross-frame "
        "attention on the model and the ControlNet keeps it consistent. Put canny_girl_turning.mp4 (or any "
        f"video) in ComfyUI/input. Needs an SD1.5 checkpoint ({SD15}) and the SD1.5 Canny ControlNet "
        f"({CANNY} in models/controlnet).",
        partial(controlnet_video, ckpt=SD15, prompt="oil painting of a beautiful girl, detailed, high quality",
                video="canny_girl_turning.mp4", controlnet=CANNY, canny=True, cfg=9.0,
                prefix="T2VZ/canny_to_video")),
    "pix2pix_video_edit": Example(
        "Video Instruct-Pix2Pix: edit a real video with an instruction. InstructPixToPixConditioning adds "
        "the frames to the prompts; DualCFGGuider runs the three branches (text+image, image, none) with "
        "cfg_conds = text guidance and cfg_cond2_negative = image guidance; cross-frame attention across "
        "all three keeps the edit consistent. Put pix2pix_camel.mp4 (or any video) in ComfyUI/input. Needs "
        f"the InstructPix2Pix checkpoint ({IP2P} in models/checkpoints).",
        partial(pix2pix_video_edit, prefix="T2VZ/pix2pix_video_edit")),
    "camera_path": Example(
        "A camera path instead of a constant motion: Camera Path (T2VZ) keyframes a pan that speeds up, a "
        "slow zoom and a roll (Deforum-style \"frame:(value)\" schedules); its MOTION replaces the "
        "sampler's motion_field_strength_x/_y. Frame 0 never moves. " + NEEDS_SD15,
        partial(camera_path_video, prefix="T2VZ/camera_path")),
    "text2video_part": Example(
        "One part of a 48-frame video: Frame Part (T2VZ) turns part_index of part_count into the "
        "sampler's frame_start / frame_count. Queue it once per part (or on several servers, keeping the "
        "same seed): every part recomputes frame 0 as its anchor, so the parts join into the video of one "
        "long run. " + NEEDS_SD15,
        partial(video_part, prefix="T2VZ/text2video_part")),
    "image_to_video": Example(
        "Image to video: your image is frame 0 and every frame starts from it. Put an image in "
        f"ComfyUI/input and pick it in Load Image ({FIRST_FRAME_IMAGE} here); it is scaled and cropped to "
        "the video's 512×512 and encoded. first_frame_mode 'pinned' keeps frame 0 exactly your image; "
        "image_strength (advanced) sets how much of the image's layout the other frames keep. " + NEEDS_SD15,
        partial(image_to_video, prefix="T2VZ/image_to_video")),
    "prompt_travel": Example(
        "Prompt travel: the Prompt Schedule gives every frame its own conditioning row, blended between "
        "keyframes (here spring → winter over 16 frames). Frame 0 is the anchor every frame attends to, so "
        "style and attribute changes travel well while swapping the subject fights the anchor. Keep the "
        "schedule's video_length equal to the sampler's. " + NEEDS_SD15,
        partial(prompt_travel, prefix="T2VZ/prompt_travel")),
    "text2video_smooth_background": Example(
        "Background smoothing (paper §3.3): the video is made once (Motion-Field Latent Init → Video "
        "Sampler), a foreground mask is taken per frame (1 = subject), and the init's latent at T1 goes "
        "through Background Smoothing (T2VZ) into a second Video Sampler with the same SIGMAS: every frame's "
        "background is pulled towards frame 0's, moved with the camera, so it flickers less. The Solid Mask "
        "here marks everything as background; replace it with any background-removal node fed by the first "
        "pass's frames whose MASK is 1 on the subject. Saves both videos. " + NEEDS_SD15,
        partial(smooth_background, prefix="T2VZ/smooth_background")),
    "text2video_step_by_step": Example(
        "The same method as text2video, one step per node: Cross-Frame Attention patches a copy of the "
        "model; Motion-Field Latent Init denoises frame 0 to T1/T0, copies and moves it and renoises the "
        "other frames; Video Sampler finishes all frames with any sampler (use the same prompts and cfg). "
        "Saves an mp4 and a GIF. " + NEEDS_SD15,
        partial(step_by_step_text2video, prefix="T2VZ/step_by_step")),
    "dreambooth_canny_to_video": Example(
        "Your own DreamBooth (or fine-tuned) SD1.5 model + the Canny ControlNet: a real video re-rendered "
        "in the model's style, as in the original's DreamBooth demos (Avatar, GTA-5, Arcane styles). Put "
        "any SD1.5 DreamBooth checkpoint in models/checkpoints and pick it in the loader (the name here is "
        "a placeholder), use its trigger words in the prompt, put canny_girl_turning.mp4 (or any video) in "
        f"ComfyUI/input, and {CANNY} in models/controlnet.",
        partial(controlnet_video, ckpt=DREAMBOOTH, ckpt_title="DreamBooth checkpoint",
                prompt="avatar style, a beautiful girl turning her head, detailed",
                video="canny_girl_turning.mp4", controlnet=CANNY, canny=True, cfg=9.0,
                prefix="T2VZ/dreambooth_canny_to_video")),
    "sdxl_text2video": Example(
        "Text-to-video on SDXL with the same pack nodes: no SDXL-specific node is needed. The motion "
        "strength keeps its meaning (pixels of a 512-pixel frame, i.e. a fraction of the frame), and "
        "t0/t1 are scaled to the step count. " + NEEDS_SDXL,
        partial(one_node_text2video, ckpt=SDXL, prompt="a panda playing guitar on times square, high quality",
                sdxl=True, video=dict(width=1024, height=1024), prefix="T2VZ/sdxl_text2video")),
    "sdxl_pose_to_video": Example(
        "Pose-guided video on SDXL: an SDXL OpenPose ControlNet (e.g. thibaud/controlnet-openpose-sdxl-1.0, "
        f"saved as {OPENPOSE_XL} in models/controlnet) with cross-frame attention on the model and the "
        "ControlNet, shared noise. Put pose_dance1.mp4 (or any pose video) in ComfyUI/input. " + NEEDS_SDXL,
        partial(controlnet_video, ckpt=SDXL, sdxl=True, prompt="an astronaut dancing in outer space, high quality",
                video="pose_dance1.mp4", video_title="Load pose video", resolution=1024,
                controlnet=OPENPOSE_XL, cfg=7.0, chunk_size=4, steps=25, prefix="T2VZ/sdxl_pose_to_video")),
}


def render_all() -> dict[Path, str]:
    schema = node_schemas()
    files = {}
    for name, example in EXAMPLES.items():
        graph = Graph()
        example.build(graph)
        ui, api = render(name, example.note, graph, schema, MODELS)
        files[ROOT / "example_workflows" / f"{name}.json"] = json.dumps(ui, indent=2) + "\n"
        files[ROOT / "example_workflows" / "api" / f"{name}.json"] = json.dumps(api, indent=2) + "\n"
    return files


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for path, text in render_all().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        log.info("%s", path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
