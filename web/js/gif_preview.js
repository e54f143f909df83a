// Plays the GIF that "Save GIF (T2VZ)" wrote, in the node, sized by the GIF's aspect ratio.
// The node reports it under "gifs" (see nodes/video_io.py for why not "images").
import { app } from "../../../scripts/app.js";
import { chain, formatFps, mediaWidget, viewUrl } from "./t2vz_media.js";

const NODE = "T2VZ_SaveGIF";

function show(node, gif) {
  if (!gif?.filename) return;
  const media = mediaWidget(node, "t2vz_gif_preview");
  const img = document.createElement("img");
  img.alt = gif.filename;
  img.className = "t2vz-gif";
  // an older GIF that finishes loading after a newer one replaced it changes nothing
  img.addEventListener("load", () => { if (img.isConnected) media.show(img, img.naturalWidth, img.naturalHeight); });
  img.addEventListener("error", () => { if (img.isConnected) media.message(`could not load ${gif.filename}`, true); });
  img.src = viewUrl(gif);
  media.show(img, gif.width, gif.height);
  media.message(`${gif.filename} · ${gif.frame_count} frames · ${gif.width}×${gif.height} · ${formatFps(gif.frame_rate)} fps`);
  node.t2vzGif = gif.filename;
}

app.registerExtension({
  name: "T2VZ.GifPreview",
  beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== NODE) return;
    chain(nodeType.prototype, "onExecuted", function (message) { show(this, message?.gifs?.[0]); });
    // Switching workflow tabs configures the nodes again and then restores the last outputs
    // (without calling onExecuted): show the GIF again from them.
    chain(nodeType.prototype, "onConfigure", function () {
      for (const ms of [0, 250, 1000]) {
        setTimeout(() => {
          const gif = app.nodeOutputs?.[String(this.id)]?.gifs?.[0];
          // still this graph's node (a replaced graph's nodes keep their .graph)
          if (gif && this.graph?.getNodeById?.(this.id) === this && this.t2vzGif !== gif.filename) show(this, gif);
        }, ms);
      }
    });
  },
});
