"""Small simulated genomes for the training tests (built with numpy, indexed by pysam at first use)."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import simulated_genome, write_fasta


@pytest.fixture(scope="session")
def small_fasta(tmp_path_factory) -> Path:
    """Two 30-kb contigs (chrA, chrB), no .fai: the code under test must index it."""
    d = tmp_path_factory.mktemp("genome")
    return write_fasta(d / "sim.fa", {"chrA": simulated_genome(30_000, 1), "chrB": simulated_genome(30_000, 2)})
