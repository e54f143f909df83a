"""The node_errors rewrite on its own (the real-server and browser tests are in
test_api_robustness.py and test_browser_node_errors.py): what changes, what is left alone, and
a server that has already started keeps ComfyUI's listing instead of failing."""
from __future__ import annotations

import copy
import importlib.util

import pytest
from aiohttp import web

from support.comfy_env import REPO_ROOT


@pytest.fixture(scope="module")
def node_errors():
    spec = importlib.util.spec_from_file_location("t2vz_node_errors_under_test", REPO_ROOT / "nodes" / "node_errors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _copies(message: str, args=("steps", "t0", "t1")) -> list[dict]:
    """What ComfyUI makes of one validate_inputs message: one error per argument."""
    return [{"type": "custom_validation_failed", "message": "Custom validation failed for node",
             "details": f"{a} - {message}", "extra_info": {"input_name": a}} for a in args]


def _reply(class_type: str, errors: list[dict]) -> dict:
    lines = "\n".join(f"{e['message']}: {e['details']}" for e in errors)
    return {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                      "details": lines, "extra_info": {}},
            "node_errors": {"4": {"errors": errors, "dependent_outputs": ["7"], "class_type": class_type}}}


def test_a_prefixed_message_lands_once_on_its_input(node_errors):
    other = {"type": "value_bigger_than_max", "message": "Value 9 bigger than max of 8", "details": "cfg",
             "extra_info": {"input_name": "cfg"}}
    reply = _reply("T2VZ_Sampler", [other, *_copies("t1: t1 (50) must be smaller than 50")])
    assert node_errors.rewrite_reply(reply)
    errors = reply["node_errors"]["4"]["errors"]
    assert errors == [other, {"type": "custom_validation_failed", "message": "Custom validation failed for node",
                              "details": "t1 - t1 (50) must be smaller than 50", "extra_info": {"input_name": "t1"}}]
    assert reply["error"]["details"].splitlines() == [
        "Value 9 bigger than max of 8: cfg", "Custom validation failed for node: t1 - t1 (50) must be smaller than 50"]


@pytest.mark.parametrize("class_type, message", [
    ("T2VZTest_TwoInputCheck", "t0: t0 (47) must be smaller than t1 (47)"),  # not a pack node
    ("KSampler", "t0: t0 (47) must be smaller than t1 (47)"),
    ("T2VZ_Sampler", "t0 (47) must be smaller than t1 (47)"),  # no "input: " prefix
    ("T2VZ_Sampler", "see the docs: t0 must be smaller"),       # the prefix is not an input name
])
def test_everything_else_is_left_as_comfyui_lists_it(node_errors, class_type, message):
    reply = _reply(class_type, _copies(message))
    before = copy.deepcopy(reply)
    assert not node_errors.rewrite_reply(reply)
    assert reply == before


def test_a_started_server_keeps_comfyuis_listing(node_errors):
    app = web.Application()
    assert node_errors.install(app) and node_errors.install(app)
    assert list(app.middlewares).count(node_errors.one_error_per_message) == 1
    frozen = web.Application()
    frozen.freeze()
    assert node_errors.install(frozen) is False
    assert node_errors.one_error_per_message not in frozen.middlewares
