"""The admission gate (pure): it learns the unloaded latency and a limit of variants in flight from completed
requests, refuses beyond the limit, and never refuses a request on an idle gate."""

from __future__ import annotations

import pytest

from raygen.serve.admission import AdmissionGate, Overloaded


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def simulate(gate: AdmissionGate, clock: Clock, rate_vps: float, overhead_s: float, offered: int, rounds: int):
    """A service that answers ``rate_vps`` variants/s after ``overhead_s``, offered ``offered`` single-variant
    requests at once, ``rounds`` times; each admitted request finishes after (ahead + 1) / rate + overhead."""
    latencies, refused = [], 0
    for _ in range(rounds):
        tickets = []
        for _ in range(offered):
            try:
                tickets.append(gate.admit(1))
            except Overloaded:
                refused += 1
        start = clock.t
        for t in tickets:
            latency = overhead_s + (t.ahead + 1) / rate_vps
            clock.t = start + latency
            gate.release(t)
            latencies.append(latency)
    return latencies, refused


def test_unloaded_latency_then_a_limit_that_keeps_latency_near_the_target():
    clock = Clock()
    gate = AdmissionGate(factor=2.0, initial=32, clock=clock)
    for _ in range(5):  # alone in the gate: the unloaded latency (1 variant at 33/s + 10 ms)
        simulate(gate, clock, 33.0, 0.010, 1, 1)
    base = 0.010 + 1 / 33
    assert gate.baseline_s == pytest.approx(base, rel=1e-6)
    lat, refused = simulate(gate, clock, 33.0, 0.010, 200, 40)  # 200 at once, again and again: overload
    assert refused > 0
    tail = lat[-50:]
    # Little's law: admitted work is limited to about factor x unloaded latency x rate
    assert max(tail) <= 3 * base, (max(tail), base, gate.state())
    assert gate.limit == pytest.approx(2 * base * 33, rel=0.35)


def test_idle_gate_admits_any_size_and_busy_gate_refuses_what_does_not_fit():
    gate = AdmissionGate(factor=2.0, initial=8)
    big = gate.admit(1000)  # larger than any limit, but nothing is in flight
    with pytest.raises(Overloaded) as exc:
        gate.admit(1)
    assert exc.value.retry_after_s == 1.0 and "in flight" in str(exc.value)
    gate.release(big, ok=False)
    assert gate.in_flight == 0 and gate.refused == 1
    gate.admit(8)
    with pytest.raises(Overloaded):
        gate.admit(1)


def test_quiet_spells_do_not_shrink_the_limit_and_factor_0_is_off():
    clock = Clock()
    gate = AdmissionGate(factor=2.0, initial=32, clock=clock)
    simulate(gate, clock, 33.0, 0.010, 1, 50)  # only ever one request: no news about capacity
    assert gate.limit == 32
    off = AdmissionGate(factor=0, initial=1)
    tickets = [off.admit(5) for _ in range(100)]
    assert off.in_flight == 500 and len(tickets) == 100


def test_a_lone_slow_request_does_not_shrink_the_limit():
    clock = Clock()
    gate = AdmissionGate(factor=2.0, initial=2, clock=clock)
    simulate(gate, clock, 33.0, 0.010, 1, 5)  # the unloaded latency
    before = gate.limit
    simulate(gate, clock, 33.0, 0.500, 1, 20)  # alone in the gate but 12x slower: the CPU is busy elsewhere
    assert gate.limit == before


def test_a_stalled_scorer_leaves_one_probe_in_flight_until_it_answers():
    clock = Clock()
    gate = AdmissionGate(factor=2.0, initial=32, clock=clock)
    assert gate.timeout_s(gate.admit(1), 5.0) is None  # nothing answered yet: the first call may warm up
    gate.in_flight = 0
    simulate(gate, clock, 33.0, 0.010, 1, 3)
    simulate(gate, clock, 33.0, 0.010, 200, 20)
    big = gate.admit(1000) if gate.in_flight == 0 else None
    assert big is not None and gate.timeout_s(big, 5.0) > 5.0  # 1000 variants: 4x their expected time
    gate.stalled(big)
    assert gate.limit == gate.floor and gate.in_flight == 0
    probe = gate.admit(1)
    with pytest.raises(Overloaded):
        gate.admit(1)
    clock.t += 0.05
    gate.release(probe)
    assert gate.in_flight == 0 and gate.timeout_s(gate.admit(1), 0) is None


def test_a_large_request_may_wait_behind_about_its_own_size():
    gate = AdmissionGate(factor=2.0, initial=8)
    gate.admit(100)
    gate.admit(100)  # waits behind 100: about twice what it takes alone
    with pytest.raises(Overloaded):
        gate.admit(100)
    with pytest.raises(Overloaded):
        gate.admit(1)  # would wait behind 200 variants for a one-variant answer
