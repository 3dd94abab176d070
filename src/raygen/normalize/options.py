"""Parsed ``bcftools norm`` options and the run's counters (plain data shared by every stage)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from raygen.errors import UsageError

MROWS_TYPES = ("snps", "indels", "both", "any")
RMDUP_TYPES = ("snps", "indels", "both", "all", "any", "exact", "none")


@dataclass(frozen=True)
class NormalizeOptions:
    """Flags of ``bcftools norm`` with the same meaning (see ``raygen normalize --help``).

    ``multiallelics`` is ``None`` or ``(op, type)`` with op ``-`` (split) or ``+`` (join). ``max_indel_len``
    is ``-N NUM`` (skip realignment of events longer than NUM bp); ``realign=False`` is a bare ``-N``.
    """

    fasta: str | None = None
    check_ref: str = "e"  # letters among e, w, x, s
    multiallelics: tuple[str, str] | None = None
    rm_dup: str | None = None
    atomize: bool = False
    atom_overlaps: str = "*"
    old_rec_tag: str | None = None
    keep_sum: tuple[str, ...] = ()
    multi_overlaps: str = "0"
    realign: bool = True
    max_indel_len: int | None = None
    sort: str = "chr_pos"
    force: bool = False
    strict_filter: bool = False
    gff: str | None = None  # -g FILE: right-align in forward-strand transcripts
    include: str | None = None  # -i EXPR: normalize only records for which EXPR holds
    exclude: str | None = None  # -e EXPR: normalize only records for which EXPR does not hold

    @property
    def realign_below(self) -> int:
        """bcftools realigns (and checks REF of) records whose reference span is below this (-N: 0)."""
        if not self.realign:
            return 0
        return self.max_indel_len if self.max_indel_len is not None else (1 << 32) - 1

    @property
    def split(self) -> str | None:
        return self.multiallelics[1] if self.multiallelics and self.multiallelics[0] == "-" else None

    @property
    def join(self) -> str | None:
        return self.multiallelics[1] if self.multiallelics and self.multiallelics[0] == "+" else None

    def validate(self) -> "NormalizeOptions":
        if set(self.check_ref) - set("ewxs") or not self.check_ref:
            raise UsageError(f"-c/--check-ref takes e, w, x or s (or a combination such as ws), not {self.check_ref!r}")
        if self.rm_dup is not None and self.rm_dup not in RMDUP_TYPES:
            raise UsageError(f"-d/--rm-dup takes one of {', '.join(RMDUP_TYPES)}, not {self.rm_dup!r}")
        if self.atom_overlaps not in ("*", "."):
            raise UsageError(f"--atom-overlaps takes '*' or '.', not {self.atom_overlaps!r}")
        if self.multi_overlaps not in ("0", "."):
            raise UsageError(f"--multi-overlaps takes 0 or '.', not {self.multi_overlaps!r}")
        if self.include is not None and self.exclude is not None:
            raise UsageError("only one -i or -e expression can be given, and they cannot be combined")
        if self.keep_sum and [k.upper() for k in self.keep_sum] != ["AD"]:
            raise UsageError("--keep-sum takes AD only (as bcftools 1.24: only --keep-sum AD is supported)")
        if self.sort not in ("chr_pos", "pos", "lex"):
            raise UsageError(f"-S/--sort takes pos (chr_pos) or lex, not {self.sort!r}")
        return self


def parse_multiallelics(text: str) -> tuple[str, str]:
    """``-m`` argument (``-``, ``+``, ``-any``, ``+both``, ...) -> ``(op, type)``; bcftools' default type is both."""
    if not text or text[0] not in "+-":
        raise UsageError(f"-m/--multiallelics takes -|+[snps|indels|both|any], not {text!r}")
    kind = text[1:] or "both"
    if kind not in MROWS_TYPES:
        raise UsageError(f"-m/--multiallelics type must be one of {', '.join(MROWS_TYPES)}, not {kind!r}")
    return text[0], kind


@dataclass
class Counts:
    """What happened to the records; ``total == written + removed + rejected`` once split/join are netted out."""

    total: int = 0  # input records
    split: int = 0  # multi-allelic input records that were split
    joined: int = 0  # output records made by joining
    realigned: int = 0  # records whose position or alleles changed by realignment
    mismatch_removed: int = 0  # excluded by -c x (also listed in the rejects file)
    dup_removed: int = 0  # removed by -d
    skipped: int = 0  # records bcftools leaves alone (symbolic, '*', ...)
    rejected: int = 0  # malformed / unprocessable input records, in the rejects file
    ref_set: int = 0  # -c s: REF set from the reference
    ref_swapped: int = 0  # -c s: REF and ALT swapped
    written: int = 0  # output records
    extra: dict = field(default_factory=dict)

    def add(self, other: "Counts") -> None:
        for f in fields(self):
            if f.name != "extra":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}

    def summary_line(self) -> str:
        return ("Lines   total/split/joined/realigned/mismatch_removed/dup_removed/skipped/rejected:\t"
                f"{self.total}/{self.split}/{self.joined}/{self.realigned}/{self.mismatch_removed}/"
                f"{self.dup_removed}/{self.skipped}/{self.rejected}")
