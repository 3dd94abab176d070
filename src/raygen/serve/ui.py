"""Gradio UI mounted at ``/ui``: one variant (typed, or the records of a small VCF) -> normalized form,
scores, the model's sequence window with the variant highlighted, and an in-silico mutagenesis heatmap.
With data directories, a second tab calls a region of a BAM and draws the reads around a chosen call.

The UI calls the same backend as ``POST /v1/score`` (the batched Scorer deployment) and the same
normalizer as ``POST /v1/normalize``, so its numbers are the API's numbers. ``/ui/?variant=chr1:1000+A>G``
opens the page with that variant scored (links from reports, and the browser test, use it).
Positions are 1-based (VCF POS). The pictures are drawn by :mod:`raygen.serve.figures`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import gradio as gr
from starlette.concurrency import run_in_threadpool

from raygen.errors import raygen_cause
from raygen.serve.auth import check_bearer
from raygen.serve.calls import (
    BamNotFound,
    CallRequestInvalid,
    PathRefused,
    check_call_request,
    client_message,
    default_region,
    list_bams,
    load_pileup_view,
    resolve_bam,
)
from raygen.serve.figures import attribution_html, heatmap_image, pileup_image, window_html
from raygen.serve.ism import BASES, ism_layout
from raygen.serve.normalize import normalize_one
from raygen.serve.parse import RequestInvalid, parse_variant_text, parse_vcf_text
from raygen.serve.schemas import display_name
from raygen.variant import Variant

log = logging.getLogger("raygen.serve.ui")

COLUMNS = ["chrom", "pos", "ref", "alt", "normalized", "llr", "prob", "skip_reason"]
CALL_COLUMNS = ["chrom", "pos", "ref", "alt", "gt", "gq", "dp", "ad", "vaf", "qual", "filter"]

Record = tuple[str, int, str, str]  # (chrom, pos 1-based, REF, ALT) as typed or read from the VCF


def input_error(message: str) -> gr.Error:
    """The error a user's input gets: shown in the page, logged as one line (not Gradio's traceback)."""
    log.info({"event": "ui_input_error", "msg": message})
    return gr.Error(message, print_exception=False)


def mount_ui(app, backend, reference, cfg, digest: str | None) -> None:
    """Mount the UI at ``/ui`` of ``app``; with an API token, the UI asks for it as its password."""
    auth = (lambda _user, password: check_bearer(f"Bearer {password}", digest)) if digest else None
    gr.mount_gradio_app(app, build_ui(backend, reference, cfg), path="/ui", auth=auth,
                        auth_message="Any user name; the API token as password." if digest else None,
                        max_file_size=cfg.max_body_bytes, show_error=False, footer_links=["api"])


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


def read_records(text: str, vcf_path: str | None, cfg, example: str) -> list[Record]:
    """The typed variant and the records of an uploaded VCF (ALTs split), or a :class:`gr.Error` saying why not."""
    records: list[Record] = []
    if text and text.strip():
        try:
            records.append(parse_variant_text(text))
        except ValueError as exc:
            raise input_error(str(exc)) from None
    if vcf_path:
        with open(vcf_path, encoding="utf-8", errors="replace") as fh:
            content = fh.read(cfg.max_body_bytes + 1)
        if len(content) > cfg.max_body_bytes:
            raise input_error(f"the VCF is larger than {cfg.max_body_bytes} bytes; use the batch CLI (raygen score)")
        try:
            records += [(r["chrom"], int(r["pos"]), r["ref"].upper(), r["alt"].upper())
                        for _, r in parse_vcf_text(content, split_alts=True)]
        except RequestInvalid as exc:
            raise input_error(f"cannot read the VCF: {exc}") from None
    if not records:
        raise input_error(f"enter a variant (e.g. {example}) or upload a small VCF")
    if len(records) > cfg.max_variants_per_request:
        raise input_error(f"{len(records)} variants; the UI takes at most {cfg.max_variants_per_request}")
    return records


def summary_markdown(src: Record, focus: Variant, llr: float, prob: float | None, info: dict, n_ism: int,
                     flank: int, n_records: int) -> str:
    """The result card of the focus variant: input, normalized form, score, model and heatmap extent."""
    moved = (src[1], src[2], src[3]) != (focus.pos, focus.ref, focus.alt)
    return (
        f"### {focus}\n"
        f"- input: `{src[0]}:{src[1]} {src[2]}>{src[3]}`; normalized (bcftools norm): `{focus}`"
        f"{' (left-aligned/trimmed)' if moved else ' (already normalized)'}\n"
        f"- **LLR = {llr:.4f}** (log P(alt) - log P(ref), natural log)"
        f"{f'; **P(effect) = {prob:.3f}**' if prob is not None else ''}\n"
        f"- model: `{info.get('model')}` ({info.get('kind')}, {info.get('scheme')} tokens), "
        f"window {info.get('window')} bp; heatmap: {n_ism} substitutions over {2 * flank + 1} bp\n"
        + (f"- {n_records} variants in the table; the window and heatmap show the first scored one\n"
           if n_records > 1 else "")
    )


def lm_fields(result: dict) -> tuple:
    """(llr, prob, skip_reason) of a language model's result dict (``as_dict()``)."""
    return result.get("llr"), result.get("prob"), result.get("skip_reason")


