// "Camera Path (T2VZ)": a view of the path under the node's inputs, the frames as the camera
// sees them from frame 0 to the last. The numbers come from the server (the pack's own
// CameraPath). Frames drawn: the video_length of the sampler the output is connected to, else
// a default. Never saved: the workflow and the API prompt keep the node's own inputs only.
import { app } from "../../../scripts/app.js";
import { chain, forwardWheel } from "./t2vz_media.js";
import { CAMERA_NODE, PAD_WIDGET, VIEW_WIDGET, framesFor, pathView, redrawWidget, targetsOf } from "./t2vz_camera.js";

const WIDTH = 220;   // canvas, CSS pixels
const HEIGHT = 150;
const LABEL_LINES = 4;
const LINE = 14;

function target(node) {
  const targets = targetsOf(node);
  return targets.find((t) => t.widgets?.some((w) => w.name === "video_length")) ?? targets[0] ?? null;
}

function addView(node) {
  if (node.widgets?.some((w) => w.name === VIEW_WIDGET)) return;
  const root = document.createElement("div");
  root.className = "t2vz-camera-path";
  Object.assign(root.style, { display: "flex", flexDirection: "column", alignItems: "center", gap: "2px" });
  const canvas = document.createElement("canvas");
  Object.assign(canvas.style, { width: `${WIDTH}px`, height: `${HEIGHT}px`, borderRadius: "4px" });
  canvas.title = "The frames as the camera sees them, in frame 0's picture: frame 0 grey, the last frame blue, " +
                 "the frames between faint, the middle's path orange; a dot marks each frame's top-left corner.";
  const label = document.createElement("div");
  label.className = "t2vz-camera-path-label";
  Object.assign(label.style, { font: "11px sans-serif", lineHeight: `${LINE}px`, height: `${LINE * LABEL_LINES}px`,
                               overflow: "hidden", textAlign: "center", padding: "0 6px", wordBreak: "break-word",
                               color: "var(--descrip-text, #999)" });
  root.append(canvas, label);
  forwardWheel(root);
  const view = pathView(canvas, label, WIDTH, HEIGHT);
  const height = HEIGHT + LINE * LABEL_LINES + 16; // the DOM widget keeps a margin
  const widget = node.addDOMWidget(VIEW_WIDGET, VIEW_WIDGET, root, {
    serialize: false,
    hideOnZoom: false,
    getMinHeight: () => height,
    getMaxHeight: () => height,
  });
  widget.serialize = false;
  widget.t2vzRedraw = () => view.show(node, framesFor(target(node)));

  // redraw on any change of the node's widgets; the samplers it feeds redraw their pads
  for (const w of node.widgets ?? []) {
    if (w === widget) continue;
    chain(w, "callback", () => {
      widget.t2vzRedraw();
      for (const t of targetsOf(node)) redrawWidget(t, PAD_WIDGET);
    });
  }
  widget.t2vzRedraw();
}

app.registerExtension({
  name: "T2VZ.CameraPathView",
  beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== CAMERA_NODE) return;
    chain(nodeType.prototype, "onNodeCreated", function () { addView(this); });
    for (const hook of ["onConfigure", "onConnectionsChange"]) {
      chain(nodeType.prototype, hook, function () {
        redrawWidget(this, VIEW_WIDGET);
        for (const t of targetsOf(this)) redrawWidget(t, PAD_WIDGET);
      });
    }
  },
});
