// Shared by the camera-path view (camera_path_view.js) and the motion pad (motion_pad.js): asks
// the server for a Camera Path node's path (GET /t2vz/camera_path, computed by the pack's own
// CameraPath, so no schedule grammar lives here) and draws it on a canvas. Not an extension.
import { api } from "../../../scripts/api.js";

export const CAMERA_NODE = "T2VZ_CameraPath";
export const DEFAULT_FRAMES = 24;
export const VIEW_WIDGET = "t2vz_camera_path";
export const PAD_WIDGET = "t2vz_motion_pad";
const PATH_INPUTS = ["pan_x", "pan_y", "zoom", "roll", "centre_x", "centre_y", "mode"];
const DEBOUNCE_MS = 250;
const MAX_OUTLINES = 120; // faint outlines drawn at most; every frame up to this many
const CACHE = new Map();  // query → Promise of the server's answer (a few recent ones)

function linkOf(graph, id) {
  return graph?.links?.get ? graph.links.get(id) : graph?.links?.[id];
}

export function isLinked(node, name) {
  return !!node?.inputs?.some((i) => i.name === name && i.link != null);
}

export function widgetOf(node, name) {
  return node?.widgets?.find((w) => w.name === name);
}

// The node feeding input `name` of `node` (through core's Reroute nodes), or null.
export function sourceOf(node, name) {
  let slot = node?.inputs?.find((i) => i.name === name);
  for (let hops = 0; slot?.link != null && hops < 32; hops++) {
    const link = linkOf(node.graph, slot.link);
    const source = link ? node.graph.getNodeById(link.origin_id) ?? null : null;
    if (source?.type !== "Reroute") return source;
    node = source;
    slot = source.inputs?.[0];
  }
  return null;
}

// The nodes a node's outputs feed (through core's Reroute nodes).
export function targetsOf(node, hops = 0) {
  const out = [];
  for (const output of node?.outputs ?? []) {
    for (const id of output.links ?? []) {
      const link = linkOf(node.graph, id);
      const target = link && node.graph.getNodeById(link.target_id);
      if (!target) continue;
      if (target.type === "Reroute") { if (hops < 32) out.push(...targetsOf(target, hops + 1)); }
      else out.push(target);
    }
  }
  return out;
}

// Redraw every Camera Path view of `graph` (a link that reached one through a Reroute may
// have come or gone; answers are cached and a view whose query is unchanged stays as it is).
export function redrawCameraViews(graph) {
  for (const n of graph?.nodes ?? graph?._nodes ?? []) if (n.type === CAMERA_NODE) redrawWidget(n, VIEW_WIDGET);
}

// Frames to draw for a path used by `target` (a sampler or init, or none) and where the
// number comes from; the target's width/height set the aspect that roll turns in.
export function framesFor(target) {
  const length = widgetOf(target, "video_length");
  if (!target || !length) return { frames: DEFAULT_FRAMES, note: `${DEFAULT_FRAMES} frames by default (no sampler connected)` };
  const name = target.title || target.type;
  if (isLinked(target, "video_length")) {
    return { frames: DEFAULT_FRAMES, note: `${name}'s video_length comes from a link: ${DEFAULT_FRAMES} frames shown` };
  }
  const size = {};
  for (const side of ["width", "height"]) {
    const w = widgetOf(target, side);
    if (w && !isLinked(target, side) && Number(w.value) > 0) size[side] = Number(w.value);
  }
  return { frames: Number(length.value), note: `video_length of ${name}`, ...(size.width && size.height ? size : {}) };
}

// The widget a primitive node feeding input `name` holds its value in (the editor's
// Primitive, or core's Primitive String / String (Multiline) / Int / Float), or null for any
// other source. Its changes redraw the camera views, as the camera's own widgets do.
function primitiveWidget(camera, name) {
  const source = sourceOf(camera, name);
  const type = source?.type ?? "";
  const w = type === "PrimitiveNode" ? source.widgets?.[0] : type.startsWith("Primitive") ? widgetOf(source, "value") : null;
  if (w && !w.t2vzWatched) {
    w.t2vzWatched = true;
    const original = w.callback;
    w.callback = function () {
      const result = original?.apply(this, arguments);
      redrawCameraViews(source.graph);
      return result;
    };
  }
  return w ?? null;
}

// The route's query for a Camera Path node's inputs: its widgets, or the value of a
// primitive node linked into one; inputs fed by other links are left to the node's
// defaults and named in the note.
export function pathQuery(camera, { frames, width, height }) {
  const params = new URLSearchParams();
  const linked = [];
  for (const name of PATH_INPUTS) {
    if (isLinked(camera, name)) {
      const w = primitiveWidget(camera, name);
      if (w?.value !== undefined && w.value !== null) params.set(name, String(w.value));
      else linked.push(name);
      continue;
    }
    const w = widgetOf(camera, name);
    if (w?.value !== undefined && w.value !== null) params.set(name, String(w.value));
  }
  params.set("frames", String(frames));
  if (width && height) { params.set("width", String(width)); params.set("height", String(height)); }
  return { params, linked };
}

