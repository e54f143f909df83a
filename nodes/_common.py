"""Small helpers shared by the node files."""
from __future__ import annotations


def advanced(inp):
    """Mark a widget as a secondary knob (shown under 'advanced' by frontends that support it).

    ComfyUI 0.3.75's V3 inputs take no ``advanced`` argument yet; the flag travels in the
    input's extra options, which is where newer versions put it in /object_info.
    """
    inp.extra_dict["advanced"] = True
    return inp