class ScoreTab:
    """The "Score a variant" handlers: normalize, score, then the window and heatmap of the first scored one."""

    def __init__(self, backend, reference, cfg):
        self.backend, self.reference, self.cfg = backend, reference, cfg
        self.example = example_variant(reference)
        self.max_flank = max(cfg.ism_flank, cfg.ism_max_flank)

    # The UI explores the default (first) served model, a language model: LLRs, heatmap, window.
    async def score_records(self, records: list[Record]) -> tuple[list[list], list[Variant], dict, list]:
        """Table rows, the scorable (normalized) variants, their scores, and each record's normalization."""
        normed = await run_in_threadpool(lambda: [normalize_one(*r, self.reference) for r in records])
        scorable = [v for v, _err in normed if v is not None]
        scores = dict(zip(scorable, map(lm_fields, await self.backend.score(scorable)))) if scorable else {}
        rows = []
        for (chrom, pos, ref, alt), (v, err) in zip(records, normed):
            llr, prob, skip = scores.get(v, (None, None, err)) if v is not None else (None, None, err)
            rows.append([chrom, pos, ref, alt, str(v) if v else "", llr, prob, skip or ""])
        return rows, scorable, scores, normed

    async def heatmap(self, focus: Variant, flank: int):
        layout = await run_in_threadpool(ism_layout, self.reference, focus.chrom, focus.pos, flank)
        ism = await self.backend.score(layout.variants)
        grid = layout.matrix(r.get("llr") for r in ism)
        image = await run_in_threadpool(heatmap_image, grid, layout.ref_bases, layout.first_pos, focus.chrom, focus)
        return image, len(layout.variants)

    async def analyse(self, text: str, vcf_path: str | None, flank: float):
        records = read_records(text, vcf_path, self.cfg, self.example)
        rows, scorable, scores, normed = await self.score_records(records)
        focus = next((v for v in scorable if scores[v][0] is not None), None)
        info = await self.backend.info()
        if focus is None:
            reasons = "; ".join(r[-1] for r in rows if r[-1])
            if len(records) == 1:
                raise input_error(f"cannot score {records[0][0]}:{records[0][1]} {records[0][2]}>{records[0][3]}: {reasons}")
            return (f"None of the {len(records)} variants could be scored: {reasons}", rows, "", None)
        llr, prob, _ = scores[focus]
        src = next(r for r, (v, _e) in zip(records, normed) if v == focus)
        flank = int(min(max(flank, 1), self.max_flank))
        (image, n_ism), attr = await asyncio.gather(self.heatmap(focus, flank), self.backend.attributions(focus))
        summary = summary_markdown(src, focus, llr, prob, info, n_ism, flank, len(records))
        return summary, rows, await run_in_threadpool(self.window, focus, info, attr), image

    def window(self, focus: Variant, info: dict, attr: dict) -> str:
        """The model's window around ``focus`` and, under it, the attributions of its score."""
        w = int(info.get("window", self.cfg.window))
        first = attr.get("attributions_first_pos")  # 1-based; None without attributions
        bases = self.reference.fetch(focus.chrom, first - 1, first - 1 + w) if first else ""
        return window_html(self.reference, focus, w) + attribution_html(bases, attr, focus.pos)

    async def from_query(self, request: gr.Request):
        q = request.query_params.get("variant") if request else None
        if not q:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        summary, rows, win, image = await self.analyse(q, None, self.cfg.ism_flank)
        return q, summary, rows, win, image

    def layout(self, demo: gr.Blocks) -> None:
        with gr.Tab("Score a variant"):
            with gr.Row():
                with gr.Column(scale=1):
                    variant = gr.Textbox(label="Variant", placeholder=self.example, max_lines=1)
                    vcf = gr.File(label="...or a small VCF", file_types=[".vcf", ".txt"], type="filepath")
                    flank = gr.Slider(2, self.max_flank, value=self.cfg.ism_flank, step=1,
                                      label="Heatmap: bases each side of the variant")
                    button = gr.Button("Score", variant="primary")
                    gr.Examples([[self.example]], inputs=[variant], label="Example on this reference")
                with gr.Column(scale=2):
                    summary = gr.Markdown()
                    window = gr.HTML(label="Sequence window")
            table = gr.Dataframe(headers=COLUMNS, label="Scores", interactive=False, wrap=True)
            heatmap = gr.Image(label="In-silico mutagenesis heatmap", type="pil", format="png")
        outputs = [summary, table, window, heatmap]
        button.click(self.analyse, [variant, vcf, flank], outputs, api_name="score")
        variant.submit(self.analyse, [variant, vcf, flank], outputs, api_name=False)
        demo.load(self.from_query, None, [variant, *outputs], api_name=False)


def call_label(c: dict) -> str:
    return f"{c['chrom']}:{c['pos']} {c['ref']}>{c['alt']} {c['gt']} {c['filter']}"


