"""Differential harness: raygen's expression engine against ``bcftools view -i/-e`` (pysam's bcftools 1.24).

A case is a generated VCF (:func:`raygen.simulate.vcfgen.generate_vcf`) and a generated expression
(:func:`raygen.simulate.exprgen.generate_expr`); both tools list the records they keep (or both refuse the
expression). Used by ``tests/expr/test_differential.py`` and ``benchmarks/normalize_differential.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from raygen.errors import RaygenError
from raygen.expr import Expression
from raygen.io.vcf import read_header
from raygen.normalize.bcfrec import parse
from raygen.normalize.differential import BcftoolsOracle, _records
from raygen.simulate.exprgen import generate_expr
from raygen.simulate.vcfgen import GeneratedVcf, generate_vcf


@dataclass
class ExprCase:
    seed: int
    expr: str
    exclude: bool
    raygen: list[int] | str  # kept record indices, or the error text
    bcftools: list[int] | str

    @property
    def oracle_crashed(self) -> bool:
        return isinstance(self.bcftools, str) and self.bcftools.startswith("bcftools crashed")

    keys: list[tuple] | None = None  # (CHROM, POS, REF, ALT) per input record
    oracle_unstable: bool = False  # bcftools kept other records when the same case ran again (see below)

    @property
    def match(self) -> bool:
        """The same records kept (duplicates of one CHROM/POS/REF/ALT count as one key), or both refuse."""
        if self.oracle_crashed or self.oracle_unstable:
            return True
        if isinstance(self.bcftools, str) or isinstance(self.raygen, str):
            return isinstance(self.bcftools, str) and isinstance(self.raygen, str)
        if self.keys is None:
            return self.raygen == self.bcftools
        return [self.keys[i] for i in self.raygen] == [self.keys[i] for i in self.bcftools]

    def describe(self) -> str:
        flag = "-e" if self.exclude else "-i"
        return (f"seed={self.seed} {flag} {self.expr!r}\n  raygen:   {self.raygen}\n  bcftools: {self.bcftools}")


def run_expr_cases(seed: int, n_exprs: int, oracle: BcftoolsOracle, work: Path, profile: str = "clean",
                   gen: GeneratedVcf | None = None):
    """Yield an :class:`ExprCase` per generated expression on the seed's generated VCF."""
    gen = gen or generate_vcf(seed, profile)
    vcf, _ = gen.write(work, stem=f"expr{seed}")
    hdr = read_header(str(vcf))
    lines = [r.split("\t") for r in gen.records]
    rng = random.Random(f"exprgen:{seed}")
    for k in range(n_exprs):
        expr = generate_expr(rng, hdr)
        exclude = rng.random() < 0.3
        case = ExprCase(seed, expr, exclude, _raygen_kept(expr, exclude, hdr, lines, work),
                        _bcftools_kept(expr, exclude, vcf, lines, oracle, work / f"expr{seed}.{k}.vcf"),
                        [(c[0], c[1], c[3], c[4]) for c in lines])
        if not case.match and not isinstance(case.bcftools, str):
            case.oracle_unstable = _bcftools_unstable(case, vcf, lines, work / f"again{k}")
        yield case


def _bcftools_unstable(case: ExprCase, vcf: Path, lines, work: Path, tries: int = 3) -> bool:
    """Whether bcftools keeps other records when the same expression runs again on the same file, each
    time in a fresh process from a path of another length. Seen with vector arithmetic on FORMAT values
    of the wrong length (``FORMAT/PL[4:*]/GL[0,1:0]<=10`` where PL has 3 of 6 values and GL is absent:
    bcftools reads past the values it has, so its answer follows the heap's layout); such a case has
    no defined answer to compare with and is counted apart (``bcf-unstable``), never as a match."""
    for t in range(tries):
        d = work / ("u" * (t * 7 + 1))
        d.mkdir(parents=True, exist_ok=True)
        copy = d / vcf.name
        copy.write_bytes(vcf.read_bytes())
        fresh = BcftoolsOracle()
        try:
            again = _bcftools_kept(case.expr, case.exclude, copy, lines, fresh, d / "out.vcf")
        finally:
            fresh.close()
        if again != case.bcftools:
            return True
    return False


def _raygen_kept(expr: str, exclude: bool, hdr, lines: list[list[str]], work: Path) -> list[int] | str:
    try:
        e = Expression(expr, hdr, exclude=exclude, base_dir=work)
        slots = e.slots([(c[0], c[1]) for c in lines])
        slots += [None] * (len(lines) - len(slots))
        return [i for i, cols in enumerate(lines) if e.passes(parse(cols, hdr), slots[i])]
    except RaygenError as exc:
        return f"error: {exc}"


def _bcftools_kept(expr: str, exclude: bool, vcf: Path, lines, oracle: BcftoolsOracle, out: Path) -> list[int] | str:
    ok, err = oracle.norm(["--no-version", "-o", str(out), "-e" if exclude else "-i", expr, str(vcf)], cmd="view")
    if not ok:
        return err or "error"
    # view reprints records (htslib's spelling): they are told apart by CHROM, POS, ID, REF, ALT, the FORMAT
    # keys (htslib keeps their order) and their order; generated files repeat sites with other FORMAT fields
    keys = [_view_key(c) for c in lines]
    out_keys = [_view_key(f.split("\t")) for f in _records(out)]
    got, j = [], 0
    for key in out_keys:
        while j < len(keys) and keys[j] != key:
            j += 1
        if j == len(keys):
            return f"unmatched output record {key}"
        got.append(j)
        j += 1
    return got


def _view_key(cols: list[str]) -> tuple[str, ...]:
    """What ``bcftools view`` reprints unchanged of a record: CHROM, POS, ID, REF, ALT and FORMAT."""
    return (*cols[0:5], cols[8] if len(cols) > 8 else "")
