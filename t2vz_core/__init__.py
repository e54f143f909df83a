"""The Text2Video-Zero method, independent of ComfyUI's node layer.

request    the VideoRequest every video sampler builds once and checks once (ranges, choices,
           frame selection, chunk plan)
sampling   one function per mode: text_to_video (= init_video + finish_video), frame_guided_video
timing     t0/t1 step indices, their validation and rescaling to other step counts
noise      every noise of the method: frame 0's, per-frame by (seed, index), σ-space renoising
motion     MOTION values (global translation) and the latent warp (paper §3.3.1)
attention  the cross-frame attention patch (paper §3.3.2) for ComfyUI UNets
chunking   ChunkPlan and chunked sampling that shares frame 0 as the anchor
controlnet cross-frame attention inside ControlNets (clone-scoped)
progress   one progress bar with latent previews across the phases of a run
problem    Problem (an input and a sentence) and UserError (core errors name no node)
interrupt  ComfyUI's Cancel, checked in long per-frame loops
video_io   ffmpeg discovery, video reading/frame selection; video_write GIF/mp4 writing;
           preview the editor's Load Video preview; edges Canny edge maps
"""
