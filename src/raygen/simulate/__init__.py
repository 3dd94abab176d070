"""Deterministic synthetic genomes: reference, truth VCF and paired-end reads (``raygen simulate``).

Public API: :func:`simulate_genome` and :class:`SimulationSummary` (see :mod:`raygen.simulate.api`).
"""

from raygen.simulate.api import SimulationSummary, simulate_genome, validate

__all__ = ["SimulationSummary", "simulate_genome", "validate"]
