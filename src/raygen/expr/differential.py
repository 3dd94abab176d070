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

    @property
    def match(self) -> bool:
        """The same records kept (duplicates of one CHROM/POS/REF/ALT count as one key), or both refuse."""
        if self.oracle_crashed:
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
        yield ExprCase(seed, expr, exclude, _raygen_kept(expr, exclude, hdr, lines, work),
                       _bcftools_kept(expr, exclude, vcf, lines, oracle, work / f"expr{seed}.{k}.vcf"),
                       [(c[0], c[1], c[3], c[4]) for c in lines])


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
    # view reprints records (htslib's spelling): they are told apart by CHROM, POS, REF, ALT and their order
    keys = [(c[0], c[1], c[3], c[4]) for c in lines]
    out_keys = [tuple(f.split("\t")[i] for i in (0, 1, 3, 4)) for f in _records(out)]
    got, j = [], 0
    for key in out_keys:
        while j < len(keys) and keys[j] != key:
            j += 1
        if j == len(keys):
            return f"unmatched output record {key}"
        got.append(j)
        j += 1
    return got
