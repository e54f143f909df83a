"""Session-wide test setup.

At import time the in-process ComfyUI host is made importable and this pack's nodes are
registered through ComfyUI's own loader (see support/comfy_env.py). So in any test:

    import nodes
    nodes.NODE_CLASS_MAPPINGS["T2VZ_..."]

Fixtures:
    comfy_env      ComfyEnv(comfyui_dir, pack_node_ids, import_failed)
    comfy_dirs     the in-process folders (input/output/temp), redirected to a tmp dir
    tiny_ckpt      Path of the cached tiny SD1.5 checkpoint in the host's models/checkpoints
    comfy_server   a running ComfyServer (real main.py on loopback), one per session
    shared_assets  Path of ../shared/assets (the real input videos; $T2VZ_SHARED_ASSETS overrides)
"""
from __future__ import annotations

import os
import subprocess
import types
from pathlib import Path

import pytest

from support import comfy_env as _comfy_env
from support.server import ComfyServer
from support.tiny_models import ensure_tiny_checkpoint

COMFY = _comfy_env.setup_comfy()


class _CheckoutIsNotATestPackage:
    """The checkout's __init__.py is ComfyUI's entry point, not a test package. Left to itself
    pytest would import it while collecting: as a package named after the checkout's folder,
    or, when that name is not a valid package name (a ``mktemp -d`` clone: tmp.XXXX), as a
    plain module whose relative import fails, with the checkout put first on sys.path (where
    its nodes/ would shadow ComfyUI's nodes.py). A plugin, not a conftest hook: conftest hooks
    are not asked about the folder the conftest sits under."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_directory(self, path, parent):
        if path == parent.config.rootpath:
            return pytest.Dir.from_parent(parent, path=path)
        return None


def pytest_configure(config):
    config.pluginmanager.register(_CheckoutIsNotATestPackage(), "t2vz-checkout-is-not-a-test-package")



@pytest.fixture(scope="session")
def comfy_env() -> _comfy_env.ComfyEnv:
    return COMFY


@pytest.fixture(scope="session", autouse=True)
def comfy_dirs(tmp_path_factory) -> types.SimpleNamespace:
    """In-process nodes read and write under a session tmp dir, never the host's folders."""
    import folder_paths

    base = tmp_path_factory.mktemp("comfy_inprocess")
    dirs = types.SimpleNamespace(input=base / "input", output=base / "output", temp=base / "temp")
    for d in vars(dirs).values():
        d.mkdir()
    saved = (folder_paths.get_input_directory(), folder_paths.get_output_directory(),
             folder_paths.get_temp_directory())
    folder_paths.set_input_directory(str(dirs.input))
    folder_paths.set_output_directory(str(dirs.output))
    folder_paths.set_temp_directory(str(dirs.temp))
    yield dirs
    folder_paths.set_input_directory(saved[0])
    folder_paths.set_output_directory(saved[1])
    folder_paths.set_temp_directory(saved[2])


@pytest.fixture(scope="session")
def tiny_ckpt() -> Path:
    return ensure_tiny_checkpoint()


@pytest.fixture(scope="module")
def tiny_dog(tiny_ckpt):
    """The tiny SD1.5 checkpoint loaded once per module, with the prompts several modules use:
    (model, "a dog running", "blurry", "a cat", vae)."""
    import nodes
    model, clip, vae = nodes.CheckpointLoaderSimple().load_checkpoint(tiny_ckpt.name)[:3]
    enc = nodes.CLIPTextEncode()
    return (model, enc.encode(clip, "a dog running")[0], enc.encode(clip, "blurry")[0],
            enc.encode(clip, "a cat")[0], vae)


