"""Every example workflow's API twin keeps giving the same frames, bit for bit.

The hashes in golden/example_frames.json were recorded on the tiny checkpoints before the
core was restructured (issue 10: one request object, one core call per mode; examples added
later were recorded when they were added); any change of the method's arithmetic, noise,
motion, chunking or defaults changes a hash. Frames are compared as the lossless PNGs a
SaveImage writes (core's h264 encoder is not reproducible). The hashes hold for the CPU
kernels of this project's machines with torch's default thread count (2 cores): another
thread count (OMP_NUM_THREADS) or CPU rounds differently in the last bits.

To record again after an intended change of output: T2VZ_RECORD_GOLDEN=1 make test
PYTEST_ARGS="-k golden", and say why in the commit.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from support.server import execution_error
from support.workflows import API_DIR, pngs, tiny_api, with_png

pytestmark = [pytest.mark.server, pytest.mark.slow]

GOLDEN = Path(__file__).parent / "golden" / "example_frames.json"
RECORD = os.environ.get("T2VZ_RECORD_GOLDEN") == "1"
VIDEOS = ("pose_dance1.mp4", "canny_girl_turning.mp4", "pix2pix_camel.mp4")
EXAMPLES = sorted(p.stem for p in API_DIR.glob("*.json"))


@pytest.fixture(scope="module")
def server(comfy_server, shared_assets, tiny_controlnet, tiny_ip2p, tiny_sdxl, tiny_sdxl_controlnet):
    for name in VIDEOS:
        shutil.copyfile(shared_assets / name, comfy_server.input_dir / name)
    first_frame = Image.fromarray((np.random.default_rng(5).random((48, 80, 3)) * 255).astype(np.uint8))
    first_frame.save(comfy_server.input_dir / "t2vz_first_frame.png")  # image_to_video's Load Image
    return comfy_server


def frames_digest(frames) -> str:
    return f"{frames.shape}:{hashlib.sha256(frames.tobytes()).hexdigest()}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_gives_the_recorded_frames(server, name):
    # 3 steps and 4 frames in chunks of 2 (where the example chunks): small, yet every phase
    # (frame 0 alone, motion + renoise, chunked video steps) runs
    prompt = with_png(tiny_api(name, steps=3, video_length=4, chunk_size=2), f"golden/{name}")
    entry = server.run(prompt, timeout=900)
    assert entry["status"]["status_str"] == "success", execution_error(entry)
    digest = frames_digest(pngs(server, entry))
    recorded = json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else {}
    if RECORD:
        recorded[name] = digest
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(dict(sorted(recorded.items())), indent=1) + "\n")
    assert name in recorded, f"no recorded frames for {name}: record them with T2VZ_RECORD_GOLDEN=1"
    assert recorded[name] == digest, f"{name}: the frames changed"
