"""docs/COMPATIBILITY.md lists every ComfyUI name the pack's code uses: parse the pack's
Python files and fail on a ``comfy.*`` (or other ComfyUI module) name the table lacks.
And the one shim the node layer has for newer ComfyUI: ``advanced`` inputs."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "docs" / "COMPATIBILITY.md"
# ComfyUI's top-level modules (the host's, not this pack's: the pack imports itself relatively)
ROOTS = ("comfy", "comfy_api", "comfy_extras", "folder_paths", "latent_preview", "server")


def pack_files() -> list[Path]:
    return [REPO / "__init__.py", *sorted((REPO / "nodes").rglob("*.py")), *sorted((REPO / "t2vz_core").rglob("*.py"))]


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def comfy_names(source: str) -> tuple[set[str], set[str]]:
    """The ComfyUI names a module uses, as full dotted names: (modules it imports, names it
    uses: ``from`` imports and attribute chains on an imported ComfyUI module or alias, e.g.
    ``mm.throw_exception_if_processing_interrupted`` after ``import comfy.model_management
    as mm``)."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}  # local name -> dotted ComfyUI name
    modules: set[str] = set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in ROOTS:
                    modules.add(a.name)
                    aliases[a.asname] = a.name if a.asname else None
                    if not a.asname:
                        aliases[a.name.split(".")[0]] = a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in ROOTS:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                names.add(full)
                aliases[a.asname or a.name] = full
    aliases.pop(None, None)
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            dotted = _dotted(node)
            head, _, rest = (dotted or "").partition(".")
            if head in aliases:
                names.add(f"{aliases[head]}.{rest}")
    return modules, names


def listed_names() -> set[str]:
    rows = [line for line in TABLE.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    return {m for row in rows for m in re.findall(r"`([A-Za-z_][\w.]*)`", row.split("|")[1])}


def test_comfy_names_are_collected_through_aliases_and_imports():
    src = ("import comfy.model_management as mm\nfrom comfy.ldm.modules.attention import CrossAttention as CA\n"
           "import comfy.samplers\nx = comfy.samplers.KSampler.SAMPLERS\nmm.throw_exception_if_processing_interrupted()\n"
           "k = comfy.samplers.KSampler(1)\nimport torch\ny = torch.zeros(1)\n")
    assert comfy_names(src) == ({"comfy.model_management", "comfy.samplers"},
                                {"comfy.model_management.throw_exception_if_processing_interrupted",
                                 "comfy.ldm.modules.attention.CrossAttention", "comfy.samplers.KSampler.SAMPLERS",
                                 "comfy.samplers.KSampler"})


def pack_uses() -> dict[str, list[str]]:
    """Each ComfyUI name the pack uses -> the files using it (a module only imported counts
    as listed when the table lists it or a name inside it)."""
    uses: dict[str, list[str]] = {}
    for path in pack_files():
        modules, names = comfy_names(path.read_text(encoding="utf-8"))
        rel = str(path.relative_to(REPO))
        for name in names:
            uses.setdefault(name, []).append(rel)
        for module in modules:
            if not any(n.startswith(module + ".") for n in names):
                uses.setdefault(module, []).append(rel)
    return uses


def test_every_comfy_name_the_pack_uses_is_in_the_compatibility_table():
    listed = listed_names()
    missing = {name: files for name, files in pack_uses().items()
               if name not in listed and not any(entry.startswith(name + ".") for entry in listed)}
    assert not missing, ("ComfyUI names used by the pack but not in docs/COMPATIBILITY.md (add a row: where, "
                         f"0.3.75, 0.38.1, verdict): {missing}")


def _common():
    return next(m for name, m in sys.modules.items() if name.endswith(".nodes._common"))


def test_advanced_inputs_travel_in_extra_options_on_this_comfyui():
    from comfy_api.latest import io
    inp = _common().advanced(io.Float.Input("x", default=0.0))
    assert inp.as_dict()["advanced"] is True


def test_advanced_inputs_use_the_native_argument_where_the_input_takes_one():
    from comfy_api.latest import io

    class NewerFloat(io.Float.Input):  # newer ComfyUI's V3 inputs take `advanced` (0.38.1)
        def __init__(self, id, default=None, advanced=None):
            super().__init__(id, default=default)
            self.advanced = advanced

    inp = _common().advanced(NewerFloat("x", default=0.0))
    assert inp.advanced is True and "advanced" not in inp.extra_dict


@pytest.mark.parametrize("node_id,input_name", [("T2VZ_Sampler", "t_mode"), ("T2VZ_LoadVideo", "start_time")])
def test_secondary_knobs_are_advanced_in_object_info(node_id, input_name):
    import nodes
    info = nodes.NODE_CLASS_MAPPINGS[node_id].GET_SCHEMA().get_v1_info(nodes.NODE_CLASS_MAPPINGS[node_id])
    inputs = {**info.input.get("required", {}), **info.input.get("optional", {})}
    assert inputs[input_name][1].get("advanced") is True