def _shared_assets_candidates() -> list[Path]:
    env = os.environ.get("T2VZ_SHARED_ASSETS")
    found = [Path(env)] if env else []
    found.append(_comfy_env.REPO_ROOT.parent / "shared" / "assets")
    # a fresh clone made elsewhere (e.g. in /tmp) still finds ../shared of the repo it came from
    origin = subprocess.run(["git", "-C", str(_comfy_env.REPO_ROOT), "config", "--get", "remote.origin.url"],
                            capture_output=True, text=True, check=False).stdout.strip()
    if origin and Path(origin).is_dir():
        found.append(Path(origin).resolve().parent / "shared" / "assets")
    return found


@pytest.fixture(scope="session")
def shared_assets() -> Path:
    """../shared/assets (or $T2VZ_SHARED_ASSETS): the real input videos. Copy them into a
    server's input folder with comfy_server.copy_to_input(path); never into the repo."""
    candidates = _shared_assets_candidates()
    for path in candidates:
        if path.is_dir():
            return path
    pytest.fail("the test videos are missing; looked in " + ", ".join(map(str, candidates))
                + " (set T2VZ_SHARED_ASSETS to their folder)")


TEST_HOST_NODES = Path(__file__).parent / "support" / "host_nodes" / "t2vz_test_nodes.py"


def _link_test_host_nodes(comfyui_dir: Path) -> None:
    """Test-only nodes (support/host_nodes) for the server: inputs no core node makes."""
    link = Path(comfyui_dir) / "custom_nodes" / TEST_HOST_NODES.name
    if link.is_symlink() and link.resolve() == TEST_HOST_NODES.resolve():
        return
    if link.exists() or link.is_symlink():
        link.unlink()
    link.symlink_to(TEST_HOST_NODES)


@pytest.fixture(scope="session")
def comfy_server(tiny_ckpt, tmp_path_factory):
    """The real ComfyUI on 127.0.0.1:<free port>, CPU, with the tiny checkpoint available as
    `t2vz_tiny_sd15.safetensors`. Its log is attached to the failure report of any test
    that used it (see pytest_runtest_makereport)."""
    _link_test_host_nodes(COMFY.comfyui_dir)
    server = ComfyServer(tmp_path_factory.mktemp("comfy_server"), comfyui_dir=COMFY.comfyui_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("comfy_server")
    if report.when == "call" and report.failed and server is not None:
        report.sections.append(("ComfyUI server log (tail)", server.log_tail(80)))


@pytest.fixture(scope="session")
def tiny_controlnet() -> Path:
    """Path of the cached tiny SD1.5 ControlNet in the host's models/controlnet (LDM layout,
    non-zero zero-convs); load it with nodes.ControlNetLoader by its file name."""
    from support.tiny_control import ensure_tiny_controlnet

    return ensure_tiny_controlnet()


@pytest.fixture(scope="session")
def tiny_ip2p() -> Path:
    """Path of the cached tiny InstructPix2Pix checkpoint (the tiny SD1.5 checkpoint with an
    8-channel first conv) in the host's models/checkpoints."""
    from support.tiny_control import ensure_tiny_ip2p

    return ensure_tiny_ip2p()


@pytest.fixture(scope="session")
def tiny_sdxl() -> Path:
    """Path of the cached tiny SDXL-family checkpoint in the host's models/checkpoints
    (ComfyUI detects KOALA_700M, an SDXL config: comfy.model_base.SDXL, CLIP-L + bigG, SDXL
    latent format); load it with nodes.CheckpointLoaderSimple by its file name. ~2 GB (the
    full-size text encoders), built once in ~20 s."""
    from support.tiny_sdxl import ensure_tiny_sdxl

    return ensure_tiny_sdxl()


@pytest.fixture(scope="session")
def tiny_sdxl_controlnet() -> Path:
    """Path of the cached tiny SDXL ControlNet (the tiny SDXL UNet's encoder, with label_emb;
    LDM layout, non-zero zero-convs) in the host's models/controlnet."""
    from support.tiny_sdxl import ensure_tiny_sdxl_controlnet

    return ensure_tiny_sdxl_controlnet()
