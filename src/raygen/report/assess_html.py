"""The HTML page of ``raygen assess``: counts, per-score metrics and pictures, slices, thresholds, provenance."""

from __future__ import annotations

from raygen.report.figures import curves_png, reliability_png, slices_png, strata_png
from raygen.report.page import esc, fmt, img, page, table


def _ci(m: dict, key: str) -> str:
    v = m.get(key)
    return "" if not v else f"{v['value']:.3f} [{v['ci_low']:.3f}, {v['ci_high']:.3f}]"


def _metric_row(name: str, m: dict) -> list:
    if "too_few" in m:
        return [name, m["n"], m["positives"], f"<span class='toofew'>{esc(m['too_few'])}</span>", "", "", ""]
    return [name, m["n"], m["positives"], esc(_ci(m, "auroc")), esc(_ci(m, "auprc")),
            fmt(m.get("ece", float("nan"))), fmt(m.get("brier", float("nan")))]


HEAD = ["", "variants", "with effect", "AUROC [95% CI]", "AUPRC [95% CI]", "ECE", "Brier"]


def _thresholds_html(s: dict) -> str:
    t = s.get("thresholds")
    if not t:
        return "<p class='muted'>No PP3/BP4 thresholds: give --calibration-labels (a labelled set disjoint from " \
               "the assessed one) to choose them.</p>"
    rows = [[code.upper(), name, "none reached" if v is None else f"{v:.4f}"]
            for code in ("pp3", "bp4") for name, v in t[code].items()]
    ev = s.get("evidence_on_assessed", {})
    check = [[k, v["n"], v.get("positives", ""), fmt(v.get("observed_lr", float("nan")), 2)] for k, v in ev.items()]
    return (f"<p>Thresholds on the probability{' (Platt mapping of ' + esc(s['label']) + ')' if 'mapping' in s else ''}"
            f", chosen on <b>{esc(t['source'])}</b> by {esc(t['method'])} (window {t['window']} variants; "
            f"{t['n']} labelled, {t['positives']} with effect). {esc(t.get('note', ''))}</p>"
            + table(["code", "strength", "probability threshold"], rows)
            + "<p>Applied to the assessed variants (not used to choose them): observed likelihood ratio "
              "= (share of variants with effect) / (share without) per code.</p>"
            + table(["code", "variants", "with effect", "observed LR"], check))


def score_section(s: dict, absent: dict) -> str:
    o = s["overall"]
    rows = [_metric_row("all labelled variants", o)]
    parts = [f"<h2 id='score-{esc(s['key'])}'>{esc(s['label'])}</h2>",
             f"<p class='muted'>{s['unscored']} labelled variants without a value of {esc(s['key'])} are left out. "
             f"Orientation: {esc(s['orientation'])} (larger = more likely an effect)."
             + (f" Calibrated by a Platt mapping fitted on {esc(s['mapping']['source'])}: "
                f"p = 1 / (1 + exp(-({s['mapping']['a']:.4g} x + {s['mapping']['b']:.4g})))." if "mapping" in s else "")
             + "</p>", table(HEAD, rows, raw=True)]
    if s["calibrated"] and "reliability" in o:
        parts.append(img(reliability_png(s), f"reliability diagram of {s['label']}",
                         "Reliability diagram: observed fraction of variants with an effect per bin of predicted "
                         "probability (95% Wilson intervals); the dashed diagonal is perfect calibration."))
    elif not s["calibrated"]:
        parts.append("<p class='muted'>Not a probability and no mapping fitted: no calibration metrics "
                     "(give --calibration-labels to fit one).</p>")
    parts.append("<h3>Slices</h3>")
    for name, levels in s["slices"].items():
        parts.append(f"<h4>{esc(name)}</h4>" + table(HEAD, [_metric_row(lv, m) for lv, m in levels.items()], raw=True))
    for name, why in absent.items():
        parts.append(f"<p class='muted'>Slice <b>{esc(name)}</b> not computed: {esc(why)}.</p>")
    parts.append(img(slices_png(s), f"AUROC by slice of {s['label']}",
                     "AUROC per slice with 95% bootstrap intervals; slices with too few variants say so."))
    parts.append("<h3>Evidence thresholds (PP3 / BP4)</h3>" + _thresholds_html(s))
    if "published_thresholds" in s:
        p = s["published_thresholds"]
        ev = s["evidence_published_on_assessed"]
        parts.append(f"<p>Published thresholds: {esc(p['source'])}.</p>" + table(
            ["code", "variants", "with effect", "observed LR"],
            [[k, v["n"], v.get("positives", ""), fmt(v.get("observed_lr", float("nan")), 2)] for k, v in ev.items()]))
    return "".join(parts)


