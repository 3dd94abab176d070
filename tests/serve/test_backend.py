"""The ingress's client of the Scorers: every model call passes the admission gate, so a refused one never
reaches a Scorer (no handle is needed to see that: the gate refuses before any hop)."""

from __future__ import annotations

import asyncio

import pytest

from raygen.serve.admission import AdmissionGate, Overloaded
from raygen.serve.backend import ScorerBackend
from raygen.variant import Variant

V = Variant("chr1", 100, "A", "G")


@pytest.mark.parametrize("call", ["score", "attributions", "detail"])
def test_a_busy_gate_refuses_every_model_call_before_any_hop(call):
    backend = ScorerBackend({"m": object()}, 32, gate=lambda: AdmissionGate(factor=2.0, initial=8))
    gate = backend.gates["m"]
    busy = gate.admit(8)  # the gate is full: one more variant does not fit
    args = ([V],) if call == "score" else (V,)
    with pytest.raises(Overloaded):
        asyncio.run(getattr(backend, call)(*args))
    assert gate.in_flight == 8 and gate.refused == 1  # nothing was admitted, nothing leaked
    gate.release(busy, ok=False)
