"""Gradio UI mounted at ``/ui``: one variant (typed, or the records of a small VCF) -> normalized form,
scores from the chosen served model, and a panel for the first scored variant: SpliceAI's four delta scores
per gene with a plot of the REF and ALT acceptor/donor probabilities (the scorer's ``detail``), or, for a
language model, its sequence window with the variant highlighted and an in-silico mutagenesis heatmap.
With data directories, a second tab calls a region of a BAM and draws the reads around a chosen call.

The UI calls the same backend as ``POST /v1/score`` (the batched Scorer deployment) and the same
normalizer as ``POST /v1/normalize``, so its numbers are the API's numbers. ``/ui/?variant=chr1:1000+A>G``
opens the page with that variant scored (links from reports, and the browser test, use it);
``&model=spliceai`` picks a served model other than the first.
Positions are 1-based (VCF POS). The pictures are drawn by :mod:`raygen.serve.figures`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import gradio as gr
from starlette.concurrency import run_in_threadpool

from raygen.errors import raygen_cause
from raygen.serve.admission import Overloaded
from raygen.serve.auth import check_bearer
from raygen.serve.backend import ScorerStalled
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
from raygen.serve.figures import attribution_html, heatmap_image, pileup_image, splice_tracks_image, window_html
from raygen.serve.ism import BASES, ism_layout
from raygen.serve.normalize import normalize_one
from raygen.serve.parse import RequestInvalid, parse_variant_text, parse_vcf_text
from raygen.serve.schemas import display_name
from raygen.variant import Variant

log = logging.getLogger("raygen.serve.ui")

#: The table's columns before the first answer: the variant's five, then the served model's own result fields
#: (a language model's ``llr``, ``prob``; SpliceAI's ``spliceai`` entries), then ``skip_reason``.
COLUMNS = ["chrom", "pos", "ref", "alt", "normalized", "llr", "prob", "skip_reason"]
#: One picture for either kind of model (a per-kind label would need gr.update, which API clients then see).
PICTURE_LABEL = "In-silico mutagenesis (language models) / splice sites (SpliceAI)"
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


def result_fields(results: list[dict]) -> list[str]:
    """The score fields a model's results carry (``as_dict()`` keys but ``skip_reason``), in their order."""
    return [k for k in (results[0] if results else {}) if k != "skip_reason"]


def cell(value: Any) -> Any:
    """A result field as a table cell: numbers and text as they are; a list of entries (SpliceAI's genes) as
    their ``info`` texts (the release's INFO entries), comma-separated as in a VCF."""
    if isinstance(value, list):
        return ",".join(str(e.get("info", e)) if isinstance(e, dict) else str(e) for e in value)
    return value


def splice_markdown(src: Record, focus: Variant, detail: dict, info: dict, n_records: int) -> str:
    """The result card of a ``splice_tracks`` detail: per gene and strand the four delta scores with their
    positions (bases from POS and 1-based), the release's INFO entry, and the model's provenance."""
    moved = (src[1], src[2], src[3]) != (focus.pos, focus.ref, focus.alt)
    lines = [f"### {focus}",
             f"- input: `{src[0]}:{src[1]} {src[2]}>{src[3]}`; normalized (bcftools norm): `{focus}`"
             f"{' (left-aligned/trimmed)' if moved else ' (already normalized)'}",
             f"- model: `{info.get('model')}` {info.get('revision', '')} (annotation {info.get('annotation')}, "
             f"+-{detail['distance']} bp, mask {'on' if detail['mask'] else 'off'}); weights licence: "
             f"{info.get('licence', '?')}", "",
             "| gene | strand | acceptor gain | acceptor loss | donor gain | donor loss |",
             "|---|---|---|---|---|---|"]
    for g in detail["genes"]:
        cells = [f"**{g[f'DS_{k}']:.2f}** at {g[f'DP_{k}']:+d} ({focus.pos + g[f'DP_{k}']:,})"
                 for k in ("AG", "AL", "DG", "DL")]
        lines.append(f"| {g['SYMBOL']} | {g['strand']} | " + " | ".join(cells) + " |")
    lines += ["", "Delta scores (0 to 1) and where they peak: bases from POS (1-based position). INFO: `SpliceAI="
              + ",".join(g["info"] for g in detail["genes"]) + "`"]
    if n_records > 1:
        lines.append(f"\n{n_records} variants in the table; the panel shows the first scored one")
    return "\n".join(lines) + "\n"


