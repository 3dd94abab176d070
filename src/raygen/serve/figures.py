"""The UI's pictures: the model's sequence window as HTML, the in-silico mutagenesis heatmap, SpliceAI's
REF/ALT splice-site probabilities and the read pileup around a call, drawn with matplotlib (Agg, no display) into PIL images.

Positions shown are 1-based (VCF POS); ``Reference.fetch`` underneath is 0-based half-open.
"""

from __future__ import annotations

import html
import io

import matplotlib

matplotlib.use("Agg")  # before pyplot: replicas have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402
from PIL import Image  # noqa: E402

from raygen.serve.calls import MATCH, MISMATCH_A, N_BASE, NO_READ  # noqa: E402
from raygen.serve.ism import BASES  # noqa: E402
from raygen.variant import Variant  # noqa: E402


def window_html(reference, v: Variant, window: int) -> str:
    """The model's ``window`` reference bases around ``v`` with REF highlighted and ALT shown beside it.

    Same layout as the scorer: the window starts at 0-based ``pos - 1 - window // 2``.
    """
    start0 = v.pos - 1 - window // 2
    seq = reference.fetch(v.chrom, start0, start0 + window)
    i = v.pos - 1 - start0
    left, mid, right = seq[:i], seq[i:i + len(v.ref)], seq[i + len(v.ref):]
    esc = html.escape
    return (
        "<div style='font-family:monospace;font-size:14px;line-height:1.6;word-break:break-all;"
        "padding:8px;border:1px solid #ccc;border-radius:6px'>"
        f"<div style='color:#666'>{esc(v.chrom)} {start0 + 1} to {start0 + window} (1-based; the model's "
        f"{window} bp window; N beyond the contig)</div>"
        f"<span>{esc(left)}</span>"
        f"<span style='background:#ffd54f;color:#000;font-weight:bold;padding:0 2px' title='REF'>{esc(mid)}</span>"
        f"<span style='background:#81c784;color:#000;font-weight:bold;padding:0 2px;margin-left:2px' "
        f"title='ALT'>&rarr;{esc(v.alt)}</span>"
        f"<span>{esc(right)}</span></div>"
    )


def attribution_html(ref_bases: str, attr: dict, focus_pos: int | None = None) -> str:
    """The attributions of ``attr`` (``Scorer.attributions``'s dict) as a strip under the sequence: one column
    per window base (``ref_bases``, from 1-based ``attributions_first_pos``), the base over a bar whose height
    is sqrt(|value| / max |value|), the max taken off the variant's base (a masked LM's variant token is the mask
    embedding, which often dwarfs its context: its bar is clipped at full height; the square root keeps small
    values visible beside large ones; red: raises the score, blue: lowers it); each column's tooltip holds its 1-based position and value; the base at 1-based
    ``focus_pos`` (the variant) is highlighted as in the window above. Without attributions, their note."""
    esc = html.escape
    vals = attr.get("attributions")
    box = "font-family:monospace;font-size:13px;padding:8px;border:1px solid #ccc;border-radius:6px;margin-top:6px"
    if vals is None:
        return f"<div style='{box};color:#666'>No attributions: {esc(str(attr.get('attributions_note')))}</div>"
    first = int(attr["attributions_first_pos"])
    context = [abs(x) for i, x in enumerate(vals) if first + i != focus_pos]
    top = max(max(context or [abs(x) for x in vals]), 1e-30)
    cols, mark = [], " style='background:#ffd54f;font-weight:bold'"
    for i, (b, x) in enumerate(zip(ref_bases, vals)):
        colour = "#d32f2f" if x > 0 else "#1976d2" if x < 0 else "#9e9e9e"
        h = max(1, round(28 * min(1.0, abs(x) / top) ** 0.5))
        cols.append(f"<span title='{first + i}: {x:+.3g}' style='display:inline-flex;flex-direction:column;"
                    f"align-items:center;width:1.1ch;vertical-align:top'><span{mark if first + i == focus_pos else ''}>"
                    f"{esc(b)}</span>"
                    f"<span style='height:28px;display:flex;align-items:flex-start'><span style='width:0.8ch;"
                    f"height:{h}px;background:{colour}'></span></span></span>")
    return (f"<div style='{box}'><div style='color:#666;font-family:sans-serif'>Attributions: "
            f"{esc(str(attr.get('attributions_method')))}, of {esc(str(attr.get('attributions_target')))} "
            f"(red raises, blue lowers the score; bar height sqrt(|value| / max), max |value| off the variant's "
            f"base {top:.3g}, the variant's bar clipped there; hover a base for its 1-based position and value)"
            f"</div><div style='line-height:1;word-break:break-all'>{''.join(cols)}</div></div>")


