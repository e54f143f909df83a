"""One mistake, one red input, in the real editor (both frontends, as tests/test_browser.py):
a graph queued from the UI with t0 = t1 on the Text2Video-Zero Sampler comes back with one
error, and the frontend marks that one input only."""
from __future__ import annotations

import pytest

from test_browser import _queue_from_ui, _shrink, _template, browser, ui, ui_server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.server, pytest.mark.browser]


def test_one_bad_value_marks_one_input(ui):
    ui.load_workflow(_template(ui.server, "text2video"))
    _shrink(ui)
    (nid,) = ui.node_ids("T2VZ_Sampler")
    ui.set_widget(nid, "t0", 47)
    ui.set_widget(nid, "t1", 47)
    _queue_from_ui(ui)
    ui.page.wait_for_function("() => Object.keys(app.lastNodeErrors ?? {}).length > 0", timeout=30_000)
    errors = ui.js("() => app.lastNodeErrors")
    assert list(errors) == [str(nid)], errors
    assert [e["extra_info"]["input_name"] for e in errors[str(nid)]["errors"]] == ["t0"], errors
    assert "t0 (47) must be smaller than t1 (47)" in errors[str(nid)]["errors"][0]["details"]
    # what the editor marks: the node's input slots flagged with an error (widget sockets too)
    ui.page.wait_for_function(f"() => app.graph.getNodeById({nid!r}).inputs.some((s) => s.hasErrors)",
                              timeout=10_000)
    marked = ui.js(f"() => app.graph.getNodeById({nid!r}).inputs.filter((s) => s.hasErrors).map((s) => s.name)")
    assert marked == ["t0"], marked
    others = ui.js(f"() => app.graph.nodes.filter((n) => n.id !== {nid!r} && n.inputs?.some((s) => s.hasErrors))"
                   ".map((n) => n.type)")
    assert others == [], others
    ui.js("(id) => t2vz.focus(id)", nid)
    ui.screenshot(ui.artifacts / "one_error_one_input.png")
