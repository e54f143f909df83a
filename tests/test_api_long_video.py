"""Long videos through the real server: chunked runs, split runs, and interrupting."""
from __future__ import annotations

import time

import numpy as np
import pytest

from support.media import read_video
from support.server import execution_error
from support.workflows import node_id, pngs, tiny_api, with_png

pytestmark = pytest.mark.server


def test_24_frames_in_chunks_of_4_make_a_24_frame_mp4(comfy_server):
    prompt = tiny_api("text2video_long", video_length=24, chunk_size=4, steps=6)
    entry = comfy_server.run(prompt, timeout=600)
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    files = comfy_server.output_files(entry, node_id=node_id(prompt, "SaveVideo"))
    frames, fps = read_video(files[0])
    assert frames.shape == (24, 64, 64, 3) and fps == pytest.approx(8.0)


def test_queue_calls_with_offsets_reproduce_one_long_run_bit_for_bit(comfy_server):
    def run(prefix, **over):
        p = with_png(tiny_api("text2video_long", video_length=10, chunk_size=4, steps=6, seed=8, **over), prefix)
        entry = comfy_server.run(p, timeout=600)
        assert entry["status"]["status_str"] == "success", execution_error(entry)
        return pngs(comfy_server, entry)

    whole = run("split/whole")
    # parts cut on the chunks of 4 (what Frame Part does): the model sees one run's batches
    first = run("split/a", frame_start=0, frame_count=4)
    second = run("split/b", frame_start=4, frame_count=6)
    assert whole.shape[0] == 10 and first.shape[0] == 4 and second.shape[0] == 6
    assert np.array_equal(np.concatenate([first, second]), whole)
    # a part cut inside a chunk is the same video up to float rounding (8-bit PNGs: 1 level)
    inside = run("split/c", frame_start=5, frame_count=3)
    assert np.abs(inside.astype(int) - whole[5:8]).max() <= 1


def test_interrupt_ends_a_chunked_run_and_the_server_keeps_serving(comfy_server):
    long = tiny_api("text2video_long", video_length=32, chunk_size=4, steps=40, seed=13)
    reply = comfy_server.queue(long)
    comfy_server.wait_running(reply["prompt_id"], timeout=120)
    time.sleep(3)  # let it get into the chunked video steps
    comfy_server.interrupt(reply["prompt_id"])
    entry = comfy_server.wait(reply["prompt_id"], timeout=120)
    events = [ev for ev, _ in entry["status"]["messages"]]
    assert "execution_interrupted" in events
    assert entry["outputs"] == {} or node_id(long, "SaveVideo") not in entry["outputs"]
    good = comfy_server.run(tiny_api("text2video_long", video_length=6, chunk_size=4, steps=4, seed=14),
                            timeout=300)
    assert good["status"]["status_str"] == "success", execution_error(good)
