"""Gradio UI mounted at ``/ui``: one variant (typed, or the records of a small VCF) -> normalized form,
scores, the model's sequence window with the variant highlighted, and an in-silico mutagenesis heatmap.
With data directories, a second tab calls a region of a BAM and draws the reads around a chosen call.

The UI calls the same backend as ``POST /v1/score`` (the batched Scorer deployment) and the same
normalizer as ``POST /v1/normalize``, so its numbers are the API's numbers. ``/ui/?variant=chr1:1000+A>G``
opens the page with that variant scored (links from reports, and the browser test, use it).
"""


import html
import io
import logging
from typing import Any

import numpy as np

from raygen.config import DEFAULTS
from raygen.serve.core import BASES, RequestInvalid, ism_layout, parse_variant_text, parse_vcf_text
from raygen.variant import Variant

log = logging.getLogger("raygen.serve.ui")

COLUMNS = ["chrom", "pos", "ref", "alt", "normalized", "llr", "prob", "skip_reason"]


def example_variant(reference, chunk: int = 100_000) -> str:
    """A real SNV on the served reference: the first A/C/G/T base from a third of the way into the first
    contig (wrapping round, then trying the other contigs), so references that are mostly N still get one."""
    for chrom in reference.contigs:
        n = reference.length(chrom)
        first = max(0, n // 3 - 1)
        for start in [*range(first, n, chunk), *range(0, first, chunk)]:
            seq = reference.fetch(chrom, start, min(n, start + chunk, first if start < first else n))
            for i, base in enumerate(seq):
                if base in BASES:
                    return f"{chrom}:{start + i + 1} {base}>{BASES[(BASES.index(base) + 2) % 4]}"
    chrom = reference.contigs[0]
    return f"{chrom}:1 N>A"


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


def _figure_image(fig):
    """A matplotlib figure as an RGB PIL image (PNG-rendered), the figure closed."""
    import matplotlib.pyplot as plt
    from PIL import Image

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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

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
    ax.set_title(f"In-silico mutagenesis around {focus}: LLR of each substitution", fontsize=10)
    cb = fig.colorbar(im, ax=ax, fraction=0.025, pad=0.01)
    cb.set_label("LLR (alt vs ref)", fontsize=8)
    return _figure_image(fig)


CALL_COLUMNS = ["chrom", "pos", "ref", "alt", "gt", "gq", "dp", "ad", "vaf", "qual", "filter"]

#: Pileup picture colours by :mod:`raygen.serve.calls` code: no read, match, A, C, G, T, N, deletion.
PILEUP_RGB = np.array([[255, 255, 255], [200, 200, 200], [0, 160, 0], [0, 0, 220], [230, 150, 0], [220, 0, 0],
                       [120, 120, 120], [0, 0, 0]], dtype=np.float32)


def pileup_image(view, focus_pos: int, label: str):
    """The reads of a :class:`raygen.serve.calls.PileupView` as a picture, IGV-like: grey where a read
    matches the reference, coloured mismatches (A green, C blue, G orange, T red), black deletions,
    purple ticks for insertions, faded low-quality bases, reverse-strand matches a little darker, the
    reference on top and the chosen call's column boxed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from raygen.serve.calls import MATCH, MISMATCH_A, N_BASE, NO_READ

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


def call_label(c: dict) -> str:
    return f"{c['chrom']}:{c['pos']} {c['ref']}>{c['alt']} {c['gt']} {c['filter']}"


def calling_tab(backend, reference, args) -> None:
    """The "Call variants from a BAM" tab: pick a BAM under the data directories and a region, see the
    calls (the same ``POST /v1/call`` path) and a pileup picture around a chosen call."""
    import gradio as gr
    from starlette.concurrency import run_in_threadpool

    from raygen.errors import raygen_cause
    from raygen.serve.calls import (
        BamNotFound,
        CallRequestInvalid,
        PathRefused,
        check_call_request,
        default_region,
        list_bams,
        load_pileup_view,
    )

    bams = list_bams(args.data_dirs)
    first_region = default_region(bams[0], 10_000) if bams else None

    def checked(bam: str, region: str) -> tuple[str, str]:
        try:
            return check_call_request(bam, region, args.data_dirs, reference.lengths, args.max_call_bp)
        except (PathRefused, BamNotFound, CallRequestInvalid) as exc:
            raise gr.Error(str(exc)) from None

    async def show_pileup(bam: str, choice: str | None, calls: list[dict]):
        call = next((c for c in calls if call_label(c) == choice), None)
        if call is None:
            return None
        path, _ = checked(bam, f"{call['chrom']}:{call['pos']}-{call['pos']}")
        view = await run_in_threadpool(load_pileup_view, path, reference.path, call["chrom"], call["pos"],
                                       DEFAULTS.serve.pileup_flank, DEFAULTS.serve.pileup_max_reads)
        return await run_in_threadpool(pileup_image, view, call["pos"], choice)

    async def run_call(bam: str, region: str, pass_only: bool):
        path, reg = checked(bam, region)
        try:
            out = await backend.call(path, reg, False, pass_only)
        except Exception as exc:  # noqa: BLE001 - the caller's input errors, shown as one line
            cause = raygen_cause(exc)
            if cause is None:
                raise
            raise gr.Error(str(cause).strip().splitlines()[-1]) from None
        calls = out["calls"]
        rows = [[c["chrom"], c["pos"], c["ref"], c["alt"], c["gt"], c["gq"], c["dp"], ",".join(map(str, c["ad"])),
                 c["vaf"], c["qual"], c["filter"]] for c in calls]
        counts = out["counts"]
        labels = [call_label(c) for c in calls]
        first = next((call_label(c) for c in calls if c["filter"] == "PASS"), labels[0] if labels else None)
        summary = (f"### {len(calls)} records in {reg} ({out['seconds']:.2f} s, model `{args.call_model}`)\n"
                   + (", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no candidates")
                   + "\n\nChoose a call below to see its reads.")
        image = await show_pileup(path, first, calls) if first else None
        return summary, rows, gr.update(choices=labels, value=first), calls, image

    with gr.Tab("Call variants from a BAM"):
        gr.Markdown(f"Call variants in a region of a BAM under the server's data directories (`raygen call`'s "
                    f"caller, model `{args.call_model}`; at most {args.max_call_bp:,} bp at once), then look at "
                    "the reads around any call.")
        with gr.Row():
            bam = gr.Dropdown(choices=bams, value=bams[0] if bams else None, allow_custom_value=True,
                              label="BAM (under the data directories)")
            region = gr.Textbox(label="Region (CHROM:START-END, 1-based)", value=first_region or "",
                                placeholder="chr20:10000000-10010000", max_lines=1)
            pass_only = gr.Checkbox(label="PASS calls only", value=False)
        call_button = gr.Button("Call", variant="primary")
        call_summary = gr.Markdown()
        call_table = gr.Dataframe(headers=CALL_COLUMNS, label="Calls", interactive=False, wrap=True)
        state = gr.State([])
        choice = gr.Dropdown(choices=[], label="Show the pileup at", interactive=True)
        pileup = gr.Image(label="Pileup", type="pil", format="png")
        call_button.click(run_call, [bam, region, pass_only], [call_summary, call_table, choice, state, pileup],
                          api_name="call")
        choice.input(show_pileup, [bam, choice, state], [pileup], api_name="pileup")


def build_ui(backend, reference, args) -> Any:
    """The Gradio Blocks of the variant explorer, bound to ``backend`` (see :mod:`raygen.serve.app`)."""
    import gradio as gr
    from starlette.concurrency import run_in_threadpool

    from raygen.errors import InputError
    from raygen.normalize.leftalign import normalize_variant

    example = example_variant(reference)
    max_flank = max(args.ism_flank, DEFAULTS.serve.ism_max_flank)

    def collect(text: str, vcf_path: str | None) -> list[tuple[str, int, str, str]]:
        records = []
        if text and text.strip():
            try:
                records.append(parse_variant_text(text))
            except ValueError as exc:
                raise gr.Error(str(exc)) from None
        if vcf_path:
            with open(vcf_path, encoding="utf-8", errors="replace") as fh:
                content = fh.read(args.max_body_bytes + 1)
            if len(content) > args.max_body_bytes:
                raise gr.Error(f"the VCF is larger than {args.max_body_bytes} bytes; use the batch CLI (raygen score)")
            try:
                records += [(r["chrom"], int(r["pos"]), r["ref"].upper(), r["alt"].upper())
                            for _, r in parse_vcf_text(content, split_alts=True)]
            except RequestInvalid as exc:
                raise gr.Error(f"cannot read the VCF: {exc}") from None
        if not records:
            raise gr.Error(f"enter a variant (e.g. {example}) or upload a small VCF")
        if len(records) > args.max_variants_per_request:
            raise gr.Error(f"{len(records)} variants; the UI takes at most {args.max_variants_per_request}")
        return records

    def normalize_one(chrom: str, pos: int, ref: str, alt: str) -> tuple[Variant | None, str | None]:
        if chrom not in reference:
            return None, f"unknown contig {chrom!r} (reference has {', '.join(reference.contigs[:5])})"
        try:
            npos, nref, nalts = normalize_variant(chrom, pos, ref, [alt], reference)
        except (ValueError, InputError) as exc:
            return None, str(exc)
        return Variant(chrom, npos, nref, nalts[0]), None

    async def analyse(text: str, vcf_path: str | None, flank: float):
        records = collect(text, vcf_path)
        normed = await run_in_threadpool(lambda: [normalize_one(*r) for r in records])
        scorable = [v for v, err in normed if v is not None]
        scores = dict(zip(scorable, await backend.score(scorable))) if scorable else {}
        rows = []
        for (chrom, pos, ref, alt), (v, err) in zip(records, normed):
            llr, prob, skip = scores.get(v, (None, None, err)) if v is not None else (None, None, err)
            rows.append([chrom, pos, ref, alt, str(v) if v else "", llr, prob, skip or ""])
        focus = next((v for v in scorable if scores[v][0] is not None), None)
        info = await backend.info()
        if focus is None:
            reasons = "; ".join(r[-1] for r in rows if r[-1])
            if len(records) == 1:
                raise gr.Error(f"cannot score {records[0][0]}:{records[0][1]} {records[0][2]}>{records[0][3]}: {reasons}")
            return (f"None of the {len(records)} variants could be scored: {reasons}", rows, "", None)
        llr, prob, _ = scores[focus]
        src = next(r for r, (v, _e) in zip(records, normed) if v == focus)
        moved = (src[1], src[2], src[3]) != (focus.pos, focus.ref, focus.alt)
        flank = int(min(max(flank, 1), max_flank))
        layout = await run_in_threadpool(ism_layout, reference, focus.chrom, focus.pos, flank)
        ism = await backend.score(layout.variants)
        grid = layout.matrix(r[0] for r in ism)
        image = await run_in_threadpool(heatmap_image, grid, layout.ref_bases, layout.first_pos, focus.chrom, focus)
        summary = (
            f"### {focus}\n"
            f"- input: `{src[0]}:{src[1]} {src[2]}>{src[3]}`; normalized (bcftools norm): `{focus}`"
            f"{' (left-aligned/trimmed)' if moved else ' (already normalized)'}\n"
            f"- **LLR = {llr:.4f}** (log P(alt) - log P(ref), natural log)"
            f"{f'; **P(effect) = {prob:.3f}**' if prob is not None else ''}\n"
            f"- model: `{info.get('model')}` ({info.get('kind')}, {info.get('scheme')} tokens), "
            f"window {info.get('window')} bp; heatmap: {len(layout.variants)} substitutions "
            f"over {2 * flank + 1} bp\n"
            + (f"- {len(records)} variants in the table; the window and heatmap show the first scored one\n"
               if len(records) > 1 else "")
        )
        return summary, rows, window_html(reference, focus, int(info.get("window", args.window))), image

    async def from_query(request: gr.Request):
        q = request.query_params.get("variant") if request else None
        if not q:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        summary, rows, win, image = await analyse(q, None, args.ism_flank)
        return q, summary, rows, win, image

    with gr.Blocks(title="raygen variant explorer") as demo:
        gr.Markdown(
            "# raygen variant explorer\n"
            "Enter a variant as `CHROM:POS REF>ALT` (1-based, on the served reference) or upload a small VCF. "
            "raygen normalizes it like `bcftools norm`, scores it with the served DNA language model (the same "
            "numbers as `POST /v1/score` and `raygen score`), and mutates every base around it.")
        with gr.Tab("Score a variant"):
            with gr.Row():
                with gr.Column(scale=1):
                    variant = gr.Textbox(label="Variant", placeholder=example, max_lines=1)
                    vcf = gr.File(label="...or a small VCF", file_types=[".vcf", ".txt"], type="filepath")
                    flank = gr.Slider(2, max_flank, value=args.ism_flank, step=1,
                                      label="Heatmap: bases each side of the variant")
                    button = gr.Button("Score", variant="primary")
                    gr.Examples([[example]], inputs=[variant], label="Example on this reference")
                with gr.Column(scale=2):
                    summary = gr.Markdown()
                    window = gr.HTML(label="Sequence window")
            table = gr.Dataframe(headers=COLUMNS, label="Scores", interactive=False, wrap=True)
            heatmap = gr.Image(label="In-silico mutagenesis heatmap", type="pil", format="png")
        button.click(analyse, [variant, vcf, flank], [summary, table, window, heatmap], api_name="score")
        variant.submit(analyse, [variant, vcf, flank], [summary, table, window, heatmap], api_name=False)
        demo.load(from_query, None, [variant, summary, table, window, heatmap], api_name=False)
        if args.data_dirs:
            calling_tab(backend, reference, args)
    return demo