class ScoreTab:
    """The "Score a variant" handlers: normalize, score with the chosen served model, then the focus variant's
    panel: the scorer's own :meth:`detail` where it has one (SpliceAI: its tracks), else the window and the
    in-silico mutagenesis heatmap of the language model."""

    def __init__(self, backend, reference, cfg):
        self.backend, self.reference, self.cfg = backend, reference, cfg
        self.example = example_variant(reference)
        self.max_flank = max(cfg.ism_flank, cfg.ism_max_flank)
        self.models = list(backend.names) if backend is not None else [display_name(cfg.model)]

    async def score_records(self, records: list[Record], model: str | None) -> tuple[dict, list[Variant], dict, list]:
        """The table (headers and rows), the scorable (normalized) variants, their results, and each record's
        normalization."""
        normed = await run_in_threadpool(lambda: [normalize_one(*r, self.reference) for r in records])
        scorable = list(dict.fromkeys(v for v, _err in normed if v is not None))
        results = dict(zip(scorable, await self.backend.score(scorable, model))) if scorable else {}
        fields = result_fields(list(results.values()))
        rows = []
        for (chrom, pos, ref, alt), (v, err) in zip(records, normed):
            res = results.get(v, {}) if v is not None else {}
            rows.append([chrom, pos, ref, alt, str(v) if v else "", *(cell(res.get(f)) for f in fields),
                         (res.get("skip_reason") if v is not None else err) or ""])
        return {"headers": [*COLUMNS[:5], *fields, "skip_reason"], "data": rows}, scorable, results, normed

    async def heatmap(self, focus: Variant, flank: int, model: str | None):
        layout = await run_in_threadpool(ism_layout, self.reference, focus.chrom, focus.pos, flank)
        ism = await self.backend.score(layout.variants, model)
        grid = layout.matrix(r.get("llr") for r in ism)
        image = await run_in_threadpool(heatmap_image, grid, layout.ref_bases, layout.first_pos, focus.chrom, focus)
        return image, len(layout.variants)

    async def analyse(self, text: str, vcf_path: str | None, flank: float, model: str | None = None):
        try:
            return await self._analyse(text, vcf_path, flank, model)
        except (Overloaded, ScorerStalled) as exc:  # the page says so instead of Gradio's bare "Error"
            raise gr.Error(f"The server is busy: {exc}.", print_exception=False) from None

    async def _analyse(self, text: str, vcf_path: str | None, flank: float, model: str | None = None):
        records = read_records(text, vcf_path, self.cfg, self.example)
        model = model if model in self.models else None
        table, scorable, results, normed = await self.score_records(records, model)
        focus = next((v for v in scorable if results[v].get("skip_reason") is None), None)
        info = await self.backend.info(model)
        if focus is None:
            reasons = "; ".join(r[-1] for r in table["data"] if r[-1])
            if len(records) == 1:
                raise input_error(f"cannot score {records[0][0]}:{records[0][1]} {records[0][2]}>{records[0][3]}: {reasons}")
            return (f"None of the {len(records)} variants could be scored: {reasons}", table, "", None)
        src = next(r for r, (v, _e) in zip(records, normed) if v == focus)
        detail = await self.backend.detail(focus, model)
        if detail is not None:  # the scorer draws its own kind of picture: today "splice_tracks" (SpliceAI)
            image = await run_in_threadpool(splice_tracks_image, detail, focus.chrom, focus)
            return splice_markdown(src, focus, detail, info, len(records)), table, "", image
        flank = int(min(max(flank, 1), self.max_flank))
        (image, n_ism), attr = await asyncio.gather(self.heatmap(focus, flank, model),
                                                    self.backend.attributions(focus, model))
        res = results[focus]
        summary = summary_markdown(src, focus, res.get("llr"), res.get("prob"), info, n_ism, flank, len(records))
        return summary, table, await run_in_threadpool(self.window, focus, info, attr), image

    def window(self, focus: Variant, info: dict, attr: dict) -> str:
        """The model's window around ``focus`` and, under it, the attributions of its score."""
        w = int(info.get("window", self.cfg.window))
        first = attr.get("attributions_first_pos")  # 1-based; None without attributions
        bases = self.reference.fetch(focus.chrom, first - 1, first - 1 + w) if first else ""
        return window_html(self.reference, focus, w) + attribution_html(bases, attr, focus.pos)

    async def from_query(self, request: gr.Request):
        """``/ui/?variant=CHROM:POS+REF>ALT[&model=NAME]``: the page opens with that variant scored."""
        q = request.query_params.get("variant") if request else None
        if not q:
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        model = request.query_params.get("model")
        model = model if model in self.models else self.models[0]
        summary, table, win, image = await self.analyse(q, None, self.cfg.ism_flank, model)
        return q, model, summary, table, win, image

    def layout(self, demo: gr.Blocks) -> None:
        with gr.Tab("Score a variant"):
            with gr.Row():
                with gr.Column(scale=1):
                    variant = gr.Textbox(label="Variant", placeholder=self.example, max_lines=1)
                    model = gr.Dropdown(choices=self.models, value=self.models[0], label="Model",
                                        visible=len(self.models) > 1, interactive=True)
                    vcf = gr.File(label="...or a small VCF", file_types=[".vcf", ".txt"], type="filepath")
                    flank = gr.Slider(2, self.max_flank, value=self.cfg.ism_flank, step=1,
                                      label="Heatmap (language models): bases each side of the variant")
                    button = gr.Button("Score", variant="primary")
                    gr.Examples([[self.example]], inputs=[variant], label="Example on this reference")
                with gr.Column(scale=2):
                    summary = gr.Markdown()
                    window = gr.HTML(label="Sequence window")
            table = gr.Dataframe(headers=COLUMNS, label="Scores", interactive=False, wrap=True)
            picture = gr.Image(label=PICTURE_LABEL, type="pil", format="png")
        outputs = [summary, table, window, picture]
        button.click(self.analyse, [variant, vcf, flank, model], outputs, api_name="score")
        variant.submit(self.analyse, [variant, vcf, flank, model], outputs, api_name=False)
        demo.load(self.from_query, None, [variant, model, *outputs], api_name=False)


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
            "raygen normalizes it like `bcftools norm` and scores it with the chosen served model (the same "
            "numbers as `POST /v1/score` and `raygen score`): a DNA language model also mutates every base "
            "around it; SpliceAI shows its delta scores and the splice-site probabilities along the window.")
        ScoreTab(backend, reference, cfg).layout(demo)
        if cfg.data_dirs:
            CallTab(backend, reference, cfg).layout()
    return demo
