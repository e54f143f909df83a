"""Token merging (ToMe, as the original Text2Video-Zero uses through tomesd) that keeps the
pack's guarantees: the same seed gives the same video, chunked equals unchunked, and frame
parts equal one long run.

ComfyUI's ToMe node matches tokens by bipartite soft matching over a partition drawn at
random at every call (one "destination" token per 2×2 cell). Here the partition is drawn
once from the sampling seed, with its own generator (the global RNG is never touched),
and the matching is made per frame, so a frame's merge never depends on which other
frames share its batch. Like core, only the highest-resolution blocks merge, with a 2×2
stride, and the queries (the block's normed hidden states) are the similarity metric.

Modes:
  * queries only (default): every frame's queries are merged before attention and the
    output is unmerged after it; the anchor's keys/values stay whole — what core's ToMe
    gives on a cross-frame model;
  * ``merge_keys``: the anchor frame's keys/values are merged too (with the anchor's own
    matching), as tomesd does in the original, where the hidden states are merged before
    the self-attention reads them.
"""
from __future__ import annotations

import math

import torch

SEED_KEY = "t2vz_tome_seed"  # transformer_options entry: the sampling run's seed
WRAPPER_KEY = "t2vz_tome"
STRIDE = 2


def partition(seed: int, h: int, w: int, stride: int = STRIDE) -> torch.Tensor:
    """Which cell of every stride×stride block is the destination token: (h//s, w//s) ints
    in [0, s²), drawn from ``seed`` alone."""
    g = torch.Generator().manual_seed(int(seed) % (1 << 63))
    return torch.randint(stride * stride, (h // stride, w // stride), generator=g)


def split_indices(pick: torch.Tensor, h: int, w: int, stride: int = STRIDE) -> tuple[torch.Tensor, torch.Tensor]:
    """Token indices (row-major over h×w) of the source and destination sets of a partition.
    Rows/columns past the last whole cell are sources."""
    hs, ws = pick.shape
    cell_r = torch.arange(hs).view(hs, 1) * stride + pick // stride
    cell_c = torch.arange(ws).view(1, ws) * stride + pick % stride
    is_dst = torch.zeros(h, w, dtype=torch.bool)
    is_dst[cell_r, cell_c] = True
    flat = is_dst.flatten()
    return (~flat).nonzero().squeeze(1), flat.nonzero().squeeze(1)


class Merge:
    """Bipartite soft matching of the rows of ``metric`` (B, N, C): each source token's most
    similar destination; the ``r`` most similar sources are averaged into their destination."""

    def __init__(self, metric: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, r: int):
        self.src, self.dst = src.to(metric.device), dst.to(metric.device)
        self.n = metric.shape[1]
        with torch.no_grad():
            unit = metric / metric.norm(dim=-1, keepdim=True)
            similarity = unit[:, self.src] @ unit[:, self.dst].transpose(-1, -2)
            best, best_dst = similarity.max(dim=-1)
            order = best.argsort(dim=-1, descending=True)
        self.r = min(r, self.src.shape[0])
        self.moved = order[:, :self.r]  # positions in src that merge
        self.kept = order[:, self.r:]   # positions in src that stay
        self.into = best_dst.gather(-1, self.moved)  # their destinations (positions in dst)

    @staticmethod
    def _take(x, idx):
        return x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))

    def merge(self, x: torch.Tensor) -> torch.Tensor:
        src, dst = x[:, self.src], x[:, self.dst]
        dst = dst.scatter_reduce(1, self.into.unsqueeze(-1).expand(-1, -1, x.shape[-1]),
                                 self._take(src, self.moved), reduce="mean")
        return torch.cat([self._take(src, self.kept), dst], dim=1)

    def unmerge(self, y: torch.Tensor) -> torch.Tensor:
        b, _, c = y.shape
        kept_n = self.kept.shape[1]
        kept, dst = y[:, :kept_n], y[:, kept_n:]
        out = torch.zeros(b, self.n, c, device=y.device, dtype=y.dtype)
        out[:, self.dst] = dst
        src_pos = self.src.unsqueeze(0).expand(b, -1)
        out.scatter_(1, src_pos.gather(1, self.kept).unsqueeze(-1).expand(-1, -1, c), kept)
        out.scatter_(1, src_pos.gather(1, self.moved).unsqueeze(-1).expand(-1, -1, c), self._take(dst, self.into))
        return out


