"""Video in and out the core nodes lack: loading with the original's frame selection, and
animated GIF with a float fps (the original's output)."""
from __future__ import annotations

import os

import folder_paths
from comfy_api.latest import io

from ..t2vz_core import video_io, video_write
from ._common import advanced

CATEGORY = "Text2Video-Zero"


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
                io.Int.Input("frame_load_cap", default=0, min=0, max=100000,
                             tooltip="At most this many frames (after skipping and every-nth); 0 = all."),
                io.Int.Input("skip_first_frames", default=0, min=0, max=100000,
                             tooltip="Drop this many frames at the start (counted after the time window "
                                 "and fps resampling)."),
                io.Int.Input("select_every_nth", default=1, min=1, max=1000,
                             tooltip="Keep every n-th frame (1 = all, 2 = every second frame, which halves "
                                 "the fps)."),
                io.Int.Input("resolution", default=512, min=0, max=16384, step=8,
                             tooltip="Long side in pixels; the other side keeps the aspect ratio. Both sides "
                                 "are rounded to multiples of 8 (the original rounds to 64). 0 = keep the "
                                 "video's size."),
                advanced(io.Float.Input("output_fps", default=0.0, min=0.0, max=1000.0, step=0.01,
                                        tooltip="Resample in time to this fps by picking frames evenly (as the "
                                            "original's prepare_video; higher than the video's fps repeats "
                                            "frames). 0 = keep the video's fps.")),
                advanced(io.Float.Input("start_time", default=0.0, min=0.0, max=1e6, step=0.01,
                                        tooltip="Start of the part to read, in seconds.")),
                advanced(io.Float.Input("end_time", default=0.0, min=0.0, max=1e6, step=0.01,
                                        tooltip="End of the part to read, in seconds (not included); "
                                            "0 = to the end of the video.")),
            ],
            outputs=[
                io.Image.Output("images", display_name="IMAGE", tooltip="The selected frames, in order (frames, height, width, 3)."),
                io.Float.Output("fps", display_name="fps", tooltip="Frames per second of the output: the video's fps or output_fps, "
                                "divided by select_every_nth. Connect it to Save GIF / Create Video."),
                io.Int.Output("frame_count", display_name="frame_count", tooltip="Number of frames output (use it as video_length)."),
            ],
        )

    @classmethod
    def validate_inputs(cls, video=None, frame_load_cap=None, skip_first_frames=None, select_every_nth=None,
                        resolution=None, output_fps=None, start_time=None, end_time=None):
        if video is not None:
            try:
                video_io.resolve_in_folder(video, folder_paths.get_input_directory())
            except video_io.VideoIOError as e:
                return str(e)
        return video_io.check_options(start_time, end_time, output_fps, skip_first_frames, select_every_nth,
                                      frame_load_cap, resolution) or True

    @classmethod
    def fingerprint_inputs(cls, video, **_):
        """Reload when the file changes on disk (like core LoadImage's IS_CHANGED)."""
        try:
            st = os.stat(video_io.resolve_in_folder(video, folder_paths.get_input_directory()))
        except (video_io.VideoIOError, OSError):
            return video  # validation / execute report the problem
        return f"{video}:{st.st_mtime_ns}:{st.st_size}"

    @classmethod
    def execute(cls, video, frame_load_cap=0, skip_first_frames=0, select_every_nth=1, resolution=512,
                output_fps=0.0, start_time=0.0, end_time=0.0) -> io.NodeOutput:
        path = video_io.resolve_in_folder(video, folder_paths.get_input_directory())
        out = video_io.read_video(path, frame_load_cap=frame_load_cap, skip_first_frames=skip_first_frames,
                                  select_every_nth=select_every_nth, output_fps=output_fps, start_time=start_time,
                                  end_time=end_time, resolution=resolution, name=video)
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