class CallTab:
    """The "Call variants from a BAM" handlers: pick a BAM under the data directories and a region, see the
    calls (the same path as ``POST /v1/call``) and a pileup picture around a chosen call."""

    def __init__(self, backend, reference, cfg):
        self.backend, self.reference, self.cfg = backend, reference, cfg
        self.bams = list_bams(cfg.data_dirs)

    def first_region(self) -> str | None:
        """A region to suggest: from the first of the listed BAMs that can be read."""
        for bam in self.bams[:5]:
            region = default_region(str(resolve_bam(bam, self.cfg.data_dirs)), 10_000)
            if region:
                return region
        return None

    def checked(self, bam: str, region: str) -> tuple[str, str]:
        try:
            return check_call_request(bam, region, self.cfg.data_dirs, self.reference.lengths, self.cfg.max_call_bp)
        except (PathRefused, BamNotFound, CallRequestInvalid) as exc:
            raise input_error(str(exc)) from None

    async def show_pileup(self, bam: str, choice: str | None, calls: list[dict]):
        call = next((c for c in calls if call_label(c) == choice), None)
        if call is None:
            return None
        path, _ = self.checked(bam, f"{call['chrom']}:{call['pos']}-{call['pos']}")
        view = await run_in_threadpool(load_pileup_view, path, self.reference.path, call["chrom"], call["pos"],
                                       self.cfg.pileup_flank, self.cfg.pileup_max_reads, self.cfg.call)
        return await run_in_threadpool(pileup_image, view, call["pos"], choice)

    async def run_call(self, bam: str, region: str, pass_only: bool):
        path, reg = self.checked(bam, region)
        try:
            out = await self.backend.call(path, reg, False, pass_only)
        except Exception as exc:  # noqa: BLE001 - the caller's input errors, shown as one line
            cause = raygen_cause(exc)
            if cause is None:
                raise
            raise input_error(client_message(cause, path, bam, self.cfg.data_dirs)) from None
        calls = out["calls"]
        rows = [[c["chrom"], c["pos"], c["ref"], c["alt"], c["gt"], c["gq"], c["dp"], ",".join(map(str, c["ad"])),
                 c["vaf"], c["qual"], c["filter"]] for c in calls]
        labels = [call_label(c) for c in calls]
        first = next((call_label(c) for c in calls if c["filter"] == "PASS"), labels[0] if labels else None)
        summary = (f"### {len(calls)} records in {reg} ({out['seconds']:.2f} s, model `{display_name(self.cfg.call_model)}`)\n"
                   + (", ".join(f"{k}: {v}" for k, v in sorted(out["counts"].items())) or "no candidates")
                   + "\n\nChoose a call below to see its reads.")
        image = await self.show_pileup(path, first, calls) if first else None
        return summary, rows, gr.update(choices=labels, value=first), calls, image

    def layout(self) -> None:
        bams, cfg = self.bams, self.cfg
        with gr.Tab("Call variants from a BAM"):
            gr.Markdown(f"Call variants in a region of a BAM under the server's data directories (`raygen call`'s "
                        f"caller, model `{display_name(cfg.call_model)}`; at most {cfg.max_call_bp:,} bp at once), then look at "
                        "the reads around any call.")
            with gr.Row():
                bam = gr.Dropdown(choices=bams, value=bams[0] if bams else None, allow_custom_value=True,
                                  label="BAM (under the data directories)")
                region = gr.Textbox(label="Region (CHROM:START-END, 1-based)", max_lines=1,
                                    value=self.first_region() or "", placeholder="chr20:10000000-10010000")
                pass_only = gr.Checkbox(label="PASS calls only", value=False)
            call_button = gr.Button("Call", variant="primary")
            call_summary = gr.Markdown()
            call_table = gr.Dataframe(headers=CALL_COLUMNS, label="Calls", interactive=False, wrap=True)
            state = gr.State([])
            choice = gr.Dropdown(choices=[], label="Show the pileup at", interactive=True)
            pileup = gr.Image(label="Pileup", type="pil", format="png")
            call_button.click(self.run_call, [bam, region, pass_only],
                              [call_summary, call_table, choice, state, pileup], api_name="call")
            choice.input(self.show_pileup, [bam, choice, state], [pileup], api_name="pileup")


def build_ui(backend, reference, cfg) -> Any:
    """The Gradio Blocks of the variant explorer, bound to ``backend`` (see :mod:`raygen.serve.backend`)."""
    with gr.Blocks(title="raygen variant explorer") as demo:
        gr.Markdown(
            "# raygen variant explorer\n"
            "Enter a variant as `CHROM:POS REF>ALT` (1-based, on the served reference) or upload a small VCF. "
            "raygen normalizes it like `bcftools norm`, scores it with the served DNA language model (the same "
            "numbers as `POST /v1/score` and `raygen score`), and mutates every base around it.")
        ScoreTab(backend, reference, cfg).layout(demo)
        if cfg.data_dirs:
            CallTab(backend, reference, cfg).layout()
    return demo
