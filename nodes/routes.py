"""HTTP routes the pack's web extension calls (served under /t2vz/ and /api/t2vz/)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import os

import folder_paths
from aiohttp import web

from ..t2vz_core import camera_view, preview, video_io
from ..t2vz_core.schedule import ScheduleError
from . import node_errors

logger = logging.getLogger(__name__)

# Previews are made one at a time on their own thread, so waiting ones never hold the event
# loop's default executor (aiohttp serves /view and static files with it).
_worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="t2vz-preview")


class _Gone(Exception):
    """The browser went away (a newer request replaced this one) before its turn."""


def _without_folders(text: str, folders) -> str:
    """``text`` with the server's folders named, not spelled out (a client need not learn them)."""
    import os
    for folder, called in zip(folders, ("ComfyUI's input folder", "ComfyUI's temp folder")):
        for form in {folder, os.path.realpath(folder)}:
            text = text.replace(form.rstrip(os.sep) + os.sep, called + "/").replace(form, called)
    return text


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def load_video_preview(request: web.Request) -> web.Response:
    """GET /t2vz/load_video_preview?video=NAME&frame_load_cap=..&... → JSON describing an mp4 of
    exactly the frames T2VZ_LoadVideo outputs with these options (view it with /view)."""
    query = dict(request.rel_url.query)
    video = query.get("video", "")
    folders = (folder_paths.get_input_directory(), folder_paths.get_temp_directory())

    def make():
        if request.transport is None or request.transport.is_closing():
            raise _Gone()
        return preview.load_video_preview(video, options, *folders)

    try:
        options = preview.parse_options(query)
        meta = preview.cached_preview(video, options, *folders)  # a stat and a small read
        if meta is None:
            meta = await asyncio.get_running_loop().run_in_executor(_worker, make)
    except _Gone:
        return _error(499, "the request was replaced by a newer one")
    except preview.PreviewError as e:
        return _error(400, str(e))
    except video_io.VideoIOError as e:
        return _error(400, str(e))
    except Exception as e:  # keep serving; the node shows the message
        logger.exception("Load Video preview of %r failed", video)
        return _error(500, f"preview failed: {_without_folders(str(e), folders)}")
    return web.json_response(meta)


async def camera_path(request: web.Request) -> web.Response:
    """GET /t2vz/camera_path?pan_x=..&pan_y=..&zoom=..&roll=..&centre_x=..&centre_y=..&mode=..
    &frames=N[&width=..&height=..] → JSON: per-frame camera values and frame outlines, computed
    by CameraPath itself (t2vz_core/camera_view.py), for the editor's path view."""
    try:
        path, frames, width, height = camera_view.parse_query(dict(request.rel_url.query))
        # up to 4096 frames: a fraction of a second, off the event loop
        data = await asyncio.get_running_loop().run_in_executor(
            None, camera_view.view, path, frames, width, height)
    except (ScheduleError, camera_view.ViewError) as e:
        return _error(400, str(e))
    except Exception:  # keep serving; the view shows the message
        logger.exception("camera path view failed")
        return _error(500, "the camera path could not be computed; the server log has the details")
    return web.json_response(data)


PREVIEW_PATH = "/t2vz/load_video_preview"
CAMERA_PATH = "/t2vz/camera_path"


def _server():
    """ComfyUI's running PromptServer, or None (tests that import the pack in-process)."""
    try:
        from server import PromptServer
    except ImportError:
        return None
    return getattr(PromptServer, "instance", None)


def _handlers(instance, path: str) -> list:
    """Handlers this server already has for ``path``: in its route table (custom nodes load
    before ComfyUI adds the table to the app) and in the app's router (after)."""
    found = [r.handler for r in instance.routes if isinstance(r, web.RouteDef) and r.path == path]
    for resource in instance.app.router.resources():
        if resource.canonical == path:
            found += [route.handler for route in resource]
    return found


def _folder_of(handler) -> str:
    try:
        return os.path.dirname(os.path.dirname(os.path.abspath(inspect.getfile(handler))))
    except TypeError:
        return "another folder"


def other_copy() -> str | None:
    """The folder of another copy of this pack that already registered its routes in this
    process (a git clone beside a zip download), or None. The two copies are different Python
    modules, so the server's own route table is what they share."""
    instance = _server()
    if instance is None:
        return None
    for handler in _handlers(instance, PREVIEW_PATH):
        if handler is not load_video_preview:
            return _folder_of(handler)
    return None


def register() -> bool:
    """Add the routes and the validation-message middleware (node_errors.py) to the running
    ComfyUI server, once per process. False without a server, or when another copy of the pack
    registered first (its routes serve; adding ours would stop ComfyUI from starting)."""
    instance = _server()
    if instance is None:
        return False
    handlers = _handlers(instance, PREVIEW_PATH)
    if handlers:
        return load_video_preview in handlers
    instance.routes.get(PREVIEW_PATH)(load_video_preview)
    instance.routes.get(CAMERA_PATH)(camera_path)
    node_errors.install(instance.app)
    return True
