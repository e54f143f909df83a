"""The in-process host is the one setup_dev.sh made, on CPU, with this pack loaded by ComfyUI."""
from __future__ import annotations

import sys
from pathlib import Path

from support.comfy_env import REPO_ROOT


def test_host_modules_win_over_the_pack(comfy_env):
    import comfy.model_management
    import nodes

    assert Path(nodes.__file__).resolve() == comfy_env.comfyui_dir / "nodes.py"
    assert comfy.model_management.get_torch_device().type == "cpu"
    assert sys.path.index(str(comfy_env.comfyui_dir)) < sys.path.index(str(REPO_ROOT))


def test_core_extras_import(comfy_env):
    # spandrel and torchaudio are left out on purpose by setup_dev.sh
    allowed = {"nodes_upscale_model.py", "nodes_audio.py", "nodes_audio_encoder.py"}
    assert set(comfy_env.import_failed) <= allowed


def test_pack_is_loaded_by_comfyui(comfy_env):
    import nodes

    assert comfy_env.pack_loaded, "ComfyUI failed to import the pack; see the captured log"
    assert comfy_env.pack_node_ids
    for node_id in comfy_env.pack_node_ids:
        assert nodes.NODE_CLASS_MAPPINGS[node_id].RELATIVE_PYTHON_MODULE.startswith("custom_nodes.")