def _figure_image(fig):
    """A matplotlib figure as an RGB PIL image (PNG-rendered), the figure closed."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def heatmap_image(grid: np.ndarray, ref_bases: str, first_pos: int, chrom: str, focus: Variant):
    """A 4 x L in-silico mutagenesis heatmap (rows A/C/G/T, columns positions) as a PIL image.

    Colour is the LLR of substituting that base (blue: model prefers the reference, red: the alternative);
    dots mark reference bases, the box marks the queried variant.
    """
    finite = grid[np.isfinite(grid)]
    vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
    vmax = vmax or 1.0
    n = grid.shape[1]
    fig, ax = plt.subplots(figsize=(max(8.0, n * 0.28), 3.0), dpi=110)
    cmap = matplotlib.colormaps["RdBu_r"].copy()
    cmap.set_bad("#eeeeee")
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto",
                   interpolation="nearest")
    for col, base in enumerate(ref_bases):
        if base in BASES:
            ax.plot(col, BASES.index(base), "o", color="black", markersize=3)
    fcol = focus.pos - first_pos
    if 0 <= fcol < n:
        ax.add_patch(Rectangle((fcol - 0.5, -0.5), max(1, len(focus.ref)), 4, fill=False, edgecolor="black", lw=2))
        if len(focus.ref) == 1 and focus.alt in BASES:
            ax.add_patch(Rectangle((fcol - 0.5, BASES.index(focus.alt) - 0.5), 1, 1, fill=False,
                                   edgecolor="#1b5e20", lw=2.5))
    ax.set_yticks(range(4), list(BASES))
    ticks = list(range(0, n, 5))
    ax.set_xticks(ticks, [str(first_pos + t) for t in ticks], rotation=45, ha="right", fontsize=7)
    ax.set_xlabel(f"{chrom} position (1-based); dot: reference base; black box: the variant's position; "
                  "green box: its ALT")
    # right-aligned above the axes: UIs overlay their label on an image's top-left corner
    fig.suptitle(f"In-silico mutagenesis around {focus}: LLR of each substitution", fontsize=10,
                 x=0.98, ha="right")
    cb = fig.colorbar(im, ax=ax, fraction=0.025, pad=0.01)
    cb.set_label("LLR (alt vs ref)", fontsize=8)
    return _figure_image(fig)


#: Pileup picture colours by :mod:`raygen.serve.calls` code: no read, match, A, C, G, T, N, deletion.
PILEUP_RGB = np.array([[255, 255, 255], [200, 200, 200], [0, 160, 0], [0, 0, 220], [230, 150, 0], [220, 0, 0],
                       [120, 120, 120], [0, 0, 0]], dtype=np.float32)


def pileup_image(view, focus_pos: int, label: str):
    """The reads of a :class:`raygen.serve.calls.PileupView` as a picture, IGV-like: grey where a read
    matches the reference, coloured mismatches (A green, C blue, G orange, T red), black deletions,
    purple ticks for insertions, faded low-quality bases, reverse-strand matches a little darker, the
    reference on top and the chosen call's column boxed."""
    rows, width = view.codes.shape
    ref_codes = np.array([MISMATCH_A + "ACGT".index(b) if b in "ACGT" else N_BASE for b in view.ref], dtype=np.uint8)
    codes = np.vstack([ref_codes[None, :], np.zeros((1, width), np.uint8), view.codes])
    rgb = PILEUP_RGB[codes]
    body = rgb[2:]
    rev = np.broadcast_to(view.reverse[:, None], view.codes.shape) & (view.codes == MATCH)
    body[rev] = [170, 170, 205]
    fade = view.low_quality & (view.codes != NO_READ)
    body[fade] = 255 - (255 - body[fade]) * 0.35
    fig, ax = plt.subplots(figsize=(max(8.0, width * 0.13), max(2.5, 1.2 + 0.09 * (rows + 2))), dpi=110)
    ax.imshow(rgb / 255.0, aspect="auto", interpolation="nearest")
    col = focus_pos - view.start
    if 0 <= col < width:
        ax.add_patch(Rectangle((col - 0.5, -0.5), 1, rows + 2, fill=False, edgecolor="black", lw=1.5, zorder=3))
    # Insertions sit between a base and the next; drawn last so the call's box never hides them.
    r, c = np.nonzero(view.insertion)
    ax.scatter(c + 0.5, r + 2, marker="|", s=60, color="#8e24aa", linewidths=3, zorder=4)
    ticks = list(range(0, width, 10))
    ax.set_xticks(ticks, [f"{view.start + t:,}" for t in ticks], fontsize=7)
    ax.set_yticks([0], ["ref"], fontsize=7)
    ax.set_xlabel(f"{view.chrom} position (1-based); grey: matches reference (lavender: reverse strand); A green, "
                  "C blue, G orange, T red; black: deletion; purple: insertion; faded: base quality below the "
                  "caller's minimum", fontsize=7)
    shown = f"{rows} of {view.total_reads} reads" if rows < view.total_reads else f"{rows} reads"
    ax.set_title(f"Pileup around {label} ({shown})", fontsize=10)
    return _figure_image(fig)


