"""SpliceAI delta scores exactly as Illumina's ``spliceai`` 1.3.1 defines them (pure: numpy, no torch).

For a VCF record (1-based ``pos``), distance ``D`` (``--distance``, default 50), ``cov = 2D + 1`` and the
window ``wid = 10000 + cov``:

1. Skips, in the release's order (the record gets no ``SpliceAI`` entry): no ALT (``no_alt``); contig not
   in the FASTA (``unknown_contig``); no transcript of the gene table contains ``pos`` (``no_gene``); REF
   differs from the FASTA at ``pos`` (``ref_mismatch``: compared as written, against the upper-cased
   FASTA); the window ``[pos - wid//2, pos + wid//2]`` leaves the contig (``near_contig_end``); ``len(REF)
   > 2D`` (``ref_too_long``). Then per ALT: an ALT holding ``. - * < >`` gets no entry
   (``symbolic_allele``); REF and ALT both longer than 1 base get the release's dotted entry
   ``ALT|GENE|.|.|.|.|.|.|.|.`` (``complex``). Two deliberate departures, where the release scores a
   meaningless encoding: breakend ALTs (``[``/``]``: ``breakend``) and ALT letters other than ACGTN
   (``non_acgtn``) are skipped without an entry.
2. For each ALT and each gene (table order): ``x_ref`` = the window with every base outside the transcript
   replaced by N; ``x_alt = x_ref[:wid//2] + ALT + x_ref[wid//2 + len(REF):]``; minus-strand genes are
   scored on the reverse complement and the outputs flipped back. ``y_ref``, ``y_alt`` = the mean of the
   five networks' softmax outputs (float32, summed in model order then divided by 5).
3. Deletions (``len(ALT) == 1``): ``len(REF) - 1`` rows of zeros are inserted into ``y_alt`` after row
   ``cov//2 + 1``; insertions (``len(REF) == 1``): rows ``cov//2 .. cov//2 + len(ALT) - 1`` of ``y_alt``
   become their maximum. Both tracks then have ``cov`` rows, row ``i`` = position ``pos - D + i``.
4. ``DS_AG = max(alt - ref)`` of the acceptor column, ``DS_AL = max(ref - alt)``, ``DS_DG``/``DS_DL`` the
   same for donors; ``DP_*`` = the first row attaining it, minus ``cov//2`` (bases from ``pos``). With
   ``--mask``: a gain at an annotated exon boundary, or a loss anywhere else, is multiplied by 0 (the
   boundary is the exon start or end nearest ``pos``). Values print as ``{:.2f}`` (so ``-0.00`` occurs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raygen.io.typed import SPLICEAI_FIELDS
from raygen.models.spliceai_weights import CONTEXT
from raygen.variant import Variant

INFO_KEY = "SpliceAI"
#: The release's header line, byte for byte (``spliceai/__main__.py``).
INFO_DESCRIPTION = (
    "SpliceAIv1.3.1 variant annotation. These include delta scores (DS) and delta positions (DP) for "
    "acceptor gain (AG), acceptor loss (AL), donor gain (DG), and donor loss (DL). "
    "Format: " + "|".join(name for name, _ in SPLICEAI_FIELDS)
)

SKIP_REASONS: dict[str, str] = {
    "no_alt": "ALT is missing ('.')",
    "unknown_contig": "CHROM is not in the reference FASTA (see --rename-contigs)",
    "no_gene": "no transcript of the gene table contains POS",
    "ref_mismatch": "REF differs from the reference FASTA at POS",
    "near_contig_end": "the scoring window (5,000 + D bases each side) leaves the contig",
    "ref_too_long": "REF is longer than 2 * --distance",
    "symbolic_allele": "ALT holds '.', '-', '*', '<' or '>' (symbolic, spanning deletion, missing)",
    "breakend": "breakend ALT ('[' or ']')",
    "non_acgtn": "ALT has letters other than A, C, G, T, N",
    "complex": "REF and ALT both longer than 1 base: the release's dotted entry, no scores",
}
_SYMBOLIC = set(".-*<>")
_ACGTN = set("ACGTNacgtn")


@dataclass(frozen=True)
class GeneScore:
    """One ALT x gene entry. ``ds`` (AG, AL, DG, DL) unrounded float32 deltas after masking and ``dp``
    (bases from POS), or both None for the dotted (unscored) entry."""

    allele: str
    symbol: str
    ds: tuple[float, float, float, float] | None
    dp: tuple[int, int, int, int] | None

    def text(self) -> str:
        """The release's ``ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL``."""
        if self.ds is None or self.dp is None:
            return f"{self.allele}|{self.symbol}|.|.|.|.|.|.|.|."
        return "{}|{}|{:.2f}|{:.2f}|{:.2f}|{:.2f}|{}|{}|{}|{}".format(self.allele, self.symbol, *self.ds, *self.dp)


