"""HTTP routes the pack's web extension calls (served under /t2vz/ and /api/t2vz/)."""
from __future__ import annotations

import asyncio
import logging

import folder_paths
from aiohttp import web

from ..t2vz_core import preview, video_io

logger = logging.getLogger(__name__)

_registered = False


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def load_video_preview(request: web.Request) -> web.Response:
    """GET /t2vz/load_video_preview?video=NAME&frame_load_cap=..&... → JSON describing an mp4 of
    exactly the frames T2VZ_LoadVideo outputs with these options (view it with /view)."""
    query = dict(request.rel_url.query)
    video = query.get("video", "")
    try:
        options = preview.parse_options(query)
        meta = await asyncio.get_running_loop().run_in_executor(
            None, preview.load_video_preview, video, options, folder_paths.get_input_directory(),
            folder_paths.get_temp_directory())
    except preview.PreviewError as e:
        return _error(400, str(e))
    except video_io.VideoIOError as e:
        return _error(400, str(e))
    except Exception as e:  # keep serving; the node shows the message
        logger.exception("Load Video preview of %r failed", video)
        return _error(500, f"preview failed: {e}")
    return web.json_response(meta)


def register() -> None:
    """Add the routes to the running ComfyUI server, once; a no-op without a server (tests that
    import the pack in-process)."""
    global _registered
    if _registered:
        return
    try:
        from server import PromptServer
    except ImportError:
        return
    instance = getattr(PromptServer, "instance", None)
    if instance is None:
        return
    instance.routes.get("/t2vz/load_video_preview")(load_video_preview)
    _registered = True