#: The two panels per gene: (site, its gain delta, its loss delta), as the detail and the scores name them.
SPLICE_PANELS = (("acceptor", "AG", "AL"), ("donor", "DG", "DL"))


def splice_tracks_image(detail: dict, chrom: str, focus: Variant):
    """A ``splice_tracks`` detail (:meth:`raygen.scoring.spliceai_scorer.SpliceAIScorer.detail`) as a PIL
    image: per gene, the acceptor and the donor probability along the scored bases, REF grey and ALT red,
    the variant's REF bases shaded and each delta's position marked (triangle up: gain, down: loss)."""
    if detail.get("kind") != "splice_tracks" or not detail["genes"]:
        raise ValueError(f"no splice tracks to draw for {focus} ({detail.get('kind')}, {detail.get('skip_reason')})")
    pos = np.asarray(detail["positions"])
    genes = detail["genes"]
    fig, axes = plt.subplots(2 * len(genes), 1, figsize=(10.0, 1.0 + 2.2 * 2 * len(genes)), dpi=100,
                             sharex=True, squeeze=False)
    for g_i, g in enumerate(genes):
        for p_i, (site, gain, loss) in enumerate(SPLICE_PANELS):
            ax = axes[2 * g_i + p_i, 0]
            ref, alt = np.asarray(g[f"ref_{site}"]), np.asarray(g[f"alt_{site}"])
            ax.axvspan(focus.pos - 0.5, focus.pos + len(focus.ref) - 0.5, color="#ffd54f", alpha=0.5, lw=0)
            ax.plot(pos, ref, color="#607d8b", lw=1.6, label="REF")
            ax.plot(pos, alt, color="#d32f2f", lw=1.2, label="ALT")
            ax.fill_between(pos, ref, alt, where=alt > ref, color="#d32f2f", alpha=0.15, lw=0)
            ax.fill_between(pos, ref, alt, where=alt < ref, color="#607d8b", alpha=0.25, lw=0)
            notes = []
            for key, marker, is_gain in ((gain, "^", True), (loss, "v", False)):
                ds, dp = g[f"DS_{key}"], g[f"DP_{key}"]
                notes.append(f"DS_{key} {ds:.2f} at {dp:+d}")
                if ds >= 0.005:  # shown as 0.01 or more
                    x = focus.pos + dp
                    y = alt[dp + len(pos) // 2] if is_gain else ref[dp + len(pos) // 2]
                    ax.plot([x], [y], marker, color="black", ms=7, zorder=4)
                    ax.annotate(f"{key} {ds:.2f}", (x, y), textcoords="offset points", xytext=(6, 2), fontsize=8)
            top = max(float(ref.max()), float(alt.max()))
            ax.set_ylim(0, max(0.05, top * 1.18))
            ax.set_ylabel(f"P({site})", fontsize=9)
            ax.set_title(f"{g['SYMBOL']} ({g['strand']} strand), {site}: " + ", ".join(notes), fontsize=10, loc="left")
            ax.grid(alpha=0.3)
            if g_i == 0 and p_i == 0:
                ax.legend(loc="upper right", fontsize=8, ncol=2)
    # the title sits above the panels (UIs overlay their label on an image's top-left corner)
    fig.suptitle(f"SpliceAI, REF (grey) vs ALT (red): {focus}", fontsize=11, x=0.98, ha="right")
    last = axes[-1, 0]
    last.set_xlabel(f"{chrom} position (1-based); shaded: the variant's REF bases; SpliceAI scores "
                    f"+-{detail['distance']} bases around {focus}", fontsize=9)
    last.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{int(x):,}"))
    return _figure_image(fig)