function fetchPath(query) {
  let answer = CACHE.get(query);
  if (!answer) {
    answer = api.fetchApi(`/t2vz/camera_path?${query}`).then(async (resp) => {
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) throw new Error(body?.error ?? `HTTP ${resp.status}`);
      return body;
    });
    answer.catch(() => CACHE.delete(query)); // ask again next time
    CACHE.set(query, answer);
    while (CACHE.size > 16) CACHE.delete(CACHE.keys().next().value);
  }
  return answer;
}

function sizeCanvas(canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = "rgba(127,127,127,0.12)";
  ctx.fillRect(0, 0, width, height);
  return ctx;
}

// Draw the path: faint outlines of the frames as the camera sees them (in frame 0's picture),
// frame 0 (grey) and the last frame (blue) emphasised, the middle's trajectory (orange), all
// scaled to fit width x height CSS pixels.
export function drawPath(canvas, width, height, data) {
  const ctx = sizeCanvas(canvas, width, height);
  const aspect = data.height / data.width; // frame height in frame widths
  const pt = ([x, y]) => [x, y * aspect];
  let x0 = 0, x1 = 1, y0 = 0, y1 = aspect;
  for (const o of data.outlines) {
    for (const c of o.corners) {
      const [x, y] = pt(c);
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  const margin = 8;
  const scale = Math.min((width - 2 * margin) / (x1 - x0), (height - 2 * margin) / (y1 - y0));
  const ox = (width - (x1 - x0) * scale) / 2 - x0 * scale, oy = (height - (y1 - y0) * scale) / 2 - y0 * scale;
  const px = (c) => { const [x, y] = pt(c); return [ox + x * scale, oy + y * scale]; };
  const outline = (o) => {
    ctx.beginPath();
    o.corners.forEach((c, i) => { const [x, y] = px(c); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
    ctx.closePath();
    ctx.stroke();
  };
  const n = data.outlines.length, stride = Math.max(1, Math.ceil(n / MAX_OUTLINES));
  ctx.lineWidth = 1;
  ctx.strokeStyle = "rgba(78,161,255,0.3)";
  for (let k = stride; k < n - 1; k += stride) outline(data.outlines[k]);
  ctx.strokeStyle = "#e8a33d";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  data.outlines.forEach((o, k) => { const [x, y] = px(o.middle); if (k) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
  ctx.stroke();
  const first = data.outlines[0], last = data.outlines[n - 1];
  for (const [o, colour] of [[first, "#b0b0b0"], [last, "#4ea1ff"]]) {
    ctx.strokeStyle = ctx.fillStyle = colour;
    ctx.lineWidth = 2;
    outline(o);
    const [cx, cy] = px(o.corners[0]); // the frame's top-left corner: shows which way is up
    ctx.beginPath(); ctx.arc(cx, cy, 3, 0, 2 * Math.PI); ctx.fill();
  }
  const [ex, ey] = px(last.middle);
  ctx.fillStyle = "#e8a33d";
  ctx.beginPath(); ctx.arc(ex, ey, 3, 0, 2 * Math.PI); ctx.fill();
  // what was drawn, for anyone reading the page (and the tests): frame 0 and the last frame
  canvas.dataset.frames = String(n);
  canvas.dataset.first = JSON.stringify(first.corners);
  canvas.dataset.last = JSON.stringify(last.corners);
}

// A canvas and a label showing a Camera Path node's path: show(camera, frameInfo) asks the
// server (debounced; the last request wins) and draws; message(text) clears the drawing.
export function pathView(canvas, label, width, height) {
  let timer = null, latest = 0;
  const setLabel = (text, isError) => {
    label.textContent = text;
    label.title = text;
    label.style.color = isError ? "var(--error-text, #f66)" : "var(--descrip-text, #999)";
  };
  const clear = (state) => {
    sizeCanvas(canvas, width, height);
    for (const key of ["frames", "first", "last", "query"]) delete canvas.dataset[key];
    canvas.dataset.state = state;
  };
  const view = {
    message(text, isError = false) {
      latest += 1;
      clearTimeout(timer);
      clear(isError ? "error" : "none");
      setLabel(text, isError);
    },
    show(camera, info, prefix = "") {
      const { params, linked } = pathQuery(camera, info);
      const query = params.toString();
      if (canvas.dataset.query === query && canvas.dataset.state === "drawn") return;
      const ticket = ++latest;
      canvas.dataset.state = "loading";
      clearTimeout(timer);
      timer = setTimeout(async () => {
        let data;
        try {
          data = await fetchPath(query);
        } catch (e) {
          if (ticket !== latest) return;
          clear("error");
          setLabel(prefix + String(e.message ?? e), true); // nothing stale stays drawn
          return;
        }
        if (ticket !== latest) return; // a newer request replaced this one
        drawPath(canvas, width, height, data);
        canvas.dataset.query = query;
        canvas.dataset.state = "drawn";
        let text = `${prefix}${data.summary}${info.note ? ` · ${info.note}` : ""}`;
        if (linked.length) text += ` · from links, shown as defaults: ${linked.join(", ")}`;
        setLabel(text, false);
      }, DEBOUNCE_MS);
    },
  };
  return view;
}

// Ask a node's path view / motion pad to draw again (after a change on a linked node).
export function redrawWidget(node, name) {
  widgetOf(node, name)?.t2vzRedraw?.();
}
