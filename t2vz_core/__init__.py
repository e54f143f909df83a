"""The Text2Video-Zero method, independent of ComfyUI's node layer.

motion     global translation motion field and latent warp (paper §3.3.1)
noise      per-frame noise fixed by (seed, global frame index) and σ-space renoising
timing     t0/t1 step indices, their validation and rescaling to other step counts
attention  the cross-frame attention patch (paper §3.3.2) for ComfyUI UNets
sampling   the sampling schedule of the method on top of ComfyUI's samplers
chunking   memory-bounded chunked sampling that shares frame 0 as the anchor
controlnet cross-frame attention inside ControlNets (clone-scoped)
video_io   ffmpeg discovery, video reading/frame selection, GIF writing
edges      Canny edge maps
"""
