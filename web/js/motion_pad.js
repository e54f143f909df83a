// A pad on the pack's nodes that have motion_field_strength_x/y: the arrow shows where the
// camera moves each frame; dragging on the pad writes the two numbers. When the node's
// `motion` input comes from a Camera Path node, the pad draws that path instead (read-only,
// for this node's video_length). The pad is never saved: the workflow and the API prompt keep
// the two plain number inputs.
import { app } from "../../../scripts/app.js";
import { chain, forwardWheel } from "./t2vz_media.js";
import { CAMERA_NODE, PAD_WIDGET, VIEW_WIDGET, framesFor, isLinked as linked, pathView, redrawCameraViews, redrawWidget,
         sourceOf, widgetOf } from "./t2vz_camera.js";

const X = "motion_field_strength_x";
const Y = "motion_field_strength_y";
const RANGE = 32;   // the pad's edge, in pixels of a 512-pixel frame per frame
const SIZE = 120;   // pad side, CSS pixels
const HEIGHT = SIZE + 26 + 16; // canvas, label, and the margin the DOM widget keeps
const CENTRE_SNAP = 4; // pad pixels around the centre that mean "no motion"

function widgetsOf(node) {
  return [widgetOf(node, X), widgetOf(node, Y)];
}

function snap(v, step) {
  return Math.round(v / step) * step;
}

// The node's motion input replaces the x/y numbers while it is connected: no dragging then.
function readOnly(node) {
  return linked(node, X) || linked(node, Y) || linked(node, "motion");
}

function draw(node, canvas, label, view) {
  if (linked(node, "motion")) {
    const camera = sourceOf(node, "motion");
    if (camera?.type === CAMERA_NODE) {
      const info = framesFor(node);
      if (!linked(node, "video_length")) info.note = ""; // this node's own video_length: no need to say
      view.show(camera, info, "camera path: ");
      return;
    }
  }
  view.message("");
  const [wx, wy] = widgetsOf(node);
  const x = Number(wx?.value ?? 0), y = Number(wy?.value ?? 0);
  const off = readOnly(node);
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== SIZE * dpr) { canvas.width = SIZE * dpr; canvas.height = SIZE * dpr; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, SIZE, SIZE);
  const c = SIZE / 2, r = SIZE / 2 - 6;
  ctx.fillStyle = "rgba(127,127,127,0.12)";
  ctx.fillRect(0, 0, SIZE, SIZE);
  ctx.strokeStyle = "rgba(127,127,127,0.45)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(c, 4); ctx.lineTo(c, SIZE - 4); ctx.moveTo(4, c); ctx.lineTo(SIZE - 4, c);
  ctx.stroke();
  ctx.beginPath();
  ctx.arc(c, c, r * (12 / RANGE), 0, 2 * Math.PI); // the paper's default speed
  ctx.stroke();
  ctx.beginPath();
  ctx.arc(c, c, CENTRE_SNAP, 0, 2 * Math.PI); // click here: no motion
  ctx.stroke();
  if (off) {
    label.textContent = "motion comes from a link";
    return;
  }
  // clip long moves to the pad's edge, keeping the direction
  const len = Math.hypot(x, y), scale = len > RANGE ? RANGE / len : 1;
  const ex = c + (x * scale / RANGE) * r, ey = c + (y * scale / RANGE) * r;
  ctx.strokeStyle = ctx.fillStyle = len > RANGE ? "#e8a33d" : "#4ea1ff";
  ctx.lineWidth = 2.5;
  ctx.beginPath(); ctx.moveTo(c, c); ctx.lineTo(ex, ey); ctx.stroke();
  if (len > 0) {
    const a = Math.atan2(ey - c, ex - c);
    ctx.beginPath();
    ctx.moveTo(ex, ey);
    ctx.lineTo(ex - 9 * Math.cos(a - 0.45), ey - 9 * Math.sin(a - 0.45));
    ctx.lineTo(ex - 9 * Math.cos(a + 0.45), ey - 9 * Math.sin(a + 0.45));
    ctx.fill();
  } else {
    ctx.beginPath(); ctx.arc(c, c, 3.5, 0, 2 * Math.PI); ctx.fill();
  }
  label.textContent = len === 0 ? "camera still (x 0, y 0)" : `camera moves x ${x}, y ${y} px/frame`;
}

