"""The pack in ComfyUI's real graph editor: headless Debian Chromium driven by Playwright.

Every test runs twice: against the frontend the host pins (comfyui-frontend-package 1.32.9
for ComfyUI 0.3.75) and against the newest one on PyPI (unpacked by `make setup`, served
with --front-end-root). Screenshots go to test-artifacts/browser/<frontend>/.
"""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from support.browser import (ComfyPage, chromium_executable, latest_frontend_root, write_user_settings, CHROMIUM_ARGS,
                             MISSING_MODELS_DIALOG)
from support.media import read_video
from support.server import ComfyServer
from support.tiny_models import CKPT_NAME
from support.workflows import TINY, UI_DIR

pytestmark = [pytest.mark.server, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
PACK_DIR_NAME = "ComfyUI-Text2Video-Zero"  # the pack's folder name in custom_nodes (setup's symlink)
EXAMPLES = sorted(p.stem for p in UI_DIR.glob("*.json"))
EXAMPLE_PACK_NODES = {n["type"] for p in UI_DIR.glob("*.json") for n in json.loads(p.read_text())["nodes"]
                      if n["type"].startswith("T2VZ_")}
EXAMPLE_VIDEOS = ("pose_dance1.mp4", "canny_girl_turning.mp4", "pix2pix_camel.mp4")  # as the examples name them
EXAMPLE_IMAGE = "t2vz_first_frame.png"  # image_to_video's Load Image


def _first_frame_image(path):
    from PIL import Image
    Image.new("RGB", (64, 64), (200, 120, 40)).save(path)
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module", params=["pinned", "newest"])
def ui_server(request, tiny_ckpt, tmp_path_factory, comfy_env, shared_assets):
    """A ComfyUI server per frontend, with latent previews on (to see them during sampling) and
    the examples' input videos in its input folder."""
    args = ["--preview-method", "latent2rgb"]
    if request.param == "newest":
        _, static = latest_frontend_root(comfy_env.comfyui_dir)
        args += ["--front-end-root", str(static)]
    server = ComfyServer(tmp_path_factory.mktemp(f"ui_{request.param}"), comfyui_dir=comfy_env.comfyui_dir,
                         extra_args=args)
    write_user_settings(server.user_dir)
    server.start()
    for video in EXAMPLE_VIDEOS:
        server.copy_to_input(shared_assets / video, video)
    _first_frame_image(server.input_dir / EXAMPLE_IMAGE)
    server.frontend = request.param
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ui(browser, ui_server, request):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = ComfyPage(context.new_page(), ui_server.url).open()
    page.server = ui_server
    page.artifacts = ARTIFACTS / ui_server.frontend
    page.artifacts.mkdir(parents=True, exist_ok=True)
    try:
        yield page
        assert page.dialogs == [], f"unexpected alert/confirm dialogs: {page.dialogs}"
        ours = [e for e in page.page_errors if f"/extensions/{PACK_DIR_NAME}/" in e or "t2vz" in e.lower()]
        assert ours == [], f"errors from the pack's web extension: {ours}"
    finally:
        try:  # the last state of every test, for looking at when one fails
            page.page.screenshot(path=str(page.artifacts / f"last-{request.node.originalname}.png"))
        finally:
            context.close()


def _template(server, name: str) -> dict:
    """An example workflow as the template browser serves it."""
    with urllib.request.urlopen(f"{server.url}/api/workflow_templates/{PACK_DIR_NAME}/{name}.json") as r:
        return json.loads(r.read())


def _shrink(ui: ComfyPage, **sizes) -> None:
    """What a user with the tiny test checkpoint and a CPU would type into the widgets."""
    ui.js("""([ckpt, tiny]) => {
        for (const n of app.graph.nodes) for (const w of n.widgets ?? []) {
            let v;
            if (w.name === 'ckpt_name') v = ckpt;
            else if (w.name in tiny) v = tiny[w.name];
            else continue;
            w.value = v; w.callback?.(v, app.canvas, n);
        }
    }""", [CKPT_NAME, {**TINY, "steps": 4, "video_length": 3, **sizes}])


def _queue_from_ui(ui: ComfyPage) -> None:
    """Queue with the frontend's keybinding for Run (Ctrl+Enter), the canvas focused."""
    ui.js("() => app.canvas.canvas.focus()")
    ui.page.keyboard.press("Control+Enter")


# -- templates --------------------------------------------------------------------------------

def test_template_route_lists_every_example(ui_server):
    with urllib.request.urlopen(f"{ui_server.url}/api/workflow_templates") as r:
        listed = json.loads(r.read())
    assert sorted(listed[PACK_DIR_NAME]) == EXAMPLES  # api/ twins are not templates


def test_every_example_loads_whole_with_tooltips(ui):
    """Each example, loaded as the template browser loads it: no missing node types, no broken
    links, and hovering every pack node (title, inputs, widgets) shows its tooltip."""
    hovered_types = set()
    for name in EXAMPLES:
        wf = _template(ui.server, name)
        ui.load_workflow(wf)
        assert ui.js("() => app.graph.nodes.length") == len(wf["nodes"]), name
        assert ui.js("() => t2vz.missingTypes()") == [], name
        assert ui.js("() => t2vz.brokenLinks()") == [], name
        assert ui.js("() => app.graph.links.size ?? Object.keys(app.graph.links).length") == len(wf["links"]), name
        # once the pack's widgets are there (Load Video's preview answers after a moment),
        # saving it again gives the same inputs: the pack's widgets add nothing, move nothing
        n_load = sum(1 for n in wf["nodes"] if n["type"] == "T2VZ_LoadVideo")
        ui.page.wait_for_function(
            "(n) => [...document.querySelectorAll('.t2vz-preview-caption')].filter((c) => c.isConnected"
            " && /^\\d+ frames · /.test(c.textContent)).length >= n", arg=n_load, timeout=30_000)
        api = ui.js("async () => (await app.graphToPrompt()).output")
        for nid, node in api.items():
            if node["class_type"].startswith("T2VZ_"):
                schema = ui.js("(t) => { const d = LiteGraph.registered_node_types[t].nodeData;"
                               " return Object.keys({...d.input.required, ...d.input.optional}); }", node["class_type"])
                assert set(node["inputs"]) <= set(schema), (name, node["class_type"], set(node["inputs"]) - set(schema))
        saved = {str(n["id"]): n.get("widgets_values") or [] for n in json.loads(ui.js("() => JSON.stringify(app.graph.serialize())"))["nodes"]}
        want = {str(n["id"]): n.get("widgets_values") or [] for n in wf["nodes"]}
        assert saved == want, (name, json.dumps([(k, saved[k], want[k]) for k in want if saved.get(k) != want[k]]))
        notes = ui.js("() => app.graph.nodes.filter((n) => n.type === 'Note').map((n) => n.widgets[0].value)")
        assert len(notes) == 1 and "models/" in notes[0], f"{name}: a Note saying which models it needs"

        for node in ui.js("() => app.graph.nodes.filter((n) => n.type.startsWith('T2VZ_'))"
                          ".map((n) => ({id: n.id, type: n.type}))"):
            defn = ui.js("(t) => { const d = LiteGraph.registered_node_types[t].nodeData;"
                         " return {description: d.description, inputs: {...d.input.required, ...d.input.optional},"
                         " outputs: d.output_tooltips ?? []}; }", node["type"])
            ui.js("(id) => t2vz.focus(id)", node["id"])
            tip = ui.hover_tooltip(*ui.js("(id) => t2vz.titlePos(id)", node["id"]))
            assert tip and tip == defn["description"].strip(), (name, node["type"], "title", tip)
            if node["type"] in hovered_types:
                continue
            hovered_types.add(node["type"])
            slots = ui.js("(id) => app.graph.getNodeById(id).inputs.map((s, i) => [i, s.name, !!s.widget])", node["id"])
            for slot, input_name, is_widget in slots:
                if is_widget:
                    continue  # a widget's socket: its widget is hovered below
                tip = ui.hover_tooltip(*ui.js("([id, s]) => t2vz.inputPos(id, s)", [node["id"], slot]))
                want = defn["inputs"][input_name][1]["tooltip"]
                assert tip == want, (name, node["type"], input_name, tip)
            for slot, want in enumerate(defn["outputs"]):
                tip = ui.hover_tooltip(*ui.js("([id, s]) => t2vz.outputPos(id, s)", [node["id"], slot]))
                assert want and tip == want, (name, node["type"], f"output {slot}", tip)
            widgets = ui.js("(id) => { const n = app.graph.getNodeById(id);"
                            " return n.widgets.filter((w) => t2vz.widgetVisible(n, w)).map((w) => w.name); }",
                            node["id"])
            for widget in widgets:
                if widget not in defn["inputs"]:
                    continue  # the frontend's own (upload button, control_after_generate) and ours
                if defn["inputs"][widget][1].get("multiline"):
                    continue  # a text box is a DOM element over the canvas: no canvas tooltip there
                tip = ui.hover_tooltip(*ui.js("([id, w]) => t2vz.widgetPos(id, w)", [node["id"], widget]))
                want = defn["inputs"][widget][1]["tooltip"]
                assert tip == want, (name, node["type"], widget, tip)
    assert hovered_types == EXAMPLE_PACK_NODES, hovered_types


def test_template_browser_opens_a_pack_example(ui):
    ui.js("() => app.extensionManager.command.execute('Comfy.BrowseTemplates')")
    dialog = ui.page.get_by_role("dialog")
    dialog.get_by_text(PACK_DIR_NAME, exact=False).first.click()
    card = dialog.get_by_text("text2video_step_by_step", exact=True).first
    card.wait_for(timeout=15_000)
    ui.screenshot(ui.artifacts / "template_browser.png")
    card.click()
    ui.page.wait_for_function("() => app.graph.nodes.some((n) => n.type === 'T2VZ_MotionFieldLatentInit')",
                              timeout=15_000)
    assert ui.js("() => t2vz.missingTypes()") == []


# -- editing ----------------------------------------------------------------------------------

def test_node_search_finds_and_adds_a_pack_node(ui):
    ui.js("() => app.graph.clear()")
    canvas = ui.page.locator("canvas#graph-canvas")
    # the search box opens focused; on a loaded machine a double click can come too early to
    # open it (then the typed letters would be the editor's shortcuts), so wait for its input
    opened = False
    for _ in range(4):
        canvas.dblclick(position={"x": 600, "y": 400})
        try:
            ui.page.wait_for_function("() => document.activeElement?.tagName === 'INPUT'", timeout=5_000)
            opened = True
            break
        except PlaywrightTimeout:
            ui.page.keyboard.press("Escape")  # close whatever opened instead, then try again
    assert opened, "double-clicking the canvas never opened the node search box"
    ui.page.keyboard.type("Text2Video-Zero Sampler", delay=20)
    ui.page.get_by_text("Text2Video-Zero Sampler").first.wait_for(timeout=10_000)
    ui.page.wait_for_timeout(300)
    ui.page.keyboard.press("Enter")
    ui.page.wait_for_function("() => app.graph.nodes.some((n) => n.type === 'T2VZ_Sampler')", timeout=10_000)
    assert ui.js("() => app.graph.nodes.map((n) => n.type)") == ["T2VZ_Sampler"]


def test_motion_pad_writes_plain_numbers_that_survive_save_and_reload(ui):
    ui.load_workflow(_template(ui.server, "text2video"))
    (nid,) = ui.node_ids("T2VZ_Sampler")
    ui.js("(id) => t2vz.focus(id)", nid)
    pad = ui.page.locator(".t2vz-motion-pad canvas").first
    pad.wait_for()
    box = pad.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # the wheel over the pad moves the canvas (zoom or pan, as the user's setting says), as
    # over the rest of the node
    view = "() => [app.canvas.ds.scale, ...app.canvas.ds.offset]"
    before = ui.js(view)
    ui.page.mouse.move(cx, cy)
    ui.page.mouse.wheel(0, -120)
    ui.page.wait_for_timeout(200)
    assert ui.js(view) != before
    ui.js("(id) => t2vz.focus(id)", nid)
    box = pad.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # drag from the centre to the left and down: camera moves left (x < 0) and down (y > 0)
    ui.page.mouse.move(cx, cy)
    ui.page.mouse.down()
    ui.page.mouse.move(cx - 20, cy + 10, steps=4)
    ui.page.mouse.move(cx - 27, cy + 18, steps=4)
    ui.page.mouse.up()
    values = ui.widget_values(nid)
    x, y = values["motion_field_strength_x"], values["motion_field_strength_y"]
    assert x < 0 < y and (x, y) != (12, 12), (x, y)
    assert float(x).is_integer() and float(y).is_integer()  # snapped to whole steps
    label = ui.page.locator(".t2vz-motion-pad div").first.inner_text()
    assert f"x {x:g}" in label and f"y {y:g}" in label
    # the drag is one undo step
    ui.js("() => app.canvas.canvas.focus()")
    ui.page.keyboard.press("Control+z")
    ui.page.wait_for_function(f"() => app.graph.getNodeById({nid!r}).widgets.find((w) => w.name ==="
                              " 'motion_field_strength_x').value === 12", timeout=5_000)
    assert ui.widget_values(nid)["motion_field_strength_y"] == 12
    ui.page.keyboard.press("Control+y")
    ui.page.wait_for_function(f"() => app.graph.getNodeById({nid!r}).widgets.find((w) => w.name ==="
                              f" 'motion_field_strength_x').value === {x}", timeout=5_000)
    (nid,) = ui.node_ids("T2VZ_Sampler")  # undo/redo load the graph again
    assert ui.widget_values(nid)["motion_field_strength_y"] == y
    # a click on the centre dot is no motion; undo brings the drag's numbers back
    ui.js("(id) => t2vz.focus(id)", nid)
    box = pad.bounding_box()
    ui.page.mouse.click(box["x"] + box["width"] / 2 + 1, box["y"] + box["height"] / 2 - 1)
    still = ui.widget_values(nid)
    assert (still["motion_field_strength_x"], still["motion_field_strength_y"]) == (0, 0)
    assert "camera still" in ui.page.locator(".t2vz-motion-pad div").first.inner_text()
    ui.js("() => app.canvas.canvas.focus()")
    ui.page.keyboard.press("Control+z")
    ui.page.wait_for_function(f"() => app.graph.nodes.find((n) => n.type === 'T2VZ_Sampler').widgets.find((w) =>"
                              f" w.name === 'motion_field_strength_x').value === {x}", timeout=5_000)
    (nid,) = ui.node_ids("T2VZ_Sampler")

    # what Save writes: the two inputs as plain numbers, the pad not at all
    saved = json.loads(ui.js("() => JSON.stringify(app.graph.serialize())"))  # as Save writes it
    node = next(n for n in saved["nodes"] if str(n["id"]) == str(nid))  # newer frontends: "4" live, 4 saved
    names = ui.js("(id) => app.graph.getNodeById(id).widgets.filter((w) => w.serialize !== false)"
                  ".map((w) => w.name)", nid)
    assert len(node["widgets_values"]) == len(names)
    assert node["widgets_values"][names.index("motion_field_strength_x")] == x
    assert node["widgets_values"][names.index("motion_field_strength_y")] == y
    api = ui.js("async () => (await app.graphToPrompt()).output")
    inputs = api[str(nid)]["inputs"]
    assert (inputs["motion_field_strength_x"], inputs["motion_field_strength_y"]) == (x, y)
    assert not any("pad" in k or "t2vz" in k for k in inputs)
    path = ui.artifacts / "motion_pad_workflow.json"
    path.write_text(json.dumps(saved))

    # a fresh page (a reload), the saved file loaded again
    ui.page.reload()
    ui.open()
    ui.load_workflow(json.loads(path.read_text()))
    again = ui.widget_values(nid)
    assert (again["motion_field_strength_x"], again["motion_field_strength_y"]) == (x, y)
    ui.js("(id) => t2vz.focus(id)", nid)
    assert f"x {x:g}" in ui.page.locator(".t2vz-motion-pad div").first.inner_text()
    ui.screenshot(ui.artifacts / "motion_pad.png")


# -- running ----------------------------------------------------------------------------------

def test_text2video_queued_from_the_ui_plays_in_its_save_node(ui):
    ui.load_workflow(_template(ui.server, "text2video"))
    _shrink(ui)
    (save,) = ui.node_ids("SaveVideo")
    (sampler,) = ui.node_ids("T2VZ_Sampler")
    ui.set_widget(sampler, "chunk_size", 2)  # 3 frames: frame 0 + 1, then frame 0 + 2
    ui.js("""() => {
        const api = window.comfyAPI.api.api;
        window.t2vzSeen = {progress: [], previews: 0, executed: []};
        api.addEventListener('progress', (e) => t2vzSeen.progress.push([String(e.detail.node), e.detail.value, e.detail.max]));
        api.addEventListener('b_preview', () => { t2vzSeen.previews += 1; });
        api.addEventListener('executed', (e) => t2vzSeen.executed.push(String(e.detail.node ?? e.detail.display_node)));
    }""")
    _queue_from_ui(ui)
    ui.page.wait_for_function(f"() => t2vzSeen.executed.includes('{save}')", timeout=240_000)
    ui.js("(id) => t2vz.focus(id)", save)
    ui.page.wait_for_function("""() => [...document.querySelectorAll('video')].some((v) => v.readyState >= 2
        && v.videoWidth === 64 && decodeURIComponent(v.src).includes('T2VZ'))""", timeout=30_000)
    ui.screenshot(ui.artifacts / "text2video_ui_run.png")
    seen = ui.js("() => t2vzSeen")
    # the progress bar counts every step of every chunk (frame 0's own steps, then 4 steps x 2
    # chunks), moves at each and ends full; latent previews were sent while sampling
    ours = [(v, m) for n, v, m in seen["progress"] if n == str(sampler)]
    total = ours[-1][1]
    assert {m for _, m in ours} == {total} and total > 2 * 4, seen["progress"]
    values = [v for v, _ in ours]
    assert values == sorted(values) and sorted(set(values)) == list(range(1, total + 1)), seen["progress"]
    assert seen["previews"] > 0


def test_load_video_preview_shows_the_selected_frames(ui, shared_assets):
    ui.js("() => app.graph.clear()")
    nid = ui.js("""() => { const n = LiteGraph.createNode('T2VZ_LoadVideo'); n.pos = [100, 100];
        app.graph.add(n); return n.id; }""")
    for name, value in (("frame_load_cap", 5), ("select_every_nth", 2), ("skip_first_frames", 1), ("resolution", 256)):
        ui.set_widget(nid, name, value)
    ui.js("(id) => t2vz.focus(id)", nid)
    asset = shared_assets / "pose_dance1.mp4"
    name = f"uploaded_{ui.server.frontend}.mp4"  # not in the input folder before
    assert not (ui.server.input_dir / name).exists()
    with ui.page.expect_file_chooser() as chooser:
        ui.page.mouse.click(*ui.js("(id) => t2vz.widgetPos(id, 'upload')", nid))
    chooser.value.set_files({"name": name, "mimeType": "video/mp4", "buffer": asset.read_bytes()})
    ui.page.wait_for_function(f"() => app.graph.getNodeById({nid!r}).t2vzPreviewInfo?.video === '{name}'",
                              timeout=30_000)
    caption = ui.page.locator(".t2vz-preview-caption").first
    assert ui.widget_values(nid)["video"] == name
    assert (ui.server.input_dir / name).read_bytes() == asset.read_bytes()
    ui.page.wait_for_function("() => document.querySelector('video.t2vz-load-video-preview')?.readyState >= 2",
                              timeout=30_000)
    # one preview in the node, ours: core's preview of the raw file is not shown beside it
    assert ui.js("() => document.querySelectorAll('video').length") == 1
    assert ui.js("(id) => app.graph.getNodeById(id).widgets.filter((w) => w.type === 'video').length", nid) == 0
    info = ui.js("(id) => app.graph.getNodeById(id).t2vzPreviewInfo", nid)
    assert caption.inner_text().startswith(f"5 frames · {info['width']}×{info['height']} · ")
    assert max(info["width"], info["height"]) == 256
    ui.screenshot(ui.artifacts / "load_video_preview.png")

    # the preview's frames are the node's output: run the node and compare
    src = ui.js("() => document.querySelector('video.t2vz-load-video-preview').src")
    preview_path = ui.artifacts / "load_video_preview.mp4"
    with urllib.request.urlopen(src) as r:
        preview_path.write_bytes(r.read())
    frames, fps = read_video(preview_path)
    node_inputs = ui.js("async (id) => (await app.graphToPrompt()).output[String(id)].inputs", nid)
    assert set(node_inputs) == {"video", "frame_load_cap", "skip_first_frames", "select_every_nth", "resolution",
                                "output_fps", "start_time", "end_time"}  # the preview adds nothing
    prompt = {"1": {"class_type": "T2VZ_LoadVideo", "inputs": node_inputs},
              "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "lv/frame"}}}
    entry = ui.server.run(prompt, timeout=120)
    from PIL import Image
    out = np.stack([np.asarray(Image.open(p)) for p in sorted(ui.server.output_files(entry, node_id="2"))])
    assert frames.shape == out.shape == (5, info["height"], info["width"], 3)
    assert fps == pytest.approx(info["fps"])
    diff = np.abs(frames.astype(int) - out.astype(int)).mean(axis=(1, 2, 3))
    assert diff.max() < 6, diff  # h264 preview vs. lossless frames: the same pictures
    # and not just any frames of the video: shifting the selection by one changes them
    assert np.abs(frames[1:].astype(int) - out[:-1].astype(int)).mean() > diff.mean()

    # editing an option previews again: three quick edits, the last one wins
    for cap in (2, 4, 3):
        ui.set_widget(nid, "frame_load_cap", cap)
    ui.page.wait_for_function(f"() => app.graph.getNodeById({nid!r}).t2vzPreviewInfo?.frame_count === 3",
                              timeout=30_000)
    assert caption.inner_text().startswith("3 frames · ")
    ui.page.wait_for_timeout(800)  # nothing older arrives afterwards
    assert caption.inner_text().startswith("3 frames · ")
    ui.page.wait_for_function("() => document.querySelector('video.t2vz-load-video-preview')?.readyState >= 2",
                              timeout=30_000)


def test_gif_preview_and_a_hostile_file_name_shown_as_text(ui):
    ui.load_workflow(_template(ui.server, "text2video_step_by_step"))
    _shrink(ui, width=96, height=64)  # a wide GIF: the preview keeps its 3:2
    (gif,) = ui.node_ids("T2VZ_SaveGIF")
    (save,) = ui.node_ids("SaveVideo")
    for nid in (gif, save):
        ui.set_widget(nid, "filename_prefix", XSS)
    ui.js("""() => { window.t2vzExecuted = [];
        window.comfyAPI.api.api.addEventListener('executed', (e) => t2vzExecuted.push(String(e.detail.node))); }""")
    _queue_from_ui(ui)
    ui.page.wait_for_function(f"() => t2vzExecuted.includes('{gif}') && t2vzExecuted.includes('{save}')",
                              timeout=240_000)
    ui.js("(id) => t2vz.focus(id)", gif)
    img = ui.page.locator("img.t2vz-gif")
    img.wait_for(timeout=15_000)
    ui.page.wait_for_function("() => document.querySelector('img.t2vz-gif').naturalWidth === 96", timeout=15_000)
    caption = ui.page.locator(".t2vz-preview-caption").first.inner_text()
    assert caption.startswith(XSS) and "3 frames · 96×64 · 4 fps" in caption
    # the preview keeps the GIF's aspect ratio at the node's width
    box = img.bounding_box()
    assert box["width"] > 150 and abs(box["width"] / box["height"] - 1.5) < 0.03, box
    ui.page.wait_for_timeout(500)  # time for an injected onerror to fire
    ui.screenshot(ui.artifacts / "gif_preview_hostile_name.png")
    assert ui.dialogs == []
    assert ui.js("() => document.querySelectorAll('img[src=\"x\"], img[src$=\"/x\"]').length") == 0
    saved = sorted(p.name for p in ui.server.output_dir.iterdir())
    assert any(n.startswith(XSS) and n.endswith(".gif") for n in saved), saved
    inputs = ui.js("async (id) => Object.keys((await app.graphToPrompt()).output[String(id)].inputs)", gif)
    assert sorted(inputs) == ["filename_prefix", "fps", "images", "loop"]  # the preview adds nothing

    # another workflow tab and back: the GIF is shown again
    ui.js("async () => { await app.extensionManager.command.execute('Comfy.NewBlankWorkflow'); }")
    ui.page.wait_for_function("() => app.graph.nodes.length === 0", timeout=10_000)
    ui.js("async () => { await app.extensionManager.command.execute('Workspace.PreviousOpenedWorkflow'); }")
    ui.page.wait_for_function("() => document.querySelector('img.t2vz-gif')?.naturalWidth === 96", timeout=15_000)


def test_nodes_2_0_mode_shows_one_preview_and_a_working_pad(ui, shared_assets):
    """The frontend's Vue-rendered nodes ("Nodes 2.0", a setting): the pack's widgets work there
    too, and Load Video still shows only its own preview."""
    ui.server.copy_to_input(shared_assets / "pose_dance1.mp4", "vue_dance.mp4")
    ui.js("async () => { await app.extensionManager.setting.set('Comfy.VueNodes.Enabled', true); }")
    ui.page.reload()
    ui.open()
    assert ui.js("() => app.extensionManager.setting.get('Comfy.VueNodes.Enabled')") is True

    ui.load_workflow(_template(ui.server, "pose_to_video"))
    (lv,) = ui.node_ids("T2VZ_LoadVideo")
    ui.set_widget(lv, "frame_load_cap", 3)
    ui.set_widget(lv, "video", "vue_dance.mp4")
    ui.js("(id) => t2vz.focus(id)", lv)
    node = ui.page.locator(f"[data-node-id='{lv}']")
    node.locator(".t2vz-preview-caption").filter(has_text="3 frames · 512×512").wait_for(timeout=30_000)
    ui.page.wait_for_function(
        f"() => document.querySelector(\"[data-node-id='{lv}'] video.t2vz-load-video-preview\")?.readyState >= 2",
        timeout=30_000)
    ui.page.wait_for_timeout(500)  # core's raw-file preview would have appeared by now
    # 1.32.9's Nodes 2.0 (a beta then) has no way to turn off core's preview of the uploaded
    # file (the node's hideOutputImages flag came later): there it stays beside ours
    assert node.locator("video").count() == (1 if ui.server.frontend == "newest" else 2)
    ui.screenshot(ui.artifacts / "nodes_2_0_load_video.png")

    ui.page.set_viewport_size({"width": 1500, "height": 1700})  # the whole Sampler node, pad included
    ui.load_workflow(_template(ui.server, "text2video"))
    (sampler,) = ui.node_ids("T2VZ_Sampler")
    ui.js("(id) => t2vz.focus(id)", sampler)
    pad = ui.page.locator(f"[data-node-id='{sampler}'] .t2vz-motion-pad canvas")
    pad.wait_for(timeout=10_000)
    box = pad.bounding_box()
    ui.page.mouse.click(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2)  # right of centre
    values = ui.widget_values(sampler)
    assert values["motion_field_strength_x"] > 0 and values["motion_field_strength_y"] == 0, values
    ui.screenshot(ui.artifacts / "nodes_2_0_motion_pad.png")



# -- missing models -----------------------------------------------------------------------------

def _declared_models(workflow: dict) -> list[dict]:
    return [m for n in workflow["nodes"] for m in n.get("properties", {}).get("models", [])]


def test_missing_checkpoint_is_offered_for_download(ui):
    """text2video.json opened on a server without its checkpoint: the frontend lists the file
    with its folder and offers the example's link (pinned: the Missing Models dialog, its
    Download button pointing at the link; newest: the issues panel, whose Download opens it)."""
    wf = _template(ui.server, "text2video")
    [model] = _declared_models(wf)
    with urllib.request.urlopen(f"{ui.server.url}/api/models/checkpoints") as r:
        assert model["name"] not in json.loads(r.read())
    context = ui.page.context
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui.server.url)
    context.route("https://huggingface.co/**", lambda route: route.fulfill(status=200, body="not fetched in tests"))

    if ui.server.frontend == "pinned":
        set_dialog = "(on) => app.extensionManager.setting.set(%s, on)" % json.dumps(MISSING_MODELS_DIALOG)
        ui.js(set_dialog, True)  # a user's default; off for the other tests (support/browser.py)
        try:
            ui.load_workflow(wf)
            dialog = ui.page.get_by_role("dialog").filter(has_text="Missing Models")
            line = dialog.get_by_text(f"{model['directory']} / {model['name']}", exact=True)
            line.wait_for(timeout=15_000)
            ui.screenshot(ui.artifacts / "missing_model.png")
            # the file's line and its Download button both carry the link
            assert line.get_attribute("title") == model["url"]
            assert dialog.get_by_role("button", name="Download").get_attribute("title") == model["url"]
            dialog.get_by_role("button", name="Copy URL").click()
            assert ui.js("() => navigator.clipboard.readText()") == model["url"]
        finally:
            ui.js(set_dialog, False)
        return

    ui.load_workflow(wf)
    ui.page.get_by_test_id("error-overlay").get_by_text(f"{model['name']} is missing").wait_for(timeout=15_000)
    ui.page.get_by_test_id("error-overlay-see-errors").click()
    row = ui.page.get_by_title(model["name"], exact=True).locator("xpath=ancestor::div[.//button[text()]][1]")
    download = ui.page.get_by_role("button", name=f"Download {model['name']}")
    download.wait_for(timeout=15_000)
    ui.screenshot(ui.artifacts / "missing_model.png")
    assert model["directory"] in row.inner_text()
    with context.expect_page() as opened:
        download.click()
    assert opened.value.url == model["url"]
    opened.value.close()
    row.get_by_role("button", name="Copy URL").click()
    # this frontend copies the file's page: the same repository and file, /blob/ for /resolve/
    assert ui.js("() => navigator.clipboard.readText()") == model["url"].replace("/resolve/", "/blob/")
