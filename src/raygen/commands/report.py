"""``raygen report SCORED --sample S -o report.html``: a per-sample variant report a geneticist can check."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from raygen.errors import InputError, UsageError

DESCRIPTION = """\
A self-contained HTML page (and a PDF with --pdf, through headless Chromium when installed) of the variants
of SCORED (a scored VCF/BCF) that sample S carries and that pass --include: per variant its scores, the
probability each threshold applies to and the computational evidence code under ACMG/AMP (PP3 / BP4 with
ClinGen's likelihood-ratio strengths): SpliceAI by the published thresholds (>= 0.2 PP3, <= 0.1 BP4; ClinGen
SVI, Walker et al. 2023), RAYGEN_PROB (or a Platt-mapped score) by the thresholds `raygen assess
--calibration-labels` chose and wrote to its JSON (--assessment). With --model and -f, the in-silico
mutagenesis picture of the top variants. A provenance block lists every run recorded in SCORED's header
(raygen version and commit, models with hashes and licences, reference checksum, the command) and this one.
A banner says this is research software: evidence codes are inputs to a curator's classification, never a
classification."""

DEFAULT_KEYS = ("RAYGEN_PROB", "RAYGEN_LLR", "SpliceAI")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("report", parents=[common], help="per-sample HTML/PDF report: scores, PP3/BP4 evidence "
                       "codes, ISM pictures, provenance", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scored", metavar="SCORED", help="scored VCF/BCF (raygen score, SpliceAI, annotations)")
    p.add_argument("--sample", metavar="S", help="sample whose non-reference genotypes are reported (default: "
                   "every record; required when the file has several samples)")
    p.add_argument("-o", "--output", metavar="HTML", required=True, help="report page (written atomically)")
    p.add_argument("--include", metavar="EXPR", help="KEY OP NUMBER [&& ...], e.g. 'RAYGEN_PROB>=0.3'")
    p.add_argument("--assessment", metavar="JSON", help="raygen assess JSON: fitted PP3/BP4 thresholds and mappings")
    p.add_argument("--field", action="append", default=[], metavar="KEY", help="extra INFO column (repeatable), "
                   "e.g. an annotation")
    p.add_argument("--max-variants", type=int, default=200, help="rows shown (default 200)")
    p.add_argument("--model", metavar="DIR", help="model for the in-silico mutagenesis pictures (with -f)")
    p.add_argument("-f", "--fasta-ref", metavar="REF", help="reference of SCORED (ISM pictures, provenance)")
    p.add_argument("--ism-top", type=int, default=3, help="ISM pictures for this many top variants (default 3)")
    p.add_argument("--ism-flank", type=int, default=10, help="bases each side mutated (default 10)")
    p.add_argument("--window", type=int, default=128, help="model window for the ISM scores (default 128)")
    p.add_argument("--pdf", metavar="PDF", help="also print the page to PDF with headless Chromium")
    p.set_defaults(func=run)


def genotypes(path: str, sample: str | None) -> tuple[list[str], list[tuple[int, ...] | None]]:
    """(samples, per record in file order the GT allele indices of ``sample``, or None for every record)."""
    import pysam

    from raygen.report.evidence import check_sample

    with pysam.VariantFile(path) as vf:
        samples = list(vf.header.samples)
        if sample is None and len(samples) > 1:
            raise UsageError(f"{path} has {len(samples)} samples ({', '.join(samples[:5])}...): choose one with --sample")
        check_sample(samples, sample, path)
        if sample is None:
            return samples, []
        return samples, [tuple(a for a in (rec.samples[sample].get("GT") or ()) if a is not None) for rec in vf]


def _values(alleles, i: int, keys: list[str]) -> dict:
    out = {}
    for k in keys:
        v = alleles[k][i].as_py()
        out[k] = v
    return out


def ism_pictures(rows: list[dict], model: str, reference: str, top: int, flank: int, window: int) -> list[dict]:
    """ISM heatmaps (PNG) of the first ``top`` SNV rows, scored in-process by ``model``."""
    import io

    # Lazy: torch/transformers and the UI's figure code load only when pictures are asked for.
    from raygen.io.fasta import Reference
    from raygen.scoring import Scorer
    from raygen.serve.figures import heatmap_image
    from raygen.serve.ism import ism_layout
    from raygen.serve.schemas import display_name
    from raygen.variant import Variant

    scorer = Scorer(model, reference, window=window)
    out = []
    with Reference(reference) as ref:
        for r in [r for r in rows if len(r["ref"]) == 1 and len(r["alt"]) == 1][:top]:
            layout = ism_layout(ref, r["chrom"], r["pos"], flank)
            llr = [s.llr for s in scorer.score_variants(layout.variants)]
            v = Variant(r["chrom"], r["pos"], r["ref"], r["alt"])
            buf = io.BytesIO()
            heatmap_image(layout.matrix(llr), layout.ref_bases, layout.first_pos, r["chrom"], v).save(buf, "PNG")
            out.append({"variant": f"{r['chrom']}:{r['pos']} {r['ref']}>{r['alt']}", "png": buf.getvalue(),
                        "flank": flank, "model": display_name(model)})
    return out


def build_report(args: argparse.Namespace) -> dict:
    from raygen.eval.scored import open_header, read_alleles
    from raygen.io.parquet import is_parquet_dataset
    from raygen.provenance import Provenance, header_history, model_record
    from raygen.report.evidence import evidence_for, parse_include, passes, threshold_sets

    if is_parquet_dataset(args.scored):
        raise UsageError("raygen report reads a VCF/BCF (genotypes come from its sample columns)")
    conds = parse_include(args.include)
    header = open_header(args.scored)
    keys = [k for k in DEFAULT_KEYS if k in header.info]
    extra = [k for k in [*args.field, *(c[0] for c in conds)] if k not in keys]
    missing = [k for k in extra if k not in header.info]
    if missing:
        raise UsageError(f"{args.scored}: no INFO {', '.join(missing)} in its header")
    header, alleles = read_alleles(args.scored, keys + extra)
    _, gts = genotypes(args.scored, args.sample)
    assessment = json.loads(Path(args.assessment).read_text()) if args.assessment else None
    sets = threshold_sets(assessment, keys)
    rows, carried = [], 0
    for i in range(alleles.num_rows):
        rec, alt_index = alleles["record"][i].as_py(), alleles["alt_index"][i].as_py()
        gt = gts[rec] if gts else None
        if gt is not None and alt_index + 1 not in gt:
            continue
        carried += 1
        values = _values(alleles, i, keys + extra)
        if not passes(values, conds):
            continue
        rows.append({"chrom": alleles["chrom"][i].as_py(), "pos": alleles["pos"][i].as_py(),
                     "ref": alleles["ref"][i].as_py(), "alt": alleles["alt"][i].as_py(),
                     "gt": "" if gt is None else "/".join(map(str, gt)), "values": values,
                     "evidence": evidence_for(values, sets)})
    order_key = next((k for k in ("RAYGEN_PROB", "SpliceAI") if k in keys), keys[0] if keys else "position")
    if keys:
        sign = -1.0 if order_key == "RAYGEN_LLR" else 1.0  # a low LLR is the likelier effect
        rows.sort(key=lambda r: -(sign * r["values"][order_key]) if r["values"].get(order_key) is not None
                  and r["values"][order_key] == r["values"][order_key] else float("inf"))
    shown = rows[:args.max_variants]
    ism, note = [], None
    if args.model and args.fasta_ref:
        ism = ism_pictures(shown, args.model, args.fasta_ref, args.ism_top, args.ism_flank, args.window)
    else:
        note = "No in-silico mutagenesis pictures: give --model DIR and -f REF."
    models = [model_record(args.model)] if args.model else []
    return {"scored": args.scored, "sample": args.sample, "include": args.include, "keys": keys, "fields": extra,
            "order_key": order_key, "threshold_sets": sets, "rows": shown, "ism": ism, "ism_note": note,
            "counts": {"alleles": alleles.num_rows, "carried": carried, "passing": len(rows), "shown": len(shown)},
            "history": header_history(header),
            "provenance": Provenance.for_run(models=models, reference=args.fasta_ref).as_dict()}


def print_pdf(html_path: Path, pdf_path: str) -> bool:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium; False (and a message) when it is missing."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not exe:
        print("raygen report: no chromium found; the PDF was not written (the HTML prints as it looks)", file=sys.stderr)
        return False
    proc = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                           f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()], capture_output=True,
                          timeout=180)
    if proc.returncode != 0 or not Path(pdf_path).exists():
        raise InputError(f"chromium could not print {html_path} to PDF: {proc.stderr.decode()[-300:]}")
    return True


def run(args: argparse.Namespace) -> int:
    from raygen.io.atomic import atomic_path
    from raygen.report.variant_html import report_page

    if args.max_variants < 1 or args.ism_top < 0 or args.ism_flank < 1:
        raise UsageError("--max-variants and --ism-flank must be >= 1, --ism-top >= 0")
    result = build_report(args)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(report_page(result), encoding="utf-8")
    c = result["counts"]
    coded = {k: sum(1 for r in result["rows"] if r["evidence"].get(k, {}).get("code")) for k in result["threshold_sets"]}
    print(f"{c['shown']} variants shown ({c['passing']} pass the filter, {c['carried']} carried, {c['alleles']} read); "
          + (", ".join(f"{k}: {n} with a code" for k, n in coded.items()) or "no score with thresholds")
          + f"; wrote {out}")
    if args.pdf and print_pdf(out, args.pdf):
        print(f"wrote {args.pdf}")
    return 0
