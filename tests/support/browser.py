"""Drive ComfyUI's real frontend in Debian's headless Chromium with Playwright (Python).

Playwright never downloads a browser here: it launches the Chromium that
scripts/setup_dev.sh installs from Debian (or T2VZ_CHROMIUM). The frontend is either the one
the host pins (comfyui-frontend-package from ComfyUI's requirements) or the newest one,
unpacked by the setup script into .host/frontends/<version>/static and served with
--front-end-root.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
]

# Frontend settings of the test user: no first-run template dialog, quick tooltips, and on the
# pinned frontend no modal Missing Models dialog over every example loaded without its models
# (the examples declare their downloads; the test of that dialog turns it on for itself).
MISSING_MODELS_DIALOG = "Comfy.Workflow.ShowMissingModelsWarning"  # the pinned frontend's setting
USER_SETTINGS = {
    "Comfy.TutorialCompleted": True,
    "LiteGraph.Node.TooltipDelay": 50,
    "Comfy.Validation.Workflows": True,
    MISSING_MODELS_DIALOG: False,
}


def chromium_executable() -> str:
    exe = os.environ.get("T2VZ_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(exe, os.X_OK):
        raise RuntimeError(f"no Chromium at {exe}: run `make setup` (installs Debian's chromium) "
                           "or set T2VZ_CHROMIUM to a Chromium binary")
    return exe


def latest_frontend_root(comfyui_dir: Path) -> tuple[str, Path]:
    """(version, static folder) of the newest frontend the setup script unpacked."""
    host = Path(comfyui_dir).parent
    marker = host / "frontend_latest"
    if not marker.is_file():
        raise RuntimeError(f"{marker} is missing: run `make setup` (it unpacks the newest frontend)")
    version = marker.read_text().strip()
    static = host / "frontends" / version / "static"
    if not (static / "index.html").is_file():
        raise RuntimeError(f"{static} has no index.html: run `make setup` again")
    return version, static


def write_user_settings(user_dir: Path) -> None:
    path = Path(user_dir) / "default" / "comfy.settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(USER_SETTINGS))


# JavaScript helpers installed in the page (window.t2vz).
PAGE_HELPERS = r"""
window.t2vz = {
  node(id) { return app.graph.getNodeById(id); },
  // Show a node at scale 1 in the middle of the page, clear of the menus and panels.
  focus(id) {
    const node = app.graph.getNodeById(id);
    const ds = app.canvas.ds;
    const rect = app.canvas.canvas.getBoundingClientRect();
    ds.scale = 1;
    ds.offset[0] = -node.pos[0] + (window.innerWidth / 2 - 200 - rect.left);
    ds.offset[1] = -node.pos[1] + (180 - rect.top);
    app.canvas.setDirty(true, true);
    app.canvas.draw(true, true);
  },
  toPage(x, y) {
    const rect = app.canvas.canvas.getBoundingClientRect();
    const ds = app.canvas.ds;
    return [rect.left + (x + ds.offset[0]) * ds.scale, rect.top + (y + ds.offset[1]) * ds.scale];
  },
  titlePos(id) {
    const n = app.graph.getNodeById(id);
    return t2vz.toPage(n.pos[0] + Math.min(60, n.size[0] / 2), n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT / 2);
  },
  widgetVisible(n, w) {
    if (n.isWidgetVisible) return n.isWidgetVisible(w);
    return !(w.hidden || (w.advanced && !n.showAdvanced));
  },
  widgetPos(id, name) {
    const n = app.graph.getNodeById(id);
    const w = n.widgets.find((x) => x.name === name);
    const y = w.last_y ?? w.y;
    const h = w.computedHeight ?? LiteGraph.NODE_WIDGET_HEIGHT;
    return t2vz.toPage(n.pos[0] + n.size[0] / 2, n.pos[1] + y + h / 2);
  },
  inputPos(id, slot) {
    const n = app.graph.getNodeById(id);
    const p = n.getInputPos ? n.getInputPos(slot) : n.getConnectionPos(true, slot);
    return t2vz.toPage(p[0], p[1]);
  },
  outputPos(id, slot) {
    const n = app.graph.getNodeById(id);
    const p = n.getOutputPos ? n.getOutputPos(slot) : n.getConnectionPos(false, slot);
    return t2vz.toPage(p[0] - 4, p[1]);
  },
  missingTypes() {
    return app.graph.nodes.filter((n) => !LiteGraph.registered_node_types[n.type]).map((n) => n.type);
  },
  // Links whose ends or slot types do not agree; [] when the graph is whole.
  brokenLinks() {
    const broken = [];
    const links = app.graph.links instanceof Map ? [...app.graph.links.values()] : Object.values(app.graph.links);
    for (const l of links) {
      if (!l) continue;
      const from = app.graph.getNodeById(l.origin_id), to = app.graph.getNodeById(l.target_id);
      const out = from?.outputs?.[l.origin_slot], inp = to?.inputs?.[l.target_slot];
      const ok = out && inp && inp.link === l.id && (out.links ?? []).includes(l.id) &&
        LiteGraph.isValidConnection(out.type, inp.type);
      if (!ok) broken.push({ id: l.id, from: from?.type, to: to?.type, out: out?.type, in: inp?.type });
    }
    for (const n of app.graph.nodes) {
      for (const inp of n.inputs ?? []) {
        if (inp.link != null && !(app.graph.links.get ? app.graph.links.get(inp.link) : app.graph.links[inp.link]))
          broken.push({ dangling: inp.link, node: n.type, input: inp.name });
      }
    }
    return broken;
  },
};
"""


class ComfyPage:
    """One browser page on a ComfyUI server, with the pack's helpers and an error log."""

    def __init__(self, page, url: str):
        self.page = page
        self.url = url
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []
        # with the stack: it names the script the error came from
        page.on("pageerror", lambda e: self.page_errors.append(f"{e}\n{getattr(e, 'stack', '') or ''}"))

        def on_dialog(d):
            if d.type == "beforeunload":  # "leave with unsaved changes?" on reload: yes
                d.accept()
                return
            self.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()
        page.on("dialog", on_dialog)

    def open(self) -> "ComfyPage":
        self.page.goto(self.url)
        self.page.wait_for_function(
            "() => window.app?.graph && window.app.canvas && window.comfyAPI && window.LiteGraph"
            " && window.app.extensions?.some((e) => e.name === 'T2VZ.MotionPad')", timeout=90_000)
        self.page.evaluate(PAGE_HELPERS)
        return self

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def frontend_version(self) -> str:
        return self.js("() => window.__COMFYUI_FRONTEND_VERSION__ ?? ''")

    def load_workflow(self, workflow: dict) -> None:
        """Load a workflow as the frontend loads a file; its schema check must find nothing
        (the test user has Comfy.Validation.Workflows on)."""
        self.js("async (wf) => { await app.loadGraphData(wf); }", workflow)
        self.page.wait_for_timeout(200)
        invalid = self.page.get_by_text("Invalid workflow", exact=False)
        if invalid.count():
            raise AssertionError(f"the frontend rejected the workflow: {invalid.first.inner_text()}")

    def node_ids(self, node_type: str) -> list[int]:
        return self.js("(t) => app.graph.nodes.filter((n) => n.type === t).map((n) => n.id)", node_type)

    def set_widget(self, node_id: int, name: str, value) -> None:
        """Set a widget as the user does (the value, then its callback)."""
        self.js("""([id, name, value]) => {
            const n = app.graph.getNodeById(id); const w = n.widgets.find((x) => x.name === name);
            if (!w) throw new Error(`node ${id} (${n.type}) has no widget ${name}`);
            w.value = value; w.callback?.(value, app.canvas, n); app.graph.setDirtyCanvas(true, true);
        }""", [node_id, name, value])

    def widget_values(self, node_id: int) -> dict:
        return self.js("(id) => Object.fromEntries(app.graph.getNodeById(id).widgets.map((w) => [w.name, w.value]))",
                       node_id)

    def screenshot(self, path) -> None:
        """A screenshot with the mouse parked off the nodes (no hover tooltip over the picture)."""
        self.page.mouse.move(self.page.viewport_size["width"] - 5, self.page.viewport_size["height"] / 2)
        self.page.wait_for_timeout(100)
        self.page.screenshot(path=str(path))

    def hover_tooltip(self, x: float, y: float) -> str:
        """Move the mouse to a page point over the canvas; the node tooltip shown there ('' if none)."""
        self.page.mouse.move(x - 7, y - 3)
        self.page.mouse.move(x, y)
        try:
            self.page.wait_for_selector(".node-tooltip", timeout=2_000)
        except Exception:
            return ""
        return self.page.inner_text(".node-tooltip")
