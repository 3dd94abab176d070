"""Fixtures for scoring tests: tiny models of every scheme, a small random reference and a VCF of edge cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysam
import pytest

from raygen.models.tiny import build_tiny_model

#: (scheme, kind) of every tiny model the reference check covers.
COMBOS = [("char", "mlm"), ("kmer", "mlm"), ("bpe", "mlm"), ("bpe", "clm"), ("char", "clm")]
WINDOW = 32
CONTIGS = {"chr1": 1200, "chr2": 800}
N_RUN = ("chr1", 600, 640)  # 0-based half-open run of N


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread in this process while a scoring test runs (restored after).

    On a shared 2-core box torch's 2-thread kernels spin against other processes: a tiny forward pass
    measured 310 ms with 2 threads under load vs 6.5 ms with 1. Ray actors get OMP_NUM_THREADS from
    their CPU share anyway.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[tuple[str, str], Path]:
    root = tmp_path_factory.mktemp("tiny_models")
    return {(s, k): build_tiny_model(root / f"{s}_{k}", scheme=s, kind=k, seed=1) for s, k in COMBOS}


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> Path:
    rng = np.random.default_rng(7)
    seqs = {c: "".join(rng.choice(list("ACGT"), size=n)) for c, n in CONTIGS.items()}
    c, a, b = N_RUN
    seqs[c] = seqs[c][:a] + "N" * (b - a) + seqs[c][b:]
    path = tmp_path_factory.mktemp("ref") / "ref.fa"
    path.write_text("".join(f">{c}\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n" for c, s in seqs.items()))
    pysam.faidx(str(path))
    return path


def ref_base(reference: Path, chrom: str, pos: int, n: int = 1) -> str:
    """Bases at 1-based ``pos`` (plain pysam, for building test records)."""
    with pysam.FastaFile(str(reference)) as fa:
        return fa.fetch(chrom, pos - 1, pos - 1 + n).upper()


def other(base: str, k: int = 1) -> str:
    return "ACGT"[("ACGT".index(base) + k) % 4]


def edge_case_records(reference: Path) -> list[tuple[str, int, str, str, str]]:
    """(CHROM, POS, REF, ALT, expected skip reason or '' when scored), in sorted order."""
    rb = lambda c, p, n=1: ref_base(reference, c, p, n)  # noqa: E731
    recs = [
        ("chr1", 2, rb("chr1", 2), other(rb("chr1", 2)), ""),  # window runs off the contig start: N-padded
        ("chr1", 50, rb("chr1", 50), f"{other(rb('chr1', 50))},{other(rb('chr1', 50), 2)}", ""),  # multi-ALT SNV
        ("chr1", 80, rb("chr1", 80, 3), rb("chr1", 80), ""),  # deletion
        ("chr1", 120, rb("chr1", 120), rb("chr1", 120) + "GA", ""),  # insertion
        ("chr1", 160, rb("chr1", 160, 2), other(rb("chr1", 160)) + other(rb("chr1", 161)), ""),  # MNV
        ("chr1", 200, rb("chr1", 200, 3), rb("chr1", 200) + other(rb("chr1", 201)) + rb("chr1", 202), ""),  # SNV in context
        ("chr1", 240, rb("chr1", 240), "<DEL>", "symbolic_allele"),
        ("chr1", 250, rb("chr1", 250), "*", "symbolic_allele"),
        ("chr1", 260, rb("chr1", 260), rb("chr1", 260) + "[chr2:100[", "breakend"),
        ("chr1", 270, rb("chr1", 270), "R", "non_acgtn"),
        ("chr1", 280, other(rb("chr1", 280)), rb("chr1", 280), "ref_mismatch"),
        ("chr1", 300, rb("chr1", 300, 20), rb("chr1", 300), "too_long"),
        ("chr1", 320, rb("chr1", 320), ".", "no_alt"),
        ("chr1", 598, rb("chr1", 598), other(rb("chr1", 598)), ""),  # next to the N run
        ("chr2", 400, rb("chr2", 400), f"{other(rb('chr2', 400))},<NON_REF>", ""),
        ("chr2", 799, rb("chr2", 799), other(rb("chr2", 799), 3), ""),  # near the contig end
        ("chrUn", 10, "A", "C", "unknown_contig"),
    ]
    return recs


def write_vcf(path: Path, records, extra_lines: list[str] = ()) -> Path:
    """bgzipped + tabix-indexed VCF of ``records`` (and raw ``extra_lines`` appended, e.g. malformed)."""
    head = ["##fileformat=VCFv4.2"] + [f"##contig=<ID={c},length={n}>" for c, n in CONTIGS.items()]
    head += ["##contig=<ID=chrUn,length=1000>", '##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    body = [f"{c}\t{p}\tv{i}\t{r}\t{a}\t50\tPASS\tDP={10 + i}" for i, (c, p, r, a, *_) in enumerate(records)]
    plain = path.with_suffix("")  # x.vcf.gz -> x.vcf
    plain.write_text("\n".join(head + body + list(extra_lines)) + "\n")
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True))


@pytest.fixture(scope="session")
def edge_vcf(tmp_path_factory, reference) -> tuple[Path, list]:
    recs = edge_case_records(reference)
    path = write_vcf(tmp_path_factory.mktemp("vcf") / "edge.vcf.gz", recs)
    return path, recs
