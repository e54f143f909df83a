"""The real ComfyUI server runs core graphs on the tiny checkpoint and reports bad prompts."""
from __future__ import annotations

import numpy as np
from PIL import Image

from support.graphs import core_txt2img
from support.server import execution_error


def test_core_graph_writes_two_64px_pngs(comfy_server):
    entry = comfy_server.run(core_txt2img(batch_size=2, steps=2, filename_prefix="smoke/first"))
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    files = comfy_server.output_files(entry, node_id="7", key="images")
    assert len(files) == 2
    for path in files:
        assert path.is_file() and path.suffix == ".png"
        assert comfy_server.output_dir in path.parents
        with Image.open(path) as img:
            assert img.size == (64, 64)
            pixels = np.asarray(img.convert("RGB"))
        assert pixels.std() > 0, f"{path} is a flat image"


def test_bad_prompt_is_rejected_and_server_keeps_working(comfy_server):
    bad = core_txt2img(steps=-1)
    reply = comfy_server.queue(bad)
    assert "prompt_id" not in reply
    assert reply["error"]["type"] == "prompt_outputs_failed_validation"
    errors = reply["node_errors"]["5"]["errors"]
    assert any(e["extra_info"].get("input_name") == "steps" for e in errors), errors

    entry = comfy_server.run(core_txt2img(batch_size=1, seed=1, filename_prefix="smoke/after_bad"))
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    assert len(comfy_server.output_files(entry, node_id="7")) == 1


def test_interrupt_stops_a_running_prompt(comfy_server):
    reply = comfy_server.queue(core_txt2img(batch_size=1, steps=10000, filename_prefix="smoke/interrupted"))
    comfy_server.wait_running(reply["prompt_id"])
    comfy_server.interrupt()
    entry = comfy_server.wait(reply["prompt_id"], timeout=60)
    assert entry["status"]["status_str"] == "error"
    events = [event for event, _ in entry["status"]["messages"]]
    assert "execution_interrupted" in events, events
    assert comfy_server.output_files(entry) == []
