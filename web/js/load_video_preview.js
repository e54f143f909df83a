// "Load Video (T2VZ)": previews exactly the frames the node will output (time window, fps
// resampling, skip, every nth, cap and resize applied by the server with the node's own code).
import { api } from "../../../scripts/api.js";
import { app } from "../../../scripts/app.js";
import { formatFps, mediaWidget, viewUrl } from "./t2vz_media.js";

const NODE = "T2VZ_LoadVideo";
const OPTIONS = ["frame_load_cap", "skip_first_frames", "select_every_nth", "resolution", "output_fps",
                 "start_time", "end_time"];
const DEBOUNCE_MS = 300;

function query(node) {
  const params = new URLSearchParams();
  for (const name of ["video", ...OPTIONS]) {
    const w = node.widgets?.find((x) => x.name === name);
    if (w === undefined || w.value === undefined || w.value === null) continue;
    // a linked option is unknown until the graph runs: preview with the node's default
    if (node.inputs?.some((i) => i.name === name && i.link != null)) continue;
    params.set(name, String(w.value));
  }
  return params;
}

async function refresh(node) {
  const params = query(node);
  const key = params.toString();
  if (key === node.t2vzPreviewKey) return;
  node.t2vzPreviewKey = key;
  const media = mediaWidget(node, "t2vz_video_preview");
  if (!params.get("video")) {
    media.message("no video chosen: upload one with the button", true);
    return;
  }
  media.message("preparing preview…");
  let info;
  try {
    const resp = await api.fetchApi(`/t2vz/load_video_preview?${key}`);
    info = await resp.json();
    if (!resp.ok) throw new Error(info?.error ?? `HTTP ${resp.status}`);
  } catch (e) {
    if (node.t2vzPreviewKey === key) media.message(String(e.message ?? e), true);
    return;
  }
  if (node.t2vzPreviewKey !== key) return; // a newer request is on its way
  const video = document.createElement("video");
  Object.assign(video, { muted: true, loop: true, autoplay: true, playsInline: true, controls: true });
  video.className = "t2vz-load-video-preview";
  video.dataset.frameCount = String(info.frame_count);
  video.src = viewUrl(info, false);
  media.show(video, info.width, info.height);
  media.message(`${info.frame_count} frames · ${info.width}×${info.height} · ${formatFps(info.fps)} fps`);
  node.t2vzPreviewInfo = info;
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

    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      hideRawPreview(this);
      const node = this;
      for (const name of ["video", ...OPTIONS]) {
        const w = this.widgets?.find((x) => x.name === name);
        if (!w) continue;
        const callback = w.callback;
        w.callback = function () {
          const r = callback?.apply(this, arguments);
          schedule(node);
          return r;
        };
      }
      schedule(this);
      return result;
    };

    const onConfigure = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function () {
      const result = onConfigure?.apply(this, arguments);
      schedule(this);
      return result;
    };

    const onConnectionsChange = nodeType.prototype.onConnectionsChange;
    nodeType.prototype.onConnectionsChange = function () {
      const result = onConnectionsChange?.apply(this, arguments);
      schedule(this);
      return result;
    };
  },
});
