"""Admission control in front of a Scorer: take only the work that can be answered about as fast as when the
service is idle, and answer the rest ``503`` at once (the route adds ``Retry-After``).

Why here and not only Serve's ``max_ongoing_requests`` / ``max_queued_requests``: those count requests at a
fixed number, and by Little's law an admitted request waits about (requests in flight) / (service rate). At 64 +
16 in flight and ~33 single-variant requests/s (benchmarks/serve_overload.py, 2 cores) that is 2.4 s for a
request the idle service answers in 40 ms. The right number in flight depends on the model, the batch size and
the hardware, so the gate learns it:

- ``baseline_s``: the latency of one-batch requests that found the gate empty (the unloaded latency), a moving
  average;
- ``limit``: variants in flight such that latency stays near ``target = factor x baseline_s``. Each completed
  request that found the gate at least half full gives a sample ``(ahead + n) x target / latency`` (Little's
  law: the service rate it saw times the target), smoothed into ``limit`` (the "gradient" concurrency limit).
  Samples taken while the gate was empty or mostly empty say nothing about capacity and are not used, so a
  quiet spell, or a lone request slowed by a busy CPU, does not shrink the limit.

A request of ``n`` variants is admitted when nothing is in flight (a request larger than the limit must still be
served on an idle service) or when ``in_flight + n <= max(limit, factor x n)``: the limit bounds small requests,
and a large one may also wait behind up to ``(factor - 1) x n`` variants, i.e. take about ``factor`` times what it
takes alone; otherwise :class:`Overloaded`. Pure Python, no Ray:
one gate per model in each ingress replica (asyncio, and Gradio's worker threads, hence the lock).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


class Overloaded(Exception):
    """The gate refused a request: more work is in flight than the service answers within its target."""

    def __init__(self, in_flight: int, limit: float, retry_after_s: float):
        super().__init__(f"the service is at capacity ({in_flight} variants in flight, limit {limit:.0f}): "
                         f"retry in {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


@dataclass
class Ticket:
    """One admitted request: ``n`` variants, ``ahead`` variants already in flight when it was admitted."""

    n: int
    ahead: int
    t0: float


@dataclass
class AdmissionGate:
    """Variants in flight to one Scorer, bounded by a learned limit (see the module docstring).

    ``factor``: admitted work may take this many times the unloaded latency (0 turns the gate off: everything is
    admitted and Serve's request limits are the only bound). ``initial``: the limit until the first unloaded
    latency is known (one batch: ``max_batch_size``). ``floor``/``ceiling``: the limit's bounds, in variants.
    ``smoothing``: weight of each new sample (0..1]. ``retry_after_s``: what a refusal tells the client.
    """

    factor: float = 2.0
    initial: int = 32
    floor: float = 1.0
    ceiling: float = 65536.0
    smoothing: float = 0.2
    retry_after_s: float = 1.0
    clock: object = time.monotonic
    in_flight: int = 0
    limit: float = 0.0
    baseline_s: float | None = None
    refused: int = 0
    probing: bool = False  # after a stall: one request at a time until one is answered
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.limit = float(self.limit or self.initial)

    @property
    def enabled(self) -> bool:
        return self.factor > 0

    def admit(self, n: int) -> Ticket:
        """A ticket for ``n`` variants, or :class:`Overloaded`."""
        with self._lock:
            cap = 0 if self.probing else max(self.limit, self.factor * n)
            if self.enabled and self.in_flight and self.in_flight + n > cap:
                self.refused += 1
                raise Overloaded(self.in_flight, self.limit, self.retry_after_s)
            ticket = Ticket(n, self.in_flight, self.clock())
            self.in_flight += n
            return ticket

    def release(self, ticket: Ticket, ok: bool = True) -> None:
        """The request of ``ticket`` is answered; ``ok``: its latency is a valid sample (not an error)."""
        with self._lock:
            self.in_flight -= ticket.n
            if ok and self.enabled:
                self.probing = False
                self._learn(ticket, max(self.clock() - ticket.t0, 1e-6))

    def _learn(self, t: Ticket, latency_s: float) -> None:
        a = self.smoothing
        if t.ahead == 0 and t.n <= self.initial:  # alone, one batch: the unloaded latency
            # It falls quickly and rises slowly: it is the lower envelope (a request alone in the gate
            # while the CPU is busy shedding an overload is not what "unloaded" means).
            w = a if self.baseline_s is None or latency_s < self.baseline_s else a / 10
            self.baseline_s = latency_s if self.baseline_s is None else (1 - w) * self.baseline_s + w * latency_s
        if self.baseline_s is None or t.ahead == 0 or (t.ahead + t.n) * 2 < self.limit:
            # No reference yet, or the gate was empty or mostly empty: no news about capacity. A request that
            # waited behind nothing measures the service (a slow one: the CPU was busy elsewhere), not queueing;
            # refusing more would not make it faster (a lone request shrank a limit near 1 to its floor).
            return
        sample = (t.ahead + t.n) * self.factor * self.baseline_s / latency_s
        self.limit = min(self.ceiling, max(self.floor, (1 - a) * self.limit + a * sample))

    def timeout_s(self, ticket: Ticket, floor_s: float) -> float | None:
        """How long the request of ``ticket`` may take before its Scorer counts as gone: ``floor_s``, or 4x
        what the gate expects of it (``(ahead + n)`` variants at the learned rate ``limit / target``) if
        longer. None: no bound (gate off, ``floor_s`` 0, or nothing answered yet: the first call carries the
        model's warm-up, seconds for SpliceAI on a busy CPU, and a 503 "restarting" for it would be wrong)."""
        if not self.enabled or floor_s <= 0 or self.baseline_s is None:
            return None
        rate = self.limit / (self.factor * self.baseline_s)  # variants/s (Little's law at the target)
        return max(floor_s, 4 * (ticket.ahead + ticket.n) / rate)

    def stalled(self, ticket: Ticket) -> None:
        """The request of ``ticket`` outlived :meth:`timeout_s` (its replica died or hangs): released, and the
        limit drops to ``floor`` so that while the Scorer is away one request probes it and the rest get 503 at
        once; answers regrow the limit."""
        with self._lock:
            self.in_flight -= ticket.n
            self.limit = self.floor
            self.probing = True

    def state(self) -> dict:
        """What the gate knows, for /metrics and logs."""
        with self._lock:
            return {"in_flight": self.in_flight, "limit": round(self.limit, 1), "refused": self.refused,
                    "baseline_ms": None if self.baseline_s is None else round(self.baseline_s * 1000, 1)}


__all__ = ["AdmissionGate", "Overloaded", "Ticket"]
