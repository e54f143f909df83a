// Plays the GIF that "Save GIF (T2VZ)" wrote, in the node, sized by the GIF's aspect ratio.
// The node reports it under "gifs" (see nodes/video_io.py for why not "images").
import { app } from "../../../scripts/app.js";
import { formatFps, mediaWidget, viewUrl } from "./t2vz_media.js";

const NODE = "T2VZ_SaveGIF";

app.registerExtension({
  name: "T2VZ.GifPreview",
  beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== NODE) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      const result = onExecuted?.apply(this, arguments);
      const gif = message?.gifs?.[0];
      if (gif?.filename) {
        const media = mediaWidget(this, "t2vz_gif_preview");
        const img = document.createElement("img");
        img.alt = gif.filename;
        img.className = "t2vz-gif";
        img.addEventListener("load", () => media.show(img, img.naturalWidth, img.naturalHeight));
        img.addEventListener("error", () => media.message(`could not load ${gif.filename}`, true));
        img.src = viewUrl(gif);
        media.show(img, gif.width, gif.height);
        media.message(`${gif.filename} · ${gif.frame_count} frames · ${gif.width}×${gif.height} · ${formatFps(gif.frame_rate)} fps`);
      }
      return result;
    };
  },
});