function addPad(node) {
  const [wx, wy] = widgetsOf(node);
  if (!wx || !wy || node.widgets.some((w) => w.name === PAD_WIDGET)) return;
  const root = document.createElement("div");
  root.className = "t2vz-motion-pad";
  Object.assign(root.style, { display: "flex", flexDirection: "column", alignItems: "center", gap: "2px" });
  const canvas = document.createElement("canvas");
  Object.assign(canvas.style, { width: `${SIZE}px`, height: `${SIZE}px`, cursor: "crosshair", borderRadius: "4px",
                                touchAction: "none" });
  canvas.title = "Drag to set the camera move per frame (x right, y down; in pixels of a 512-pixel frame). " +
                 "Shift: half steps. The centre dot: no motion. The ring is the paper's 12.";
  const label = document.createElement("div");
  Object.assign(label.style, { font: "11px sans-serif", color: "var(--descrip-text, #999)", whiteSpace: "nowrap",
                               maxWidth: "100%", overflow: "hidden", textOverflow: "ellipsis", padding: "0 6px",
                               boxSizing: "border-box" });
  root.append(canvas, label);
  forwardWheel(root);
  const view = pathView(canvas, label, SIZE, SIZE);
  const redraw = () => draw(node, canvas, label, view);

  const set = (vx, vy) => {
    for (const [w, v] of [[wx, vx], [wy, vy]]) {
      const min = w.options?.min ?? -512, max = w.options?.max ?? 512;
      const value = Math.min(max, Math.max(min, v));
      if (w.value !== value) {
        w.value = value;
        w.callback?.(value, app.canvas, node);
      }
    }
    node.graph?.setDirtyCanvas?.(true, false);
    redraw();
  };
  let dragging = false;
  const fromEvent = (e) => {
    const rect = canvas.getBoundingClientRect();
    const r = rect.width / 2 - 6 * (rect.width / SIZE);
    const dx = e.clientX - rect.left - rect.width / 2, dy = e.clientY - rect.top - rect.height / 2;
    if (Math.hypot(dx, dy) <= CENTRE_SNAP * (rect.width / SIZE)) { set(0, 0); return; } // the centre dot
    const step = e.shiftKey ? 0.5 : 1;
    const vx = snap((dx / r) * RANGE, step), vy = snap((dy / r) * RANGE, step);
    set(Object.is(vx, -0) ? 0 : vx, Object.is(vy, -0) ? 0 : vy);
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (readOnly(node) || e.button !== 0) return;
    e.preventDefault();
    e.stopPropagation();
    canvas.setPointerCapture(e.pointerId);
    dragging = true;
    app.canvas?.emitBeforeChange?.(); // one undo step per drag
    node.graph?.beforeChange?.();
    fromEvent(e);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (dragging && canvas.hasPointerCapture(e.pointerId)) { e.stopPropagation(); fromEvent(e); }
  });
  // the drag ends however the capture is lost (pointerup, cancel, element removed): the
  // change is closed exactly once
  canvas.addEventListener("lostpointercapture", () => {
    if (!dragging) return;
    dragging = false;
    node.graph?.afterChange?.();
    app.canvas?.emitAfterChange?.();
  });

  const widget = node.addDOMWidget(PAD_WIDGET, PAD_WIDGET, root, {
    serialize: false,
    hideOnZoom: false,
    getMinHeight: () => HEIGHT,
    getMaxHeight: () => HEIGHT,
  });
  widget.serialize = false;
  widget.t2vzRedraw = redraw;

  // redraw when the numbers change any other way (typed, dragged, loaded, linked)
  for (const w of [wx, wy]) chain(w, "callback", redraw);
  // the frames and the aspect of a connected camera path follow this node's settings, here
  // and in the Camera Path node's own view
  for (const name of ["video_length", "width", "height"]) {
    const w = node.widgets.find((x) => x.name === name);
    if (w) chain(w, "callback", () => { redraw(); redrawWidget(sourceOf(node, "motion"), VIEW_WIDGET); });
  }
  redraw();
}

app.registerExtension({
  name: "T2VZ.MotionPad",
  beforeRegisterNodeDef(nodeType, nodeData) {
    if (!nodeData.name?.startsWith("T2VZ_")) return;
    const inputs = { ...nodeData.input?.required, ...nodeData.input?.optional };
    if (!(X in inputs && Y in inputs)) return;

    chain(nodeType.prototype, "onNodeCreated", function () { addPad(this); });
    for (const hook of ["onConfigure", "onConnectionsChange"]) {
      chain(nodeType.prototype, hook, function () {
        redrawWidget(this, PAD_WIDGET);
        if (hook === "onConnectionsChange") redrawCameraViews(this.graph);
      });
    }
  },
});
