"""The per-sample variant report page of ``raygen report``: banner, variant rows with scores and evidence
codes, the in-silico mutagenesis pictures of the top variants, where each threshold comes from, provenance."""

from __future__ import annotations

from raygen.report.assess_html import provenance_html
from raygen.report.page import esc, fmt, img, page, table


def _code_cell(ev: dict) -> str:
    if not ev or ev.get("code") is None:
        return "<span class='code nocode'>none</span>"
    return f"<span class='code {ev['code']}'>{ev['code']}_{esc(ev['strength'])}</span>"


def variant_rows(rows: list[dict], keys: list[str], coded: list[str], fields: list[str]) -> str:
    """The variant table: position, genotype, each score, each coded score's probability and code, fields."""
    head = ["#", "variant", "GT"] + keys + [f"{k} evidence" for k in coded] + fields
    body = []
    for i, r in enumerate(rows, 1):
        cells = [i, f"<code>{esc(r['chrom'])}:{r['pos']} {esc(r['ref'])}&gt;{esc(r['alt'])}</code>", esc(r.get("gt", ""))]
        cells += [fmt(r["values"].get(k), 4) for k in keys]
        for k in coded:
            ev = r["evidence"].get(k, {})
            p = "" if ev.get("prob") is None or ev.get("prob") == ev.get("value") else f" (p {ev['prob']:.3f})"
            cells.append(_code_cell(ev) + esc(p))
        cells += [esc(r["values"].get(f, "")) for f in fields]
        body.append(cells)
    return table(head, body, raw=True, cls="variants")


def report_page(result: dict) -> str:
    """The whole report (``result`` as :func:`raygen.commands.report.build_report` returns it)."""
    c = result["counts"]
    sets = result["threshold_sets"]
    parts = [f"<p>Sample <b>{esc(result['sample'] or 'all records (sites-only input)')}</b> of "
             f"<code>{esc(result['scored'])}</code>; filter <code>{esc(result['include'] or 'none')}</code>: "
             f"{c['alleles']} ALT alleles read, {c['carried']} carried by the sample, {c['passing']} pass the filter, "
             f"{c['shown']} shown (ordered by {esc(result['order_key'])}, highest first).</p>",
             variant_rows(result["rows"], result["keys"], list(sets), result["fields"])]
    if result["ism"]:
        parts.append("<h2>In-silico mutagenesis of the top variants</h2>")
        for item in result["ism"]:
            parts.append(img(item["png"], f"ISM of {item['variant']}",
                             f"{item['variant']}: every base within {item['flank']} bp mutated to each other base, "
                             f"scored by {item['model']} (LLR; blue: reference preferred, red: alternative)."))
    elif result.get("ism_note"):
        parts.append(f"<p class='muted'>{esc(result['ism_note'])}</p>")
    parts.append("<h2>Evidence thresholds used</h2>")
    if sets:
        rows = [[k, code.upper(), name, "none" if v is None else f"{v:g}", esc(s["source"])]
                for k, s in sets.items() for code in ("pp3", "bp4") for name, v in s["thresholds"][code].items()]
        parts.append(table(["score", "code", "strength", "threshold (probability or score)", "source"], rows, raw=True))
    else:
        parts.append("<p class='muted'>No score here has thresholds: give --assessment (raygen assess JSON with "
                     "--calibration-labels) or score with SpliceAI.</p>")
    parts.append("<h2>Provenance</h2>" + provenance_html(result["history"], result["provenance"]))
    return page(f"raygen variant report: {result['sample'] or result['scored']}", "".join(parts))
