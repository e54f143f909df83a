"""What a user reads in the example workflows (UI files): the Note, and the model download
metadata the frontend offers when a model is missing (each loader's properties.models)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from support.workflows import UI_DIR

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(UI_DIR.glob("*.json"))
# loader node type -> (the widget naming the file, the models/ folder it is read from)
LOADERS = {"CheckpointLoaderSimple": ("ckpt_name", "checkpoints"), "ControlNetLoader": ("control_net_name", "controlnet")}
# The one model with no download: the DreamBooth example's loader names a placeholder that
# its Note tells the user to replace with their own model.
PLACEHOLDERS = {"avatar_style_dreambooth_sd15.safetensors"}
# What the newest frontend accepts as a download (missingModelMetadata in its static JS):
# these hosts, these file extensions.
DOWNLOAD_HOSTS = ("https://huggingface.co/", "https://civitai.com/")
DOWNLOAD_EXTENSIONS = (".safetensors", ".sft", ".ckpt", ".pth", ".pt")


def _nodes(path: Path) -> list[dict]:
    return json.loads(path.read_text())["nodes"]


def _loaders(path: Path):
    """(node, file name, folder) of every model loader in a UI workflow."""
    for node in _nodes(path):
        if node["type"] in LOADERS:
            widget, folder = LOADERS[node["type"]]
            assert len(node["widgets_values"]) == 1, f"{path.name}: {node['type']} has one widget ({widget})"
            yield node, node["widgets_values"][0], folder


def _declared_models() -> dict[str, dict]:
    """Every model entry the examples declare, by file name (one entry per name everywhere)."""
    found: dict[str, dict] = {}
    for path in EXAMPLES:
        for node in _nodes(path):
            for model in node.get("properties", {}).get("models", []):
                assert found.setdefault(model["name"], model) == model, f"{model['name']}: two different entries"
    return found


def test_there_are_examples():
    assert len(EXAMPLES) >= 9


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_note_shows_no_template_placeholder(path):
    """The Note is text for the user: a `{ckpt}` left unformatted (or any brace) is a bug."""
    notes = [n["widgets_values"][0] for n in _nodes(path) if n["type"] == "Note"]
    assert len(notes) == 1, f"{path.name}: one Note"
    assert not re.search(r"[{}]", notes[0]), f"{path.name}: Note holds a brace: {notes[0]!r}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_loader_offers_its_model_download(path):
    """Each loader declares the file it names (name, url, directory) the way ComfyUI's own
    templates do, so the frontend offers the download when the file is missing."""
    loaders = list(_loaders(path))
    assert loaders, f"{path.name}: no model loader"
    for node, name, folder in loaders:
        models = node.get("properties", {}).get("models", [])
        if name in PLACEHOLDERS:
            assert models == [], f"{path.name}: {name} is a placeholder, it has no download"
            continue
        assert [m["name"] for m in models] == [name], f"{path.name}: {node['type']} ({name}) declares {models}"
        model = models[0]
        assert set(model) == {"name", "url", "directory"}, model
        assert model["directory"] == folder, model
        assert model["url"].startswith(DOWNLOAD_HOSTS), f"{name}: the frontend offers downloads from {DOWNLOAD_HOSTS}"
        assert name.endswith(DOWNLOAD_EXTENSIONS), name
        assert urlparse(model["url"]).path.endswith("/" + name), f"{name}: the url is that file: {model['url']}"


def test_readme_lists_the_same_download_links():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Example workflows", 1)[1].split("\n## ", 1)[0]
    declared = _declared_models()
    assert declared, "no example declares a model"
    for name, model in declared.items():
        assert model["url"] in section, f"README's Example workflows section lacks {name}'s link {model['url']}"