@dataclass(frozen=True)
class SpliceResult:
    """The entries of one ALT (one per gene) and why it has none/no scores (``skip_reason``)."""

    scores: tuple[GeneScore, ...]
    skip_reason: str | None

    def as_dict(self) -> dict:
        """JSON-ready: per gene the typed fields (unrounded) plus ``info``, the release's INFO entry text."""
        return {"skip_reason": self.skip_reason,
                "spliceai": [dict(zip([n for n, _ in SPLICEAI_FIELDS], _fields(g)), info=g.text()) for g in self.scores]}


def _fields(g: GeneScore) -> list:
    if g.ds is None or g.dp is None:
        return [g.allele, g.symbol] + [None] * 8
    return [g.allele, g.symbol, *[float(x) for x in g.ds], *g.dp]


def window_bases(distance: int) -> int:
    """``wid`` of the release: 10,000 bases of context plus ``2 D + 1``."""
    return CONTEXT + 2 * distance + 1


def record_skip(v: Variant, reference, genes, distance: int) -> tuple[str | None, list[int]]:
    """(skip reason or None, gene rows) for a record, in the release's order (module docstring, rule 1)."""
    if v.alt in ("", "."):
        return "no_alt", []
    if v.chrom not in reference:
        return "unknown_contig", []
    rows = genes.at(v.chrom, v.pos)
    if not rows:
        return "no_gene", []
    half = window_bases(distance) // 2
    s = v.pos - 1
    if reference.fetch(v.chrom, s, s + len(v.ref)) != v.ref:
        return "ref_mismatch", rows
    if s - half < 0 or s + half + 1 > reference.length(v.chrom):
        return "near_contig_end", rows
    if len(v.ref) > 2 * distance:
        return "ref_too_long", rows
    return None, rows


def allele_skip(ref: str, alt: str) -> str | None:
    """Why an ALT of a scorable record gets no scores (rule 1, per ALT), or None."""
    if _SYMBOLIC & set(alt):
        return "symbolic_allele"
    if "[" in alt or "]" in alt:
        return "breakend"
    if not set(alt) <= _ACGTN:
        return "non_acgtn"
    if len(ref) > 1 and len(alt) > 1:
        return "complex"
    return None


def align_alt(y_alt: np.ndarray, ref_len: int, alt_len: int, cov: int) -> np.ndarray:
    """The release's indel handling (rule 3): ``y_alt`` (n, 3) in genomic orientation -> (cov, 3)."""
    if ref_len > 1 and alt_len == 1:
        zeros = np.zeros((ref_len - alt_len, 3), dtype=y_alt.dtype)
        return np.concatenate([y_alt[:cov // 2 + alt_len], zeros, y_alt[cov // 2 + alt_len:]])
    if ref_len == 1 and alt_len > 1:
        peak = y_alt[cov // 2:cov // 2 + alt_len].max(axis=0)[None, :]
        return np.concatenate([y_alt[:cov // 2], peak, y_alt[cov // 2 + alt_len:]])
    return y_alt


def delta_scores(y_ref: np.ndarray, y_alt: np.ndarray, cov: int, boundary: int,
                 mask: bool) -> tuple[tuple[float, float, float, float], tuple[int, int, int, int]]:
    """(DS_AG, DS_AL, DS_DG, DS_DL), (DP_...) from aligned (cov, 3) float32 tracks (rule 4).

    ``boundary``: nearest exon boundary minus POS. The DS values are the exact float32 deltas (times 0 where
    masked), so printing them with ``{:.2f}`` gives the release's strings.
    """
    gain_a, gain_d = y_alt[:, 1] - y_ref[:, 1], y_alt[:, 2] - y_ref[:, 2]
    loss_a, loss_d = y_ref[:, 1] - y_alt[:, 1], y_ref[:, 2] - y_alt[:, 2]
    ds, dp = [], []
    for track, is_gain in ((gain_a, True), (loss_a, False), (gain_d, True), (loss_d, False)):
        i = int(track.argmax())
        d = i - cov // 2
        masked = mask and ((d == boundary) if is_gain else (d != boundary))
        ds.append(float(track[i]) * (0 if masked else 1))
        dp.append(d)
    return (ds[0], ds[1], ds[2], ds[3]), (dp[0], dp[1], dp[2], dp[3])
