"""Camera paths: the T2VZ_MOTION value a sampler's optional ``motion`` input takes."""
from __future__ import annotations

import logging

from comfy_api.latest import io

from ..t2vz_core.camera import MODES, CameraPath
from ..t2vz_core.schedule import ScheduleError
from ._common import CATEGORY, MOTION, advanced, as_node

DISPLAY_NAME = "Camera Path (T2VZ_CameraPath)"
log = logging.getLogger(__name__)


_SCHEDULE_HELP = ("A number (the same every frame) or keyframes like \"0:(0), 12:(8), 24:(-4)\": linear "
                  "between keyframes; before the first and after the last keyframe its value holds (so a "
                  "video longer than the schedule keeps the last value).")
_DEFAULTS = dict(pan_x="0", pan_y="0", zoom="1", roll="0", centre_x=0.5, centre_y=0.5, mode="accumulated")


class CameraPathNode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="T2VZ_CameraPath",
            display_name="Camera Path (T2VZ)",
            category=f"{CATEGORY}/motion",
            description=(
                "A camera move for Text2Video-Zero's motion field: pan, zoom and roll per frame, as numbers "
                "or keyframed schedules (Deforum-style \"0:(0), 12:(8)\"). Frame 0 never moves. A constant "
                "pan in 'accumulated' mode is exactly the sampler's motion_field_strength_x/_y."),
            inputs=[
                io.String.Input("pan_x", default=_DEFAULTS["pan_x"],
                                tooltip="Horizontal camera move in pixels of a 512-pixel-wide frame (the same "
                                    "meaning at every resolution, as motion_field_strength_x): positive shows "
                                    "content further right, so the picture slides left. " + _SCHEDULE_HELP),
                io.String.Input("pan_y", default=_DEFAULTS["pan_y"],
                                tooltip="Vertical camera move in pixels of a 512-pixel-high frame: positive "
                                    "shows content further down, so the picture slides up. " + _SCHEDULE_HELP),
                io.String.Input("zoom", default=_DEFAULTS["zoom"],
                                tooltip="Zoom factor, above 0: 1 = none, 1.02 = 2% closer, 0.98 = 2% further. "
                                    "In 'accumulated' mode each frame multiplies it again. " + _SCHEDULE_HELP),
                io.String.Input("roll", default=_DEFAULTS["roll"],
                                tooltip="Rotation in degrees; positive turns the picture counter-clockwise. "
                                    "Turns are in real pixels, so wide frames are not sheared. " + _SCHEDULE_HELP),
                advanced(io.Float.Input("centre_x", default=_DEFAULTS["centre_x"], min=0.0, max=1.0, step=0.01,
                                        tooltip="Horizontal centre of zoom and roll as a fraction of the frame's "
                                            "width: 0 = left edge, 0.5 = middle, 1 = right edge.")),
                advanced(io.Float.Input("centre_y", default=_DEFAULTS["centre_y"], min=0.0, max=1.0, step=0.01,
                                        tooltip="Vertical centre of zoom and roll as a fraction of the frame's "
                                            "height: 0 = top, 0.5 = middle, 1 = bottom.")),
                io.Combo.Input("mode", options=list(MODES), default=_DEFAULTS["mode"],
                               tooltip="'accumulated': the values are steps per frame, added up (zoom "
                                   "multiplied) from frame 0, so a constant keeps the camera moving. "
                                   "'absolute': the values are where the camera is at each frame, measured "
                                   "from frame 0 (frame 0's own value is subtracted, so frame 0 never moves)."),
            ],
            outputs=[
                MOTION.Output("motion", tooltip="The camera path (T2VZ_MOTION). Connect it to the 'motion' "
                              "input of Text2Video-Zero Sampler or Motion-Field Latent Init; it replaces their "
                              "motion_field_strength_x/_y."),
            ],
        )

    @classmethod
    def validate_inputs(cls, pan_x=None, pan_y=None, zoom=None, roll=None, centre_x=None, centre_y=None,
                        mode=None):
        given = dict(pan_x=pan_x, pan_y=pan_y, zoom=zoom, roll=roll, centre_x=centre_x, centre_y=centre_y,
                     mode=mode)
        for name in ("centre_x", "centre_y"):
            val = given[name]
            if val is not None and not 0.0 <= val <= 1.0:
                return f"{name}: {val} must be between 0 (one edge) and 1 (the other edge); 0.5 is the middle"
        # a linked input is not known at queue time (None): check the rest with a neutral value
        args = {k: (v if v is not None else _DEFAULTS[k]) for k, v in given.items()}
        try:
            CameraPath.from_schedules(**args)
        except ScheduleError as err:
            return str(err)
        return True

    @classmethod
    def execute(cls, pan_x="0", pan_y="0", zoom="1", roll="0", centre_x=0.5, centre_y=0.5,
                mode="accumulated") -> io.NodeOutput:
        with as_node(DISPLAY_NAME):
            path = CameraPath.from_schedules(pan_x=pan_x, pan_y=pan_y, zoom=zoom, roll=roll, centre_x=centre_x,
                                             centre_y=centre_y, mode=mode)
        log.debug("%s", path.describe())
        return io.NodeOutput(path)
