"""A small graph builder for example workflows, and its rendering to ComfyUI's two formats.

``Graph.add(class_type, title, **inputs)`` returns a node; ``node["MODEL"]`` is its output
called MODEL, to pass as another node's input. ``render`` turns a graph into the UI workflow
(nodes, links, widgets in schema order, a layout, a Note) and its API-format twin, reading
input order, defaults and socket types from the node schemas of the in-process ComfyUI.
"""
from dataclasses import dataclass, field
from typing import Callable

# -- the graph builder ------------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    id: int
    class_type: str
    title: str | None
    inputs: dict  # input name -> constant, or Out

    def __getitem__(self, output_name: str) -> "Out":
        return Out(self, output_name)


@dataclass(frozen=True)
class Out:
    """An output of a node, by its name (resolved to a slot against the node's schema)."""
    node: Node
    name: str


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)

    def add(self, class_type: str, title: str | None = None, **inputs) -> Node:
        """A node with the given inputs; the others take the schema's defaults. Ids are given
        in the order nodes are added."""
        node = Node(len(self.nodes) + 1, class_type, title, inputs)
        self.nodes.append(node)
        return node


# -- node schemas (from the in-process ComfyUI) --------------------------------------------------

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


@dataclass(frozen=True)
class Input:
    name: str
    type: str
    opts: dict
    is_widget: bool
    required: bool


@dataclass(frozen=True)
class Schema:
    inputs: list[Input]
    output_types: list[str]
    output_names: list[str]

    @classmethod
    def of(cls, node_class) -> "Schema":
        declared = node_class.INPUT_TYPES()
        inputs = []
        for section in ("required", "optional"):
            for name, spec in declared.get(section, {}).items():
                typ, opts = spec[0], (spec[1] if len(spec) > 1 else {})
                is_widget = isinstance(typ, list) or typ in WIDGET_TYPES
                inputs.append(Input(name, "COMBO" if isinstance(typ, list) else typ, opts, is_widget,
                                    section == "required" and not opts.get("optional")))
        types = list(node_class.RETURN_TYPES)
        return cls(inputs, types, list(getattr(node_class, "RETURN_NAMES", None) or types))

    def slot(self, output_name: str, where: str) -> int:
        if output_name not in self.output_names:
            raise KeyError(f"{where}: no output {output_name!r} (outputs: {self.output_names})")
        return self.output_names.index(output_name)


def node_schemas() -> Callable[[str], Schema]:
    """Schema lookup by class type, from the in-process ComfyUI (tests/support on sys.path)."""
    from support import comfy_env
    comfy_env.setup_comfy()
    import nodes
    cache: dict[str, Schema] = {}

    def schema(class_type: str) -> Schema:
        if class_type not in cache:
            cache[class_type] = Schema.of(nodes.NODE_CLASS_MAPPINGS[class_type])
        return cache[class_type]
    return schema


# -- layout: columns by link depth, nodes stacked in each column without overlapping -------------

# Room the editor gives what a node shows besides its sockets and widgets: the pack's web
# previews (web/js), the motion pad, core's video preview and upload button.
EXTRA_HEIGHT = {"T2VZ_LoadVideo": 24 + 300, "T2VZ_SaveGIF": 300, "SaveVideo": 280, "T2VZ_Sampler": 150,
                "T2VZ_MotionFieldLatentInit": 150}
COLUMN_WIDTH, NODE_WIDTH, LEFT, TOP, TITLE_BAR, GAP = 360, 320, 40, 60, 30, 40


def node_height(ui_node: dict) -> int:
    """The node's height (without its title bar) in the editor, so that nodes never overlap."""
    rows = max(sum(1 for s in ui_node["inputs"] if "widget" not in s), len(ui_node["outputs"]))
    return 12 + 20 * rows + 24 * len(ui_node["widgets_values"]) + EXTRA_HEIGHT.get(ui_node["type"], 0)


def lay_out(graph: Graph, ui_nodes: list[dict]) -> None:
    """Sets pos and size: a node's column is one right of its deepest source."""
    column: dict[int, int] = {}
    bottom: dict[int, int] = {}  # column -> y below its last node
    for node, ui_node in zip(graph.nodes, ui_nodes):
        col = max([column[v.node.id] + 1 for v in node.inputs.values() if isinstance(v, Out)], default=0)
        column[node.id] = col
        height = node_height(ui_node)
        y = bottom.get(col, TOP)
        bottom[col] = y + height + TITLE_BAR + GAP
        ui_node["pos"], ui_node["size"] = [LEFT + COLUMN_WIDTH * col, y], [NODE_WIDTH, height]


