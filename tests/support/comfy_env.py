"""Make the ComfyUI host importable in the test process, with this pack loaded.

`setup_comfy()` is called once, from tests/conftest.py at import time. After it:

- `import comfy`, `import nodes`, `import folder_paths` ... give the host's modules
  (the host directory is sys.path[0], so the host's `nodes.py` wins over this pack's
  `nodes/` package; the repo root is on sys.path after it, so `import t2vz_core` works);
- ComfyUI's own parsed `args` contain `--cpu` (no CUDA probing);
- built-in extra nodes and this pack's nodes are registered the way main.py does it,
  via `nodes.init_extra_nodes(init_custom_nodes=True)`, so tests can use
  `nodes.NODE_CLASS_MAPPINGS["T2VZ_..."]`.

Note: ComfyUI imports the pack from the symlink in `custom_nodes/` under a module name
made of that path, so `t2vz_core` imported directly by a test and the copy the loaded
nodes use are two distinct module objects. Do not compare classes across them.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
PACK_LINK_NAME = "ComfyUI-Text2Video-Zero"


@dataclass(frozen=True)
class ComfyEnv:
    """What `setup_comfy` set up."""

    comfyui_dir: Path
    #: whether ComfyUI's loader imported this pack (False: no __init__.py yet, or it failed;
    #: the reason is in the log, as ComfyUI logs it)
    pack_loaded: bool = False
    #: node ids this pack registered (empty while the pack has no code yet)
    pack_node_ids: tuple[str, ...] = ()
    #: comfy_extras files that failed to import (should be empty)
    import_failed: tuple[str, ...] = field(default=())


_ENV: ComfyEnv | None = None


def find_comfyui_dir() -> Path:
    """`COMFYUI_DIR` from the environment, else the path setup_dev.sh wrote to .host/comfyui_dir."""
    env = os.environ.get("COMFYUI_DIR")
    if env:
        path = Path(env).expanduser().resolve()
        source = "COMFYUI_DIR"
    else:
        marker = REPO_ROOT / ".host" / "comfyui_dir"
        if not marker.is_file():
            raise RuntimeError(
                f"no ComfyUI host found: {marker} is missing. Run `make setup` "
                "(or set COMFYUI_DIR=/path/to/ComfyUI)."
            )
        path = Path(marker.read_text().strip()).resolve()
        source = str(marker)
    if not (path / "main.py").is_file() or not (path / "comfy").is_dir():
        raise RuntimeError(f"{path} (from {source}) is not a ComfyUI directory: main.py or comfy/ is missing")
    return path


def _put_on_sys_path(comfyui_dir: Path) -> None:
    host = str(comfyui_dir)
    if host in sys.path:
        sys.path.remove(host)
    sys.path.insert(0, host)
    # `python -m pytest` puts the cwd (the repo root) first; the host must come before it so
    # that `nodes` is ComfyUI's nodes.py and not this pack's nodes/ package.
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(1, str(REPO_ROOT))
    stale = sys.modules.get("nodes")
    if stale is not None and not str(getattr(stale, "__file__", "")).startswith(host):
        raise RuntimeError(
            f"`nodes` was imported from {stale.__file__} before the ComfyUI host was set up; "
            "call setup_comfy() before importing ComfyUI modules"
        )


def _import_comfy_with_cpu_args(extra_args: list[str]) -> None:
    """Import comfy.cli_args with argument parsing on and `--cpu` given (never probes CUDA)."""
    import comfy.options

    saved = sys.argv
    sys.argv = [saved[0] if saved else "comfyui", "--cpu", *extra_args]
    try:
        comfy.options.enable_args_parsing()
        import comfy.cli_args  # noqa: F401  (parses sys.argv once, here)
    finally:
        sys.argv = saved
    if not comfy.cli_args.args.cpu:
        raise RuntimeError("comfy.cli_args was imported before setup_comfy(); `--cpu` did not take effect")


_IMPORTABLE: Path | None = None


def ensure_importable(extra_args: list[str] | None = None) -> Path:
    """Put the host on sys.path and import comfy's args with `--cpu`; no nodes are loaded.

    Enough for `import comfy.*` (e.g. to build the tiny checkpoint). Idempotent.
    extra_args: more ComfyUI command-line flags (e.g. ["--force-fp32"]), first call only.
    """
    global _IMPORTABLE
    if _IMPORTABLE is not None:
        return _IMPORTABLE
    comfyui_dir = find_comfyui_dir()
    _put_on_sys_path(comfyui_dir)
    _import_comfy_with_cpu_args(list(extra_args or []))

    import folder_paths
    # main.py imports the host's `utils` package before `nodes`, which puts comfy/ first on
    # sys.path, after which `import utils` would find comfy/utils.py instead.
    import utils.extra_config

    extra_paths = comfyui_dir / "extra_model_paths.yaml"
    if extra_paths.is_file():
        utils.extra_config.load_extra_path_config(str(extra_paths))
    logger.debug("checkpoints folders: %s", folder_paths.get_folder_paths("checkpoints"))
    _IMPORTABLE = comfyui_dir
    return comfyui_dir


def setup_comfy(load_custom_nodes: bool = True, extra_args: list[str] | None = None) -> ComfyEnv:
    """Set up the in-process ComfyUI once per process; later calls return the same ComfyEnv.

    Registers the built-in extra nodes and (load_custom_nodes) every pack in the host's
    custom_nodes/, this one included, through ComfyUI's own loader.
    """
    global _ENV
    if _ENV is not None:
        return _ENV
    comfyui_dir = ensure_importable(extra_args)

    import hook_breaker_ac10a0
    import nodes

    before = set(nodes.NODE_CLASS_MAPPINGS)
    # Same sequence as main.start_comfyui(); API nodes are left out (network-only, slow import).
    hook_breaker_ac10a0.save_functions()
    try:
        import_failed = asyncio.run(
            nodes.init_extra_nodes(init_custom_nodes=load_custom_nodes, init_api_nodes=False)
        )
    finally:
        hook_breaker_ac10a0.restore_functions()
    pack_ids = tuple(sorted(k for k in set(nodes.NODE_CLASS_MAPPINGS) - before if k.startswith("T2VZ_")))
    pack_loaded = PACK_LINK_NAME in nodes.LOADED_MODULE_DIRS
    if load_custom_nodes and not (comfyui_dir / "custom_nodes" / PACK_LINK_NAME).exists():
        logger.warning("this pack is not linked into %s/custom_nodes; run `make setup`", comfyui_dir)
    elif load_custom_nodes and not pack_loaded and (REPO_ROOT / "__init__.py").is_file():
        logger.error("ComfyUI could not import this pack; its traceback is in the log above")
    logger.info("ComfyUI host %s ready; %d T2VZ nodes loaded", comfyui_dir, len(pack_ids))
    _ENV = ComfyEnv(comfyui_dir=comfyui_dir, pack_loaded=pack_loaded, pack_node_ids=pack_ids,
                    import_failed=tuple(import_failed or ()))
    return _ENV
