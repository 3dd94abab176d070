"""The copy-number scatter plot (``raygen cohort scatter``): bin log2 ratios along the genome with the
segments drawn over them, as a PNG (or any format matplotlib writes, from the file extension).

Genome view: chromosomes side by side in genome order, each as wide as its bins' span, alternately
shaded; one chromosome or region (``-c chr7`` / ``-c chr7:1-5,000,000``): positions in Mb. Bins are grey
dots (off-target bins lighter), their size following the bin weight; segments are lines coloured by
direction (red gain, blue loss, black neutral, judged by ``cn`` when the file has it, else by log2 beyond
+-0.2). Values outside the y range are drawn at its edge as triangles, so nothing disappears silently.
Coordinates: 0-based half-open bins; region strings 1-based inclusive (``raygen.regions``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raygen.cohort.cnvfiles import CopyNumTable
from raygen.errors import InputError
from raygen.io.atomic import atomic_path
from raygen.regions import parse_region

GAIN_COLOR, LOSS_COLOR, NEUTRAL_COLOR = "#c62828", "#1565c0", "#212121"
NEUTRAL_BAND = 0.2


@dataclass(frozen=True)
class ScatterOptions:
    """Plot settings (CNVkit's flag names)."""

    chromosome: str | None = None  # -c: a chromosome or region to show
    title: str | None = None
    y_min: float | None = None
    y_max: float | None = None
    segment_color: str | None = None  # one colour for every segment instead of gain/loss colours
    width_in: float = 12.0
    height_in: float = 4.2
    dpi: int = 110


def _segment_colors(seg: CopyNumTable, fixed: str | None, ploidy_cn: np.ndarray | None = None) -> list[str]:
    if fixed:
        return [fixed] * len(seg)
    if "cn" in seg:
        expected = ploidy_cn if ploidy_cn is not None else np.full(len(seg), 2)
        return [GAIN_COLOR if c > e else LOSS_COLOR if c < e else NEUTRAL_COLOR for c, e in zip(seg["cn"], expected)]
    return [GAIN_COLOR if v > NEUTRAL_BAND else LOSS_COLOR if v < -NEUTRAL_BAND else NEUTRAL_COLOR for v in seg.log2]


def _layout(bins: CopyNumTable | None, segs: CopyNumTable | None) -> dict[str, tuple[int, int]]:
    """Chromosome -> (offset, span) of the genome view, in the order the rows come (genome order)."""
    spans: dict[str, int] = {}
    for t in (bins, segs):
        if t is None:
            continue
        for c in dict.fromkeys(t.chrom.tolist()):
            spans[c] = max(spans.get(c, 0), int(t.end[t.chrom == c].max()))
    out, offset = {}, 0
    for c, n in spans.items():
        out[c] = (offset, n)
        offset += n
    return out


def _restrict(table: CopyNumTable | None, chrom: str, a: int, b: int | None) -> CopyNumTable | None:
    if table is None:
        return None
    keep = table.chrom == chrom
    keep &= table.end > a
    if b is not None:
        keep &= table.start < b
    return table.take(keep)


def _draw_points(ax, x: np.ndarray, bins: CopyNumTable, lo: float, hi: float) -> None:
    y = bins.log2
    w = bins["weight"] if "weight" in bins else np.ones(len(bins))
    size = 2 + 10 * np.clip(np.nan_to_num(w, nan=0.1), 0.05, 1.0)
    anti = bins.is_antitarget()
    inside = (y >= lo) & (y <= hi)
    for mask, color in ((~anti & inside, "#616161"), (anti & inside, "#9e9e9e")):
        if mask.any():
            ax.scatter(x[mask], y[mask], s=size[mask], c=color, alpha=0.45, linewidths=0, rasterized=True)
    for mask, edge, marker in ((y > hi, hi, "^"), (y < lo, lo, "v")):
        if mask.any():
            ax.scatter(x[mask], np.full(int(mask.sum()), edge), s=14, c="#8e24aa", marker=marker, linewidths=0)


def _legend(ax, bins: CopyNumTable | None, segs: CopyNumTable | None, opts: ScatterOptions) -> None:
    from matplotlib.lines import Line2D  # matplotlib is imported lazily (see render)

    handles = []
    if bins is not None and len(bins):
        handles.append(Line2D([], [], marker="o", linestyle="", color="#616161", label="bins (on target)"))
        if bins.is_antitarget().any():
            handles.append(Line2D([], [], marker="o", linestyle="", color="#9e9e9e", label="bins (off target)"))
    if segs is not None and len(segs):
        if opts.segment_color:
            handles.append(Line2D([], [], color=opts.segment_color, linewidth=2.6, label="segments"))
        else:
            handles += [Line2D([], [], color=GAIN_COLOR, linewidth=2.6, label="gain"),
                        Line2D([], [], color=LOSS_COLOR, linewidth=2.6, label="loss"),
                        Line2D([], [], color=NEUTRAL_COLOR, linewidth=2.6, label="neutral")]
    ax.legend(handles=handles, loc="upper right", fontsize=7, ncol=len(handles), frameon=False,
              bbox_to_anchor=(1.0, 1.09))


def _y_range(bins: CopyNumTable | None, segs: CopyNumTable | None, opts: ScatterOptions) -> tuple[float, float]:
    vals = np.concatenate([t.log2[np.isfinite(t.log2)] for t in (bins, segs) if t is not None and len(t)] or [np.zeros(1)])
    # default range: the central 99% of values with a margin, at least +-1.5, at most +-5
    lo = opts.y_min if opts.y_min is not None else max(-5.0, min(-1.5, float(np.percentile(vals, 0.5)) - 0.2))
    hi = opts.y_max if opts.y_max is not None else min(5.0, max(1.5, float(np.percentile(vals, 99.5)) + 0.2))
    return lo, hi


def render(bins: CopyNumTable | None, segs: CopyNumTable | None, path: str, opts: ScatterOptions | None = None) -> str:
    """Draw the plot to ``path`` atomically; returns the path. Needs bins, segments or both."""
    import matplotlib  # imported here: matplotlib costs ~0.5 s of start-up that other commands do not need

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    opts = opts or ScatterOptions()
    if (bins is None or not len(bins)) and (segs is None or not len(segs)):
        raise InputError("nothing to plot: no bins and no segments")
    region = None
    if opts.chromosome:
        region = parse_region(opts.chromosome)
        bins, segs = _restrict(bins, region.chrom, region.start, region.end), _restrict(segs, region.chrom, region.start, region.end)
        if (bins is None or not len(bins)) and (segs is None or not len(segs)):
            raise InputError(f"no bins or segments in {opts.chromosome}")
    lo, hi = _y_range(bins, segs, opts)
    fig, ax = plt.subplots(figsize=(opts.width_in, opts.height_in))
    if region is None:
        layout = _layout(bins, segs)
        for k, (c, (off, span)) in enumerate(layout.items()):
            if k % 2:
                ax.axvspan(off, off + span, color="#f2f2f2", zorder=0, linewidth=0)
        ax.set_xticks([off + span / 2 for off, span in layout.values()])
        ax.set_xticklabels([c.removeprefix("chr") for c in layout], fontsize=8)
        ax.set_xlim(0, sum(s for _, s in layout.values()))
        ax.set_xlabel("chromosome")

        def xpos(t, pos):
            return pos + np.asarray([layout[c][0] for c in t.chrom.tolist()], dtype=np.float64)
    else:
        ax.set_xlabel(f"{region.chrom} position (Mb)")

        def xpos(t, pos):
            return pos / 1e6
    if bins is not None and len(bins):
        _draw_points(ax, xpos(bins, (bins.start + bins.end) / 2), bins, lo, hi)
    if segs is not None and len(segs):
        colors = _segment_colors(segs, opts.segment_color)
        x0, x1 = xpos(segs, segs.start.astype(float)), xpos(segs, segs.end.astype(float))
        y = np.clip(segs.log2, lo, hi)
        ax.hlines(y, x0, x1, colors=colors, linewidth=2.6, zorder=3)
    for yline, style in ((0, "-"), (1, ":"), (-1, ":")):
        if lo < yline < hi:
            ax.axhline(yline, color="#757575", linestyle=style, linewidth=0.8, zorder=1)
    _legend(ax, bins, segs, opts)
    ax.set_ylim(lo, hi)
    ax.set_ylabel("copy ratio (log2)")
    name = (bins if bins is not None and len(bins) else segs).sample_id
    ax.set_title(opts.title or name or "copy number", fontsize=11, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fmt = path.rsplit(".", 1)[-1].lower() if "." in path else "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=opts.dpi)
    plt.close(fig)
    return path
