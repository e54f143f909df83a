"""One validation message, one red input.

ComfyUI (0.3.75 and 0.38.1, execution.py ``validate_inputs``) copies the message a node's
``validate_inputs`` returns onto EVERY argument of that function present in the prompt, so
the editor marks each of them red. The pack's messages start with the name of the input they
are about ("t0: t0 (47) must be smaller than t1 (47) ..."); this server middleware rewrites the
``node_errors`` that ``POST /prompt`` returns so that, for the pack's nodes (class_type
``T2VZ_...``), each such message is listed once, on that input. Everything else is passed on
untouched.
"""
from __future__ import annotations

import json
import logging
import re

from aiohttp import web

logger = logging.getLogger(__name__)

PACK_PREFIX = "T2VZ_"
PROMPT_PATHS = ("/prompt", "/api/prompt")
_NAMED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*): (.+)", re.DOTALL)


def _named_text(error: dict) -> tuple[str, str] | None:
    """(input, text) when ``error`` is ComfyUI's copy of a prefixed validate_inputs message."""
    if not isinstance(error, dict) or error.get("type") != "custom_validation_failed":
        return None
    arg = (error.get("extra_info") or {}).get("input_name")
    details = error.get("details")
    if not isinstance(arg, str) or not isinstance(details, str) or not details.startswith(f"{arg} - "):
        return None
    match = _NAMED.fullmatch(details[len(arg) + 3:])
    return (match.group(1), match.group(2)) if match else None


def _line(error: dict) -> str:
    return f"{error.get('message')}: {error.get('details')}"


def collapse(node_errors: dict) -> dict[str, str | None]:
    """Rewrite ``node_errors`` in place; returns {old "message: details" line: new line, or None
    where the error was dropped} for the summary text ComfyUI puts beside it."""
    lines: dict[str, str | None] = {}
    for entry in node_errors.values():
        if not isinstance(entry, dict) or not str(entry.get("class_type", "")).startswith(PACK_PREFIX):
            continue
        errors = entry.get("errors")
        if not isinstance(errors, list):
            continue
        kept, placed = [], {}
        for error in errors:
            named = _named_text(error)
            if named is None:
                kept.append(error)
                continue
            if named in placed:
                lines[_line(error)] = None
                continue
            name, text = named
            one = dict(error, details=f"{name} - {text}", extra_info=dict(error.get("extra_info") or {}, input_name=name))
            placed[named] = one
            kept.append(one)
            lines[_line(error)] = _line(one)
        entry["errors"] = kept
    return lines


def rewrite_reply(body: dict) -> bool:
    """Collapse the node_errors of a /prompt reply (and its summary text); True if it changed."""
    node_errors = body.get("node_errors")
    if not isinstance(node_errors, dict) or not node_errors:
        return False
    lines = collapse(node_errors)
    if not lines:
        return False
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("details"), str):
        out = []
        for line in error["details"].split("\n"):
            if line not in lines:
                out.append(line)
            elif lines[line] is not None:
                out.append(lines[line])
        error["details"] = "\n".join(out)
    return True


@web.middleware
async def one_error_per_message(request: web.Request, handler):
    response = await handler(request)
    if request.method != "POST" or request.path not in PROMPT_PATHS:
        return response
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return response
    try:
        body = json.loads(response.body)
    except (TypeError, ValueError):
        return response
    if not isinstance(body, dict) or not rewrite_reply(body):
        return response
    return web.json_response(body, status=response.status)


def install(app: web.Application) -> bool:
    """Append the middleware to ComfyUI's app; possible until the server starts (main.py loads
    custom nodes before it sets the app up). False, with a debug line, when it is too late."""
    if one_error_per_message in app.middlewares:
        return True
    try:
        app.middlewares.append(one_error_per_message)
    except RuntimeError as e:  # the app is frozen: the server is already running
        logger.debug("validation messages stay as ComfyUI lists them (%s)", e)
        return False
    return True
