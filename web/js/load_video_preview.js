// "Load Video (T2VZ)": previews exactly the frames the node will output (time window, fps
// resampling, skip, every nth, cap and resize applied by the server with the node's own code).
import { api } from "../../../scripts/api.js";
import { app } from "../../../scripts/app.js";
import { chain, formatFps, mediaWidget, viewUrl } from "./t2vz_media.js";

const NODE = "T2VZ_LoadVideo";
const DEBOUNCE_MS = 300;

function isLinked(node, name) {
  return !!node.inputs?.some((i) => i.name === name && i.link != null);
}

// The node's inputs as the server declares them (video and every option, in order): the preview
// route takes the same names, so no list of options is written here.
function inputNames(nodeData) {
  const order = nodeData.input_order ?? {};
  const names = [...(order.required ?? Object.keys(nodeData.input?.required ?? {})),
                 ...(order.optional ?? Object.keys(nodeData.input?.optional ?? {}))];
  return names.includes("video") ? names : ["video", ...names];
}

// The query for the preview, and the options that come from links (unknown until the graph runs).
function query(node) {
  const params = new URLSearchParams();
  const linked = [];
  for (const name of node.t2vzInputNames) {
    if (isLinked(node, name)) { linked.push(name); continue; }
    const w = node.widgets?.find((x) => x.name === name);
    if (w === undefined || w.value === undefined || w.value === null) continue;
    params.set(name, String(w.value));
  }
  return { params, linked };
}

function caption(info, linked) {
  let text = `${info.frame_count} frames · ${info.width}×${info.height} · ${formatFps(info.fps)} fps`;
  if (info.shown_frames < info.frame_count) text += ` (preview: first ${info.shown_frames})`;
  for (const note of info.notes ?? []) text += ` · ${note}`;
  if (linked.length) text += ` · linked, shown with defaults: ${linked.join(", ")}`;
  return text;
}

async function refresh(node) {
  const { params, linked } = query(node);
  const key = params.toString() + "|" + linked.join(",");
  if (key === node.t2vzPreviewKey) return;
  node.t2vzPreviewKey = key;
  node.t2vzPreviewAbort?.abort();
  const media = mediaWidget(node, "t2vz_video_preview");
  if (linked.includes("video")) {
    media.message("the video comes from a link: no preview before a run", false, true);
    return;
  }
  if (!params.get("video")) {
    media.message("no video chosen: upload one with the button", true);
    return;
  }
  const abort = new AbortController();
  node.t2vzPreviewAbort = abort;
  media.message("preparing preview…");
  let info;
  try {
    const resp = await api.fetchApi(`/t2vz/load_video_preview?${params.toString()}`, { signal: abort.signal });
    info = await resp.json();
    if (!resp.ok) throw new Error(info?.error ?? `HTTP ${resp.status}`);
  } catch (e) {
    if (abort.signal.aborted) return; // a newer request replaced this one
    node.t2vzPreviewKey = undefined;  // ask again at the next change, even to the same settings
    media.message(String(e.message ?? e), true);
    return;
  }
  if (abort.signal.aborted || !node.graph) return;
  node.t2vzPreviewInfo = info;
  if (!info.filename) { // the selection starts too far into the video to decode for a preview
    media.message(`${caption(info, linked)} · no preview: the frames start too far into the video`, false, true);
    return;
  }
  const video = document.createElement("video");
  Object.assign(video, { muted: true, loop: true, autoplay: true, playsInline: true, controls: true });
  video.className = "t2vz-load-video-preview";
  video.addEventListener("error", () => {
    if (!video.isConnected) return;
    node.t2vzPreviewKey = undefined; // made again at the next change
    media.message(`could not play the preview (${info.filename})`, true);
  });
  video.src = viewUrl(info, false);
  media.show(video, info.width, info.height);
  media.message(caption(info, linked));
}

// Core's video upload widget previews the raw file in this node; ours shows what the node
// outputs instead. On the classic canvas core's preview is given a container that is never
// attached (core drops it when a file fails to load, hence set again at every change); on
// Nodes 2.0 (Vue nodes) the node's hideOutputImages flag turns it off.
function hideRawPreview(node) {
  node.hideOutputImages = true;
  if (!node.videoContainer?.t2vzDetached) {
    node.videoContainer = document.createElement("div");
    node.videoContainer.t2vzDetached = true;
  }
}

function schedule(node) {
  hideRawPreview(node);
  clearTimeout(node.t2vzPreviewTimer);
  node.t2vzPreviewTimer = setTimeout(() => refresh(node), DEBOUNCE_MS);
}

app.registerExtension({
  name: "T2VZ.LoadVideoPreview",
  beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== NODE) return;

    const proto = nodeType.prototype;
    const names = inputNames(nodeData);
    proto.t2vzInputNames = names;
    chain(proto, "onNodeCreated", function () {
      const node = this;
      for (const name of names) {
        const w = this.widgets?.find((x) => x.name === name);
        if (w) chain(w, "callback", () => schedule(node));
      }
      schedule(this);
    });
    chain(proto, "onConfigure", function () { schedule(this); });
    chain(proto, "onConnectionsChange", function () { schedule(this); });
    chain(proto, "onRemoved", function () {
      clearTimeout(this.t2vzPreviewTimer);
      this.t2vzPreviewAbort?.abort();
    });
  },
});