class TokenMergePatch:
    """attn1_patch (merge) + attn1_output_patch (unmerge), after cross-frame attention's own
    attn1_patch (which has put the anchor's hidden states into the context)."""

    t2vz_tome = True  # marks our patches so re-applying replaces instead of stacking

    def __init__(self, ratio: float, merge_keys: bool = False):
        self.ratio = float(ratio)
        self.merge_keys = bool(merge_keys)
        self._partitions: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        self._unmerge = None

    def _indices(self, seed: int, h: int, w: int):
        key = (seed, h, w)
        if key not in self._partitions:
            self._partitions[key] = split_indices(partition(seed, h, w), h, w)
        return self._partitions[key]

    def _shape(self, tokens: int, extra_options: dict):
        """(h, w) in tokens when this is a highest-resolution block, else None."""
        _, _, oh, ow = extra_options["original_shape"]
        if math.ceil(math.sqrt((oh * ow) // tokens)) > 1 or oh < STRIDE or ow < STRIDE:
            return None
        return oh, ow

    def merge(self, n, context, value, extra_options):
        self._unmerge = None
        hw = self._shape(n.shape[1], extra_options)
        if self.ratio <= 0 or hw is None:
            return n, context, value
        src, dst = self._indices(extra_options.get(SEED_KEY) or 0, *hw)
        m = Merge(n, src, dst, int(n.shape[1] * self.ratio))
        self._unmerge = m.unmerge
        if self.merge_keys and context.shape[1] == n.shape[1]:
            if context is n:
                context = value = m.merge(n)
            else:
                mk = Merge(context, src, dst, int(context.shape[1] * self.ratio))
                same = value is context
                context = mk.merge(context)
                value = context if same else mk.merge(value)
        return m.merge(n), context, value

    def unmerge(self, out, extra_options):
        u, self._unmerge = self._unmerge, None
        return out if u is None else u(out)


def seed_wrapper(executor, *args, **kwargs):
    """Outer-sample wrapper: the run's seed (CFGGuider.outer_sample's 8th argument) fixes the
    partition; it goes into this run's own copy of the model options."""
    seed = kwargs["seed"] if "seed" in kwargs else (args[7] if len(args) > 7 else None)
    executor.class_obj.model_options.setdefault("transformer_options", {})[SEED_KEY] = int(seed or 0)
    return executor(*args, **kwargs)


def _is_ours(p) -> bool:
    return getattr(getattr(p, "__self__", p), "t2vz_tome", False)


def apply(m, ratio: float, merge_keys: bool = False) -> None:
    """On the (already cloned) ModelPatcher ``m``: token merging at ``ratio`` after our
    cross-frame patch, or none at 0. Re-applying replaces the previous setting."""
    import comfy.patcher_extension
    to = m.model_options["transformer_options"]
    patches = dict(to.get("patches", {}))
    for kind in ("attn1_patch", "attn1_output_patch"):
        if kind in patches:
            patches[kind] = [p for p in patches[kind] if not _is_ours(p)]
    to["patches"] = patches
    m.remove_wrappers_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, WRAPPER_KEY)
    if ratio <= 0:
        return
    patch = TokenMergePatch(ratio, merge_keys)
    m.set_model_attn1_patch(patch.merge)
    m.set_model_attn1_output_patch(patch.unmerge)
    m.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, WRAPPER_KEY, seed_wrapper)
