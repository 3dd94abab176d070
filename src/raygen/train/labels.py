"""Labelled variants for fine-tuning: read ``chrom pos ref alt label [score]`` and check them.

Positions are 1-based (VCF-style). Rows with missing or malformed columns raise :class:`InputError`
naming file, line and reason. SNVs whose REF disagrees with the reference raise too, unless
``skip_mismatches`` is set: then they are skipped, counted and returned as rejects with their reason.
Non-SNV rows (indels, MNVs) are always skipped and counted: the head scores SNVs only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from raygen.errors import InputError

BASES = "ACGT"
_LABEL_WORDS = {"1": 1, "0": 0, "true": 1, "false": 0, "1.0": 1, "0.0": 0}


@dataclass
class LabelTable:
    """Accepted SNVs as parallel arrays (pos is 1-based) and the rows that were skipped."""

    chrom: np.ndarray
    pos: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    label: np.ndarray  # int 0/1
    score: np.ndarray | None  # float, when the table has a score column
    lines: np.ndarray  # 1-based line numbers in the input file
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, raw text)

    def __len__(self) -> int:
        return len(self.pos)


def read_labels(path: str, reference, *, skip_mismatches: bool = False) -> LabelTable:
    """Parse and check a labels TSV against ``reference`` (a :class:`raygen.io.fasta.Reference`).

    A first line starting with ``chrom`` or ``#`` is a header. Columns: chrom, pos (1-based), ref, alt,
    label (0/1, true/false), optional score (float; rows with an empty score are kept, score NaN).
    """
    rows: list[tuple] = []
    rejects: list[tuple[int, str, str]] = []
    has_score = None
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read labels {path!r}: {exc.strerror or exc}") from None
    with fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith("#") or (lineno == 1 and line.lower().startswith("chrom")):
                continue
            row, row_has_score = _parse_row(line, f"{path}:{lineno}")
            if has_score is None:
                has_score = row_has_score  # the first data row decides whether the table has scores
            why = _reject_reason(row, reference, f"{path}:{lineno}", skip_mismatches)
            if why:
                rejects.append((lineno, why, line))
            else:
                rows.append((*row, lineno))
    if not rows:
        raise InputError(f"labels {path!r} has no usable SNV rows ({len(rejects)} skipped)")
    cols_ = list(zip(*rows))
    return LabelTable(
        chrom=np.array(cols_[0], dtype=object), pos=np.array(cols_[1], dtype=np.int64),
        ref=np.array(cols_[2], dtype=object), alt=np.array(cols_[3], dtype=object),
        label=np.array(cols_[4], dtype=np.int64),
        score=np.array(cols_[5], dtype=np.float64) if has_score else None,
        lines=np.array(cols_[6], dtype=np.int64), rejects=rejects,
    )


def _parse_row(line: str, where: str) -> tuple[tuple, bool]:
    """((chrom, pos, REF, ALT upper-cased, label 0/1, score or NaN), whether the row has a score column).

    Raises InputError naming ``where`` (file:line) for missing or malformed columns.
    """
    cols = line.split("\t")
    if len(cols) < 5 or any(not c.strip() for c in cols[:5]):
        raise InputError(f"{where}: expected tab-separated chrom, pos, ref, alt, label [score]; got {len(cols)} "
                         f"column(s) or an empty one: {line[:80]!r}")
    chrom, pos_s, ref, alt, lab = (c.strip() for c in cols[:5])
    try:
        pos = int(pos_s)
    except ValueError:
        raise InputError(f"{where}: pos {pos_s!r} is not an integer") from None
    if pos < 1:
        raise InputError(f"{where}: pos {pos} is not 1-based (must be >= 1)")
    if lab.lower() not in _LABEL_WORDS:
        raise InputError(f"{where}: label {lab!r} is not 0/1 (or true/false)")
    score = math.nan
    if len(cols) > 5 and cols[5].strip():
        try:
            score = float(cols[5])
        except ValueError:
            raise InputError(f"{where}: score {cols[5]!r} is not a number") from None
    return (chrom, pos, ref.upper(), alt.upper(), _LABEL_WORDS[lab.lower()], score), len(cols) > 5


def _reject_reason(row: tuple, reference, where: str, skip_mismatches: bool) -> str | None:
    """Why a parsed row is skipped (``not_snv``, ``unknown_contig``, ``ref_mismatch``), or None to keep it.

    Without ``skip_mismatches`` an unknown contig or a REF that disagrees with the reference raises InputError.
    """
    chrom, pos, ref, alt = row[:4]
    if len(ref) != 1 or len(alt) != 1 or ref not in BASES or alt not in BASES or ref == alt:
        return "not_snv"
    if chrom not in reference:
        if not skip_mismatches:
            raise InputError(f"{where}: contig {chrom!r} is not in the reference {reference.path!r}")
        return "unknown_contig"
    actual = reference.fetch(chrom, pos - 1, pos)
    if actual != ref:
        if not skip_mismatches:
            raise InputError(f"{where}: REF {ref} disagrees with the reference base {actual} at {chrom}:{pos} "
                             "(wrong genome build or coordinates?); pass --skip-mismatches to skip such rows")
        return "ref_mismatch"
    return None


def region_split(table: LabelTable, region_bp: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx): whole genomic regions (``chrom``, ``pos // region_bp``) go to one side.

    A seeded ``val_fraction`` of regions is held out, so no validation variant shares a region with a
    training variant. Raises InputError when there are too few regions to split.
    """
    keys = np.array([f"{c}:{p // region_bp}" for c, p in zip(table.chrom, table.pos)])
    regions, inverse = np.unique(keys, return_inverse=True)
    if len(regions) < 2:
        raise InputError(f"all labelled variants fall in one {region_bp:,}-bp region: cannot split train/validation "
                         "by region; lower --region-bp")
    rng = np.random.default_rng(seed)
    n_val = min(len(regions) - 1, max(1, int(round(val_fraction * len(regions)))))
    val_regions = rng.choice(len(regions), size=n_val, replace=False)
    is_val = np.isin(inverse, val_regions)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)
