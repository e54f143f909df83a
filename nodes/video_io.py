"""Video output the core nodes lack: animated GIF with a float fps (the original's output)."""
from __future__ import annotations

import os

import folder_paths
from comfy_api.latest import io, ui

from ..t2vz_core import video_io
from ._common import advanced

CATEGORY = "Text2Video-Zero"


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
                                    "A counter is appended so earlier files are kept."),
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
        full_folder, filename, counter, subfolder, _ = folder_paths.get_save_image_path(filename_prefix, out_dir, w, h)
        os.makedirs(full_folder, exist_ok=True)
        while True:
            file = f"{filename}_{counter:05}_.gif"
            path = os.path.join(full_folder, file)
            if not os.path.exists(path):
                break
            counter += 1
        video_io.write_gif(path, frames, fps, loop)
        return io.NodeOutput(ui=ui.SavedImages([ui.SavedResult(file, subfolder, io.FolderType.output)],
                                               is_animated=True))
