// Shared by the pack's preview extensions: a media element with a caption, in a DOM widget
// that keeps the media's aspect ratio at the node's width. Not an extension by itself.
import { api } from "../../../scripts/api.js";

const CAPTION_HEIGHT = 22;
const MARGIN = 10;

// URL of a file ComfyUI serves with /view ({filename, subfolder, type}).
export function viewUrl({ filename, subfolder = "", type = "output" }, bust = true) {
  const params = new URLSearchParams({ filename, subfolder, type });
  if (bust) params.set("t2vz", String(Date.now()));
  return api.apiURL(`/view?${params.toString()}`);
}

// After obj[name] (a node hook or a widget callback) has run, also run fn with the same
// `this` and arguments; the original's result is returned.
export function chain(obj, name, fn) {
  const original = obj[name];
  obj[name] = function () {
    const result = original?.apply(this, arguments);
    fn.apply(this, arguments);
    return result;
  };
}

// Wheel over a preview zooms the canvas, as over the rest of the node (DOM widgets sit in a
// layer above the canvas and would otherwise swallow it).
export function forwardWheel(element) {
  element.addEventListener("wheel", (e) => {
    const canvas = window.comfyAPI?.app?.app?.canvas?.canvas;
    if (!canvas) return;
    e.preventDefault();
    canvas.dispatchEvent(new WheelEvent("wheel", e));
  }, { passive: false });
}

// Adds (once per node and name) a preview widget; returns {root, caption, show(el, w, h), message(text, isError)}.
// The widget is never saved: it adds nothing to widgets_values nor to the API prompt.
export function mediaWidget(node, name) {
  const existing = node.widgets?.find((w) => w.name === name);
  if (existing?.t2vzMedia) return existing.t2vzMedia;

  const root = document.createElement("div");
  root.className = "t2vz-preview";
  Object.assign(root.style, { display: "flex", flexDirection: "column", width: "100%", height: "100%",
                              boxSizing: "border-box", overflow: "hidden" });
  const frame = document.createElement("div");
  Object.assign(frame.style, { flex: "1 1 auto", minHeight: "0", display: "flex", justifyContent: "center" });
  const caption = document.createElement("div");
  caption.className = "t2vz-preview-caption";
  Object.assign(caption.style, { flex: `0 0 ${CAPTION_HEIGHT}px`, font: "11px sans-serif", lineHeight: `${CAPTION_HEIGHT}px`,
                                 color: "var(--descrip-text, #999)", overflow: "hidden", textOverflow: "ellipsis",
                                 whiteSpace: "nowrap", textAlign: "center" });
  root.append(frame, caption);
  forwardWheel(root);

  let aspect = 0; // height / width of the media; 0 = nothing shown yet
  const widget = node.addDOMWidget(name, "t2vz_preview", root, {
    serialize: false,
    hideOnZoom: false,
    getMinHeight: () => CAPTION_HEIGHT + (aspect ? Math.max(32, (node.size[0] - 2 * MARGIN) * aspect) : 0),
  });
  widget.serialize = false;

  // grow to fit; with new media (exact=true) also shrink, so the node hugs the picture
  const fit = (exact = false) => {
    const want = node.computeSize();
    if (node.size[1] < want[1] || (exact && node.size[1] !== want[1])) node.setSize([node.size[0], want[1]]);
    node.setDirtyCanvas(true, true);
  };

  const media = {
    root,
    caption,
    widget,
    // Show a media element sized width x height (its aspect ratio sets the widget's height).
    show(el, width, height) {
      Object.assign(el.style, { maxWidth: "100%", maxHeight: "100%", objectFit: "contain", display: "block" });
      frame.replaceChildren(el);
      aspect = width > 0 && height > 0 ? height / width : 0;
      caption.style.color = "var(--descrip-text, #999)";
      fit(true);
    },
    // A line of plain text under the media (textContent: file names are never parsed as HTML).
    // An error, or clear=true, also takes the media away.
    message(text, isError = false, clear = false) {
      caption.textContent = text;
      caption.title = text;
      caption.style.color = isError ? "var(--error-text, #f66)" : "var(--descrip-text, #999)";
      if (isError || clear) {
        frame.replaceChildren();
        aspect = 0;
      }
      fit(isError || clear);
    },
  };
  widget.t2vzMedia = media;
  return media;
}

export function formatFps(fps) {
  return Number.isInteger(fps) ? String(fps) : fps.toFixed(2).replace(/0+$/, "").replace(/\.$/, "");
}
