"""``raygen assess`` on files: read scores and labels, build the slices, assess every score (pure, no Ray).

Slices come from the scored file and, where given, the reference (GC, repeats), a BED of exons (distance to
the nearest splice site), an allele-frequency field and a consequence field (annotations, e.g. from
``raygen annotate``). A slice whose inputs are missing is left out and the report says which input it needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from raygen.config import DEFAULTS, AssessConfig
from raygen.errors import InputError, UsageError
from raygen.eval.assess import (
    ScoreSpec,
    assess_score,
    check_disjoint,
    describe_missing,
    labelled_values,
    match_labels,
)
from raygen.eval.scored import read_alleles
from raygen.eval.slices import (
    af_bins,
    consequence_field_index,
    consequences,
    gc_bins,
    repeat_labels,
    splice_distance_bins,
    splice_sites,
    variant_class,
)
from raygen.io.fasta import Reference
from raygen.provenance import Provenance, file_sha256, header_history
from raygen.train.labels import read_labels


def score_models(header) -> list[str]:
    """Model names of the ``##raygen_score`` lines of a scored file (the models behind its scores)."""
    out = []
    for line in header.meta:
        if line.startswith("##raygen_score=<"):
            body = line[len("##raygen_score=<"):-1]
            for part in body.split(","):
                if part.startswith("model="):
                    out.append(part[len("model="):])
    return out


def default_scores(header) -> list[ScoreSpec]:
    """The scores a file carries, in the order reports show them."""
    keys = [k for k in ("RAYGEN_PROB", "RAYGEN_LLR", "SpliceAI") if k in header.info]
    if not keys:
        raise UsageError("the scored file has none of RAYGEN_PROB, RAYGEN_LLR, SpliceAI in its INFO header; "
                         "name the score with --score KEY[:pos|neg|abs|prob]")
    return [ScoreSpec.parse(k) for k in keys]


def build_slices(alleles, idx: np.ndarray, reference: Reference | None, *, exons: str | None,
                 af_field: str | None, consequence_field: str | None, header, cfg: AssessConfig
                 ) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(slice name -> label per matched allele, slice name -> why it is absent)."""
    take = lambda col: [alleles[col][int(i)].as_py() for i in idx]  # noqa: E731 - small selections
    chrom, pos, ref, alt = take("chrom"), take("pos"), take("ref"), take("alt")
    slices = {"variant class": [variant_class(r, a) for r, a in zip(ref, alt)]}
    absent = {}
    if reference is not None:
        slices["GC of the window"] = gc_bins(reference, chrom, pos, ref, cfg.gc_window)
        slices["repeats"] = repeat_labels(reference, chrom, pos)
    else:
        absent["GC of the window"] = absent["repeats"] = "needs the reference (-f)"
    if exons:
        slices["distance to splice site"] = splice_distance_bins(splice_sites(exons), chrom, pos)
    else:
        absent["distance to splice site"] = "needs a BED of exons (--exons)"
    if af_field:
        slices["allele frequency"] = af_bins(np.array([np.nan if v is None else v for v in take(af_field)], float))
    else:
        absent["allele frequency"] = "needs an allele-frequency annotation (--af-field, e.g. gnomad_AF)"
    if consequence_field:
        index = consequence_field_index(header.info.get(consequence_field, {}).get("Description", ""))
        slices["consequence"] = consequences(take(consequence_field), alt, index)
    else:
        absent["consequence"] = "needs a consequence annotation (--consequence-field, e.g. CSQ or ANN)"
    return slices, absent


def _read_labels(path: str) -> object:
    if not Path(path).exists():
        raise InputError(f"labels {path!r} do not exist")
    return read_labels(path, None)


def run_assess(scored: str, labels: str, *, calibration_labels: str | None = None, reference: str | None = None,
               scores: list[str] | None = None, exons: str | None = None, af_field: str | None = None,
               consequence_field: str | None = None, cfg: AssessConfig = DEFAULTS.assess) -> dict:
    """The whole assessment as a JSON-ready dict (see :mod:`raygen.eval.assess`)."""
    from raygen.eval.scored import open_header

    header = open_header(scored)
    specs = [ScoreSpec.parse(s) for s in scores] if scores else default_scores(header)
    missing_keys = [s.key for s in specs if s.key not in header.info]
    if missing_keys:
        raise UsageError(f"{scored}: no INFO {', '.join(missing_keys)} in its header (it has: "
                         f"{', '.join(header.info) or 'none'})")
    extra = [k for k in (af_field, consequence_field) if k]
    for k in extra:
        if k not in header.info:
            raise UsageError(f"{scored}: no INFO {k} in its header (annotate it first: raygen annotate)")
    header, alleles = read_alleles(scored, [s.key for s in specs] + extra)
    ref = Reference(reference) if reference else None
    try:
        lab = _read_labels(labels)
        matched = match_labels(alleles, lab, ref)
        if len(matched["y"]) == 0:
            raise InputError(f"none of the {len(lab)} labelled variants of {labels} is in {scored} "
                             f"(first missing: {', '.join(matched['missing'][:3])}); same build and contigs?")
        calib = None
        if calibration_labels:
            clab = _read_labels(calibration_labels)
            cmatched = match_labels(alleles, clab, ref)
            check_disjoint(matched["keys"], cmatched["keys"], labels, calibration_labels)
            calib = (cmatched, f"{Path(calibration_labels).name} (sha256 {file_sha256(calibration_labels)[:16]}, "
                               f"{len(cmatched['y'])} labelled variants)")
        slices, absent = build_slices(alleles, matched["index"], ref, exons=exons, af_field=af_field,
                                      consequence_field=consequence_field, header=header, cfg=cfg)
    finally:
        if ref is not None:
            ref.close()
    values = labelled_values(alleles, matched, [s.key for s in specs])
    cvalues = labelled_values(alleles, calib[0], [s.key for s in specs]) if calib else None
    results = []
    for spec in specs:
        c = (cvalues[spec.key], calib[0]["y"], calib[1]) if calib else None
        results.append(assess_score(spec, values[spec.key], matched["y"], slices, c, cfg))
    return {
        "scored": scored, "labels": labels, "calibration_labels": calibration_labels,
        "models": score_models(header),
        "counts": {"labels": len(lab), "labels_skipped": len(lab.rejects), "matched": int(len(matched["y"])),
                   "positives": int(matched["y"].sum()), "duplicates": matched["duplicates"],
                   "conflicting_duplicates": matched["conflicting_duplicates"],
                   "calibration_matched": int(len(calib[0]["y"])) if calib else 0},
        "missing_labels": describe_missing(matched["missing"]),
        "absent_slices": absent,
        "settings": {"bootstrap": cfg.bootstrap, "ci_level": cfg.ci_level, "calibration_bins": cfg.calibration_bins,
                     "min_slice_variants": cfg.min_slice_variants, "min_slice_class": cfg.min_slice_class,
                     "gc_window": cfg.gc_window, "seed": cfg.seed},
        "scores": results,
        "history": header_history(header),
        "provenance": Provenance.for_run(reference=reference).as_dict(),
    }
