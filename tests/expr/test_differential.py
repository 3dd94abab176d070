"""raygen.expr against ``bcftools view -i/-e`` (pysam's bcftools 1.24) on generated VCFs and generated
expressions (:mod:`raygen.simulate.vcfgen`, :mod:`raygen.simulate.exprgen`).

Each seed is one generated file (profiles clean, dense, gvcf in turn) and ``EXPRS`` expressions drawn over
its header; ``RAYGEN_DIFF_EXPR_SEEDS=N`` runs N seeds (default 24; the long campaign is
``benchmarks/normalize_differential.py``). A failure names the seed and the expression; it reproduces with::

    from raygen.expr.differential import run_expr_cases
    from raygen.normalize.differential import BcftoolsOracle
    for c in run_expr_cases(SEED, 20, BcftoolsOracle(), WORKDIR, profile=PROFILE): print(c.describe())
"""

from __future__ import annotations

import os

import pytest

from raygen.expr.differential import run_expr_cases
from raygen.normalize.differential import BcftoolsOracle

SEEDS = int(os.environ.get("RAYGEN_DIFF_EXPR_SEEDS", "24"))
EXPRS = 20
PROFILES = ("clean", "dense", "gvcf")


@pytest.fixture(scope="module")
def oracle():
    o = BcftoolsOracle()
    yield o
    o.close()


@pytest.mark.parametrize("seed", range(SEEDS))
def test_generated_expressions_keep_the_records_bcftools_keeps(seed, oracle, tmp_path):
    profile = PROFILES[seed % len(PROFILES)]
    bad = [f"profile={profile} " + c.describe()
           for c in run_expr_cases(seed, EXPRS, oracle, tmp_path, profile=profile) if not c.match]
    assert not bad, "\n".join(bad)


def test_the_generated_cases_are_not_vacuous(oracle, tmp_path):
    """Most generated expressions compile and keep some records but not all (a generator whose expressions
    both tools refuse, or that keep everything or nothing, would compare nothing)."""
    cases = refused = split = 0
    for seed in range(3):
        for c in run_expr_cases(seed, EXPRS, oracle, tmp_path, profile=PROFILES[seed]):
            cases += 1
            refused += isinstance(c.bcftools, str)
            split += isinstance(c.bcftools, list) and 0 < len(c.bcftools) < len(c.keys)
    assert refused < 0.25 * cases and split > 0.4 * cases, (cases, refused, split)


def test_a_real_mismatch_is_not_called_unstable(oracle, tmp_path):
    """The rerun that sets bcftools' undefined answers apart (``oracle_unstable``) keeps a wrong raygen
    answer a mismatch when bcftools answers the same each time."""
    case = next(c for c in run_expr_cases(0, 5, oracle, tmp_path, profile="clean") if isinstance(c.bcftools, list))
    assert isinstance(case.bcftools, list) and case.match and not case.oracle_unstable
    from raygen.expr.differential import _bcftools_unstable

    case.raygen = [i for i in range(len(case.keys)) if i not in case.bcftools]  # what a broken engine keeps
    assert not case.match
    vcf = tmp_path / "expr0.vcf"
    lines = [r.split("\t") for r in vcf.read_text().splitlines() if not r.startswith("#")]
    assert not _bcftools_unstable(case, vcf, lines, tmp_path / "again", tries=2)
