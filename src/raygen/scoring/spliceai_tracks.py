"""REF and ALT probability tracks of the SpliceAI ensemble, with the REF work shared between variants.

The REF track of a gene does not depend on the variant: an output base depends only on the 10,001 bases
around it, and the release N-masks everything outside the transcript. So REF is computed once per **span**
of a gene (contig, transcript, strand): one forward over the masked sequence whose outputs cover the
``2D + 1`` scored bases of every variant in the span, keeping every intermediate tensor. Each variant
reads its REF outputs from there, and its ALT forward
(:meth:`raygen.models.spliceai.SpliceAINet.forward_alt`) computes only the receptive-field cone of the
changed bases, taking REF tensors everywhere else.

Spans (``SpliceAIConfig.ref_spans``):

- ``cluster`` (CPU default): variants of a gene closer than ``merge_bp`` share a span (a REF forward costs
  about as much as 6,500 extra output bases, so merging closer variants saves work), at most ``max_span_bp``
  output bases each (and at least :data:`MIN_SPAN_BP`). Valid because oneDNN's convolution gives every
  output the same bits whatever the extent of the input around it (above a few dozen outputs), the batch
  size or the thread count (tested in tests/models/test_spliceai.py): a variant's tracks do not depend on
  its neighbours.
- ``grid``: fixed tiles of ``tile_bp`` output bases on a genome-wide grid, so every forward has the same
  shape; for accelerators, whose libraries may pick a different algorithm for another shape. ALT batches
  are padded to ``batch_size`` there for the same reason.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from raygen.models.spliceai import CONTEXT, SpliceAINet, complement_codes, cone_plan, encode

HALF_CONTEXT = CONTEXT // 2
#: Fewest REF outputs a cluster span computes. oneDNN takes another code path (other bits) for a conv with
#: fewer than ~27 outputs (measured for kernel 41, dilation 25); spans at least this wide keep every REF
#: forward on one path whatever the neighbours, so a lone variant with a small --distance gets the same bits.
MIN_SPAN_BP = 128


@dataclass(frozen=True)
class GeneKey:
    """What a REF track depends on: the transcript ``[tx_start, tx_end)`` (0-based) on ``chrom``, ``strand``."""

    chrom: str
    tx_start: int
    tx_end: int
    strand: str


@dataclass(frozen=True)
class Span:
    """REF outputs ``[lo, hi)`` (0-based genomic) of one gene; the forward reads ``[lo - 5000, hi + 5000)``."""

    gene: GeneKey
    lo: int
    hi: int


@dataclass(frozen=True)
class TrackItem:
    """One ALT x gene forward. ``pos0``: 0-based POS; ``ref_len``; ``alt``: ALT bases as written."""

    gene: GeneKey
    pos0: int
    ref_len: int
    alt: str


def make_spans(items: list[TrackItem], distance: int, mode: str, tile_bp: int, merge_bp: int,
               max_span_bp: int) -> list[Span]:
    """The span of each item (see module docstring)."""
    if mode == "grid":
        return [Span(it.gene, (it.pos0 // tile_bp) * tile_bp - distance,
                     (it.pos0 // tile_bp + 1) * tile_bp + distance) for it in items]
    by_gene: dict[GeneKey, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        by_gene[it.gene].append(i)
    out: list[Span | None] = [None] * len(items)
    for gene, idx in by_gene.items():
        idx.sort(key=lambda i: items[i].pos0)
        group = [idx[0]]
        for i in idx[1:] + [None]:
            first, last = items[group[0]].pos0, items[group[-1]].pos0
            if i is not None and items[i].pos0 - last <= merge_bp and items[i].pos0 - first <= max_span_bp:
                group.append(i)
                continue
            span = Span(gene, first - distance, max(last + distance + 1, first - distance + MIN_SPAN_BP))
            for j in group:
                out[j] = span
            if i is not None:
                group = [i]
    return out  # type: ignore[return-value]


class TrackEngine:
    """Computes (REF, ALT) ensemble tracks for :class:`TrackItem` lists.

    ``nets``: the five networks (same device/dtype); ``reference``: :class:`raygen.io.fasta.Reference`;
    ``cfg``: :class:`raygen.config.SpliceAIConfig` (distance, spans, batch size); ``device``.
    """

    def __init__(self, nets: list[SpliceAINet], reference, cfg, device: str = "cpu"):
        self.nets, self.reference, self.cfg = nets, reference, cfg
        self.device = torch.device(device)
        self.mode = cfg.ref_spans if cfg.ref_spans != "auto" else ("cluster" if self.device.type == "cpu" else "grid")
        self.half = HALF_CONTEXT + cfg.distance  # wid // 2
        self.cov = 2 * cfg.distance + 1

    def span_codes(self, span: Span) -> np.ndarray:
        """Base codes of a span's input in model orientation: N outside the transcript (and the contig)."""
        lo, hi = span.lo - HALF_CONTEXT, span.hi + HALF_CONTEXT
        codes = encode(self.reference.fetch(span.gene.chrom, lo, hi))
        a, b = max(span.gene.tx_start - lo, 0), min(max(span.gene.tx_end - lo, 0), hi - lo)
        codes[:a] = 0
        codes[b:] = 0
        return complement_codes(codes) if span.gene.strand == "-" else codes

    def _geometry(self, span: Span, item: TrackItem) -> tuple[int, int, np.ndarray]:
        """(off, u, oriented ALT codes): REF window index q = span input index off + q (model orientation);
        the changed segment starts at window index u."""
        alt = encode(item.alt)
        d = self.cfg.distance
        if span.gene.strand == "+":
            return item.pos0 - d - span.lo, self.half, alt
        return span.hi - 1 - item.pos0 - d, self.half + 1 - item.ref_len, complement_codes(alt)

    def tracks(self, items: list[TrackItem]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per item: (y_ref (cov, 3), y_alt (cov - len(REF) + len(ALT), 3)), float32, genomic orientation."""
        unique = list(dict.fromkeys(items))  # genes with one transcript span, duplicate records: once
        if len(unique) < len(items):
            done = dict(zip(unique, self.tracks(unique)))
            return [done[it] for it in items]
        c = self.cfg
        spans = make_spans(items, c.distance, self.mode, c.tile_bp, c.merge_bp, c.max_span_bp)
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(items)
        by_span: dict[Span, list[int]] = defaultdict(list)
        for i, sp in enumerate(spans):
            by_span[sp].append(i)
        for span, idx in by_span.items():
            for i, pair in zip(idx, self._span_tracks(span, [items[i] for i in idx])):
                out[i] = pair
        return out  # type: ignore[return-value]

    def _span_tracks(self, span: Span, items: list[TrackItem]) -> list[tuple[np.ndarray, np.ndarray]]:
        geo = [self._geometry(span, it) for it in items]
        shapes: dict[tuple[int, int, int], list[int]] = defaultdict(list)
        for j, (it, (_, u, alt)) in enumerate(zip(items, geo)):
            shapes[(u, it.ref_len, len(alt))].append(j)
        codes = torch.as_tensor(self.span_codes(span), device=self.device)[None]
        batch = self.cfg.batch_size
        ref_sum: list[torch.Tensor | None] = [None] * len(items)
        alt_sum: list[torch.Tensor | None] = [None] * len(items)
        for net in self.nets:  # the release's ensemble: ((m1 + m2) + m3) + ... then / 5
            y_tile, kept = net.forward_ref(codes)
            for j, (off, _, _) in enumerate(geo):
                y = y_tile[0, off:off + self.cov]
                ref_sum[j] = y if ref_sum[j] is None else ref_sum[j] + y
            for (u, ref_len, alt_len), js in shapes.items():
                plan = cone_plan(u, ref_len, alt_len, 2 * self.half + 1, net.radii)
                for c in range(0, len(js), batch):
                    chunk = js[c:c + batch]
                    rows = chunk + [chunk[-1]] * (batch - len(chunk) if self.mode == "grid" else 0)
                    alt = torch.as_tensor(np.stack([geo[j][2] for j in rows]), device=self.device)
                    off = torch.as_tensor([geo[j][0] for j in rows], device=self.device)
                    y = net.forward_alt(plan, alt, kept, torch.zeros_like(off), off)
                    for b, j in enumerate(chunk):
                        alt_sum[j] = y[b] if alt_sum[j] is None else alt_sum[j] + y[b]
            del kept
        n = float(len(self.nets))
        res = []
        for j in range(len(items)):
            r = (ref_sum[j] / n).float().cpu().numpy()
            a = (alt_sum[j] / n).float().cpu().numpy()
            if span.gene.strand == "-":
                r, a = r[::-1].copy(), a[::-1].copy()
            res.append((r, a))
        return res