# -- rendering: the UI workflow and its API twin -------------------------------------------------


def _values(example: str, node: Node, schema: Schema):
    """(input, value) in schema order: the given value, else the widget's default."""
    unknown = set(node.inputs) - {i.name for i in schema.inputs}
    if unknown:
        raise KeyError(f"{example}: {node.class_type} has no inputs {sorted(unknown)}")
    for inp in schema.inputs:
        if inp.name in node.inputs:
            yield inp, node.inputs[inp.name]
        elif inp.is_widget and "default" in inp.opts:
            yield inp, inp.opts["default"]
        elif inp.required:
            raise KeyError(f"{example}: {node.class_type}.{inp.name} is required")


def _render_node(example: str, node: Node, order: int, schema: Callable[[str], Schema], links: list,
                 models: dict) -> tuple[dict, dict]:
    """The node's UI entry (without its outputs and place) and API entry; appends its input
    links to ``links`` ([id, source node, slot, target node, target slot, type], as the UI keeps them)."""
    sockets, widgets, api_inputs = [], [], {}
    for inp, val in _values(example, node, schema(node.class_type)):
        if isinstance(val, Out):
            src = schema(val.node.class_type)
            slot = src.slot(val.name, f"{example}: {val.node.class_type}")
            links.append([len(links) + 1, val.node.id, slot, node.id, len(sockets), src.output_types[slot]])
            socket = {"name": inp.name, "type": inp.type, "link": len(links)}
            if inp.is_widget:  # a widget fed by a link keeps its place (and value) in widgets_values
                socket["widget"] = {"name": inp.name}
                widgets.append(inp.opts.get("default", 0))
            sockets.append(socket)
            api_inputs[inp.name] = [str(val.node.id), slot]
        else:
            widgets.append(val)
            api_inputs[inp.name] = val
        if inp.is_widget and inp.opts.get("control_after_generate"):
            widgets.append("fixed")
    if any(i.opts.get("video_upload") or i.opts.get("image_upload") for i in schema(node.class_type).inputs):
        widgets.append("image")  # the frontend's upload button saves this value, as on core's Load Image
    properties = {"Node name for S&R": node.class_type}
    declared = [{"name": v, "url": models[v][1], "directory": models[v][0]}
                for v in widgets if isinstance(v, str) and v in models]
    if declared:  # the frontend offers these downloads when the file is missing
        properties["models"] = declared
    ui_node = {"id": node.id, "type": node.class_type, "pos": None, "size": None, "flags": {}, "order": order,
               "mode": 0, "inputs": sockets, "properties": properties, "widgets_values": widgets}
    if node.title:
        ui_node["title"] = node.title
    api_node = {"class_type": node.class_type, "inputs": api_inputs, "_meta": {"title": node.title or node.class_type}}
    return ui_node, api_node


def render(example: str, note: str, graph: Graph, schema: Callable[[str], Schema],
           models: dict[str, tuple[str, str]]) -> tuple[dict, dict]:
    """(UI workflow, API prompt) of a graph. ``models``: file name -> (models/ folder, download
    url); a node whose widget names one of them declares it in ``properties.models``."""
    ui_nodes, links, api = [], [], {}
    for order, node in enumerate(graph.nodes):
        ui_node, api[str(node.id)] = _render_node(example, node, order, schema, links, models)
        ui_nodes.append(ui_node)
    for node, ui_node in zip(graph.nodes, ui_nodes):
        out = schema(node.class_type)
        ui_node["outputs"] = [{"name": name, "type": typ,
                               "links": [ln[0] for ln in links if ln[1] == node.id and ln[2] == i], "slot_index": i}
                              for i, (typ, name) in enumerate(zip(out.output_types, out.output_names))]
    lay_out(graph, ui_nodes)
    note_id = len(graph.nodes) + 1
    ui_nodes.insert(0, {"id": note_id, "type": "Note", "pos": [LEFT, -200], "size": [700, 160], "flags": {},
                        "order": len(graph.nodes), "mode": 0, "inputs": [], "outputs": [],
                        "properties": {"text": ""}, "widgets_values": [note],
                        "color": "#432", "bgcolor": "#653"})
    ui = {"last_node_id": note_id, "last_link_id": len(links), "nodes": ui_nodes, "links": links, "groups": [],
          "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4}
    return ui, api