def provenance_html(runs: list[dict], current: dict | None = None) -> str:
    """The provenance table: every run recorded in the input, then this one."""
    rows = []
    for r in runs + ([current] if current else []):
        models = "; ".join(f"{m.get('id')} {('@' + m['revision']) if m.get('revision') else ''} sha256 "
                           f"{m.get('sha256', '')[:16]} licence {m.get('licence', '')}" for m in r.get("models", []))
        ref = r.get("reference") or {}
        sources = "; ".join(f"{s['name']}={s['file']} ({s['date']}, sha256 {s['sha256'][:16]})"
                            for s in r.get("sources", []))
        rows.append([r.get("date", ""), f"raygen {r.get('version', '')} ({r.get('commit', '')})",
                     f"<code>{esc(r.get('command', ''))}</code>", esc(models),
                     esc(f"{ref.get('name', '')} sha256 {ref.get('sha256', '')[:16]}" if ref else ""), esc(sources)])
    return table(["date (UTC)", "software", "command", "models", "reference", "annotation sources"], rows, raw=True)


def assess_page(result: dict) -> str:
    c = result["counts"]
    miss = result["missing_labels"]
    body = [f"<p>Scores <code>{esc(result['scored'])}</code> (models: {esc(', '.join(result['models']) or 'not named')}) "
            f"against labels <code>{esc(result['labels'])}</code>: {c['labels']} labelled variants, "
            f"{c['matched']} found among the scored ({c['positives']} with effect), "
            f"<b>{miss['count']} missing from the scores</b>, {c['duplicates']} duplicates ignored "
            f"({c.get('conflicting_duplicates', 0)} of them with another label than the first), "
            f"{c['labels_skipped']} label rows skipped.</p>"]
    if miss["count"]:
        body.append(f"<details><summary>Labelled variants missing from the scores (first {len(miss['listed'])})"
                    f"</summary><p class='muted'>{esc(', '.join(miss['listed']))}</p></details>")
    if result.get("calibration_labels"):
        body.append(f"<p>Mappings and thresholds fitted on <code>{esc(result['calibration_labels'])}</code> "
                    f"({c['calibration_matched']} labelled variants found), never on the assessed labels.</p>")
    scores = result["scores"]
    body.append(img(curves_png(scores), "ROC and precision-recall curves",
                    "ROC and precision-recall curves of every score (bootstrap 95% intervals in the legend)."))
    body.append(table(["score"] + HEAD[1:], [_metric_row(s["label"], s["overall"]) for s in scores], raw=True))
    body += [score_section(s, result.get("absent_slices", {})) for s in scores]
    body.append("<h2>Provenance</h2>" + provenance_html(result.get("history", []), result.get("provenance")))
    return page("raygen assess: scores against labels", "".join(body))


def callset_page(result: dict) -> str:
    """Page of a call-set assessment: overall counts and precision/recall per coverage and GC stratum."""
    rows = []
    for name, levels in result["strata"].items():
        for level, m in levels.items():
            if "too_few" in m:
                rows.append([name, level, m["truth"], m["calls"], f"<span class='toofew'>{esc(m['too_few'])}</span>",
                             "", ""])
            else:
                rows.append([name, level, m["truth"], m["calls"], esc(_pr(m["precision"])), esc(_pr(m["recall"])),
                             fmt(m["f1"])])
    body = (f"<p>Calls <code>{esc(result['calls'])}</code> against truth <code>{esc(result['truth'])}</code>"
            f"{' inside ' + esc(result['confident']) if result.get('confident') else ''}: TP {result['tp']}, "
            f"FP {result['fp']}, FN {result['fn']}.</p>"
            + table(["stratification", "level", "truth", "calls", "precision [95% CI]", "recall [95% CI]", "F1"],
                    rows, raw=True)
            + img(strata_png(result["strata"], "Call set by stratum"), "precision and recall by stratum",
                  "Precision (blue) and recall (red) per coverage and GC stratum, 95% Wilson intervals.")
            + "<h2>Provenance</h2>" + provenance_html([], result.get("provenance")))
    return page("raygen assess: call set by stratum", body, banner=False)


def _pr(v: dict) -> str:
    return "n/a" if v["value"] is None else f"{v['value']:.3f} [{v['ci_low']:.3f}, {v['ci_high']:.3f}]"
