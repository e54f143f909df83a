"""Video in and out the core nodes lack: loading with the original's frame selection, and
animated GIF with a float fps (the original's output)."""
from __future__ import annotations

import os

import folder_paths
from comfy_api.latest import io

from ..t2vz_core import video_io, video_write
from ..t2vz_core.problem import Problem
from ._common import CATEGORY, advanced


def _option_input(opt) -> io.Input:
    """A Load Video option's widget, from its one declaration in t2vz_core.video_select."""
    kind = io.Int if opt.kind is int else io.Float
    extra = {} if opt.step is None else {"step": opt.step}
    inp = kind.Input(opt.name, default=opt.default, min=opt.min, max=opt.max, tooltip=opt.tooltip, **extra)
    return advanced(inp) if opt.advanced else inp


class LoadVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_LoadVideo",
            display_name="Load Video (T2VZ)",
            category=f"{CATEGORY}/video",
            description=(
                "Loads a video from ComfyUI's input folder as an IMAGE batch, picking frames like the original "
                "Text2Video-Zero (time window, resampling to a new fps, resizing the long side) plus skip / "
                "every-nth / cap. Order: time window, fps, skip, every nth, cap, resize. Outputs the frames, "
                "their fps and their count."),
            inputs=[
                io.Combo.Input("video", options=video_io.list_videos(folder_paths.get_input_directory()),
                               upload=io.UploadType.video,
                               tooltip="A video in ComfyUI's input folder (mp4, webm, mov, mkv, avi, gif, m4v); "
                                   "upload one with the button. Paths outside the input folder are refused."),
                *(_option_input(o) for o in video_io.LOAD_VIDEO_OPTIONS),
            ],
            outputs=[
                io.Image.Output("images", display_name="IMAGE", tooltip="The selected frames, in order (frames, height, width, 3)."),
                io.Float.Output("fps", display_name="fps", tooltip="Frames per second of the output: the video's fps or output_fps, "
                                "divided by select_every_nth. Connect it to Save GIF / Create Video."),
                io.Int.Output("frame_count", display_name="frame_count", tooltip="Number of frames output (use it as video_length)."),
            ],
        )

    @classmethod
    def validate_inputs(cls, video=None, **options):
        """``options``: the LOAD_VIDEO_OPTIONS given as values (not linked). Their ranges are checked
        here too: ComfyUI skips its own range check for inputs a validate_inputs takes. The message
        starts with the input it is about (t2vz_core.problem)."""
        if video is not None:
            try:
                video_io.resolve_in_folder(video, folder_paths.get_input_directory())
            except video_io.VideoIOError as e:
                return str(Problem("video", str(e)))
        problem = video_io.check_options(**options)
        return True if problem is None else str(problem)  # "<input>: <sentence>", as _common.validate

    @classmethod
    def fingerprint_inputs(cls, video, **_):
        """Reload when the file changes on disk (like core LoadImage's IS_CHANGED)."""
        try:
            st = os.stat(video_io.resolve_in_folder(video, folder_paths.get_input_directory()))
        except (video_io.VideoIOError, OSError):
            return video  # validation / execute report the problem
        return f"{video}:{st.st_mtime_ns}:{st.st_size}"

    @classmethod
    def execute(cls, video, **options) -> io.NodeOutput:
        try:
            path = video_io.resolve_in_folder(video, folder_paths.get_input_directory())
            out = video_io.read_video(path, name=video, **{**video_io.DEFAULTS, **options})
        except video_io.VideoIOError as e:
            # a plain ValueError: ComfyUI reports the error's type by its module, which for a
            # custom node is its install path (a client need not learn the server's folders)
            raise ValueError(str(e)) from None
        return io.NodeOutput(out.images, out.fps, int(out.images.shape[0]))


class SaveGIF(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_SaveGIF",
            display_name="Save GIF (T2VZ)",
            category=f"{CATEGORY}/video",
            description=(
                "Saves frames as an animated GIF in ComfyUI's output folder (never overwriting a file) "
                "and plays it in the node. For mp4, use the core Create Video + Save Video nodes."),
            inputs=[
                io.Image.Input("images", tooltip="The frames, in order (e.g. from VAE Decode)."),
                io.Float.Input("fps", default=4.0, min=0.01, max=240.0, step=0.01,
                               tooltip="Frames per second (the original Text2Video-Zero saves at 4 fps)."),
                io.String.Input("filename_prefix", default="T2VZ/video",
                                tooltip="File name prefix inside the output folder; may contain subfolders. "
                                    "A counter is appended so earlier files are kept. Absolute paths, '..' and "
                                    "links that lead out of the output folder are refused."),
                advanced(io.Int.Input("loop", default=0, min=0, max=65535,
                                      tooltip="How many times the GIF repeats; 0 loops forever.")),
            ],
            outputs=[],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, fps=None):
        if fps is not None and not fps > 0:
            return f"fps ({fps}) must be greater than 0 (for example 4.0 or 8.0)"
        return True

    @classmethod
    def execute(cls, images, fps, filename_prefix, loop=0) -> io.NodeOutput:
        if not fps > 0:
            raise ValueError(f"fps ({fps}) must be greater than 0 (for example 4.0 or 8.0)")
        frames = video_io.to_uint8_frames(images)
        n, h, w, _ = frames.shape
        out_dir = folder_paths.get_output_directory()
        video_write.output_place(filename_prefix, out_dir)  # refuses absolute, '..' and links out of it
        full_folder, filename, counter, subfolder, _ = folder_paths.get_save_image_path(filename_prefix, out_dir, w, h)
        os.makedirs(full_folder, exist_ok=True)
        while True:
            file = f"{filename}_{counter:05}_.gif"
            path = os.path.join(full_folder, file)
            if not os.path.exists(path):
                break
            counter += 1
        video_write.write_gif(path, frames, fps, loop)
        # Under "gifs" (as VideoHelperSuite does): the frontend would put an animated "images"
        # entry that is not webp/png into a <video> element, which cannot play a GIF. The pack's
        # web extension (web/js/gif_preview.js) shows it in an <img> instead.
        return io.NodeOutput(ui={"gifs": [{
            "filename": file, "subfolder": subfolder, "type": io.FolderType.output.value, "format": "image/gif",
            "frame_rate": float(fps), "frame_count": int(n), "width": int(w), "height": int(h)}]})
