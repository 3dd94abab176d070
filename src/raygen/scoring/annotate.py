"""Scores into VCF text tables: INFO ``RAYGEN_LLR`` / ``RAYGEN_SKIP`` and their header lines.

- ``RAYGEN_LLR`` (Number=A, Float): one score per ALT, natural log, 4 decimals; ``.`` where not scored.
- ``RAYGEN_SKIP`` (Number=., String): present only when an ALT was not scored; one entry per ALT (``.`` for
  scored ALTs, else the reason), or the single reason ``no_alt`` for a record without ALT.
- ``RAYGEN_PROB`` (Number=A, Float): calibrated P(effect) from a fine-tuned head, only when one is loaded.

Existing RAYGEN_* entries are replaced (re-scoring a scored file does not duplicate them); every other
INFO entry, and every other column, is kept byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raygen.provenance import display_name
from raygen.variant import Variant

LLR_DECIMALS = 4
INFO_LINES = {
    "RAYGEN_LLR": ("A", "Float", "Zero-shot DNA language-model score of each ALT vs REF (natural log; see ##raygen_score)"),
    "RAYGEN_SKIP": (".", "String", "Why an ALT has no RAYGEN_LLR, one entry per ALT ('.' = scored): "
                    "unknown_contig, no_alt, symbolic_allele, breakend, non_acgtn, n_allele, ref_mismatch, "
                    "no_change, too_long, allele_not_in_vocab"),
    "RAYGEN_PROB": ("A", "Float", "Calibrated probability of a functional effect from raygen's fine-tuned head (SNVs)"),
}
#: INFO keys a scoring run replaces (re-scoring a scored file does not duplicate them).
REPLACED = ("RAYGEN_LLR", "RAYGEN_SKIP", "RAYGEN_PROB")


def add_header_lines(header, info: dict) -> None:
    """Add the INFO lines and a ``##raygen_score=<...>`` meta line describing ``info`` (Scorer.info)."""
    for key, (number, type_, desc) in INFO_LINES.items():
        if key != "RAYGEN_PROB" or info.get("head"):
            header.add_info(key, number, type_, desc)
    fields = {
        "model": display_name(info["model"]), "revision": info.get("revision") or "none", "kind": info["kind"],
        "tokenizer": info["scheme"] + (f"{info['k']}" if info.get("k") else ""), "window": info["window"],
        "reverse_complement": "yes" if info.get("reverse_complement") else "no",
        "definition": info["definition"],
    }
    body = ",".join(f'{k}="{v}"' if k == "definition" else f"{k}={str(v).replace(',', ';')}" for k, v in fields.items())
    header.add_meta(f"##raygen_score=<{body}>")


def _fmt(x: float | None) -> str:
    return "." if x is None else f"{x:.{LLR_DECIMALS}f}"


def split_alts(table: pa.Table) -> tuple[list[Variant], list[int]]:
    """One Variant per ALT allele of each record (ALT ``.`` gives one Variant with alt ``.``) and its row."""
    alts = pc.split_pattern(pc.fill_null(table["ALT"], "."), ",")
    flat = pc.list_flatten(alts).to_pylist()
    parent = pc.list_parent_indices(alts).to_numpy()
    chrom = table["CHROM"].to_pylist()
    pos = table["POS"].to_pylist()
    ref = table["REF"].to_pylist()
    rows = parent.tolist()
    return [Variant(chrom[r], pos[r], ref[r], a) for r, a in zip(rows, flat)], rows


def skip_item(results: Sequence) -> list[str]:
    """``["RAYGEN_SKIP=a,.,b"]`` (one entry per ALT, '.' = scored) when an ALT of the record was skipped."""
    reasons = [r.skip_reason or "." for r in results]
    return ["RAYGEN_SKIP=" + ",".join(reasons)] if any(x != "." for x in reasons) else []


def _lm_items(results: Sequence) -> list[str]:
    out = ["RAYGEN_LLR=" + ",".join(_fmt(r.llr) for r in results)] + skip_item(results)
    if any(r.prob is not None for r in results):
        out.append("RAYGEN_PROB=" + ",".join(_fmt(r.prob) for r in results))
    return out


def annotate_info(table: pa.Table, score_fn: Callable[[Sequence[Variant]], list],
                  items: Callable[[list], list[str]], ours: Sequence[str] = ()) -> pa.Table:
    """Score every ALT of ``table`` (a VCF text table) with ``score_fn`` and rewrite INFO; rows unchanged.

    ``items(results of one record's ALTs)`` gives the INFO items to append. Existing :data:`REPLACED` items
    and the keys in ``ours`` are dropped first; every other INFO item is kept byte for byte. A record without
    ALT gets only ``RAYGEN_SKIP=no_alt``. Rows of a Ray Data block that carry a ``REJECT_REASON``
    (malformed input travelling in-band, see :mod:`raygen.io.datasource`) pass through untouched.
    """
    if table.num_rows == 0:
        return table
    if "REJECT_REASON" in table.column_names:
        rec_rows = np.flatnonzero(pc.is_null(table["REJECT_REASON"]).to_numpy(zero_copy_only=False))
    else:
        rec_rows = np.arange(table.num_rows)
    recs = table.take(pa.array(rec_rows, pa.int64()))
    variants, rows = split_alts(recs)
    per_record: list[list] = [[] for _ in range(recs.num_rows)]
    for r, res in zip(rows, score_fn(variants)):
        per_record[r].append(res)
    drop = re.compile(r"^(" + "|".join(re.escape(k) for k in (*REPLACED, *ours)) + r")(=|$)")
    info = table["INFO"].to_pylist()
    alt = recs["ALT"].to_pylist()
    for r, row in enumerate(rec_rows.tolist()):
        kept = [f for f in (info[row] or ".").split(";") if f and f != "." and not drop.match(f)]
        kept += ["RAYGEN_SKIP=no_alt"] if alt[r] in (None, ".") else items(per_record[r])
        info[row] = ";".join(kept) if kept else "."
    i = table.column_names.index("INFO")
    return table.set_column(i, table.schema.field(i), pa.array(info, pa.string()))


def annotate_table(table: pa.Table, score_fn: Callable[[Sequence[Variant]], list]) -> pa.Table:
    """Language-model scores into INFO (``RAYGEN_LLR``, ``RAYGEN_SKIP``, ``RAYGEN_PROB``): see
    :func:`annotate_info`."""
    return annotate_info(table, score_fn, _lm_items)


def count_outcomes(table: pa.Table) -> dict[str, int]:
    """Counts over an annotated table: records, alleles scored/skipped, and skips per reason.

    Works for every scorer: an ALT is skipped when its ``RAYGEN_SKIP`` entry is a reason, scored otherwise
    (a record without ALT counts one skipped allele, ``no_alt``).
    """
    counts: dict[str, int] = {"records": table.num_rows, "alleles_scored": 0, "alleles_skipped": 0,
                              "records_scored": 0, "records_skipped": 0}
    for info, alt in zip(table["INFO"].to_pylist(), table["ALT"].to_pylist()):
        fields = dict(f.split("=", 1) for f in (info or "").split(";") if "=" in f)
        skips = [x for x in fields.get("RAYGEN_SKIP", "").split(",") if x and x != "."]
        n_scored = max(len((alt or ".").split(",")) - len(skips), 0)
        counts["alleles_scored"] += n_scored
        counts["alleles_skipped"] += len(skips)
        counts["records_scored" if n_scored else "records_skipped"] += 1
        for s in skips:
            counts[f"skip:{s}"] = counts.get(f"skip:{s}", 0) + 1
    return counts
