"""What the routes and the UI talk to: the Scorer deployments, one per served model (and the Caller, with data
directories), behind one small async client, so neither knows about Serve handles.

Variants travel to a Scorer as plain ``(chrom, pos, ref, alt)`` tuples (pos 1-based, VCF POS); results come
back as the scorer's ``as_dict()``: ``{"llr", "prob", "skip_reason"}`` from a language model,
``{"spliceai": [entries], "skip_reason"}`` from SpliceAI.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from raygen.serve.admission import AdmissionGate
from raygen.variant import Variant

#: ``(chrom, pos, ref, alt)`` in, a plain dict out: both travel cheaply between replicas.
VariantTuple = tuple[str, int, str, str]
ResultTuple = dict[str, Any]

#: How old a Scorer's info may be when a score answer quotes it (seconds): asking it afresh for every request
#: was a second hop to the Scorer per request (benchmarks/serve_overload.py); a reconfigured batch size is
#: followed within this (the Scorer splits larger chunks meanwhile), and GET /v1/models always asks afresh.
INFO_MAX_AGE_S = 1.0
#: What the admission gate charges ``POST /v1/explain``'s per-variant model calls, in variants: attributions are
#: a forward and a backward pass over one window (about two variants' work), ``detail`` one variant's scoring.
ATTRIBUTION_COST, DETAIL_COST = 2, 1


class UnknownModel(LookupError):
    """A request named a model this server does not serve."""


class ScorerStalled(RuntimeError):
    """A Scorer call outlived what the admission gate allows it (its replica died or hangs): answered 503."""


class Backend(Protocol):
    """What the routes and the UI need from the model side."""

    names: list[str]  # the served models, the default first

    async def score(self, variants: Sequence[Variant], model: str | None = None) -> list[ResultTuple]: ...
    async def detail(self, variant: Variant, model: str | None = None) -> dict[str, Any] | None: ...
    async def info(self, model: str | None = None, max_age_s: float = 0.0) -> dict[str, Any]: ...
    async def attributions(self, variant: Variant, model: str | None = None) -> dict[str, Any]: ...
    async def models(self) -> list[dict[str, Any]]: ...
    async def ready(self) -> bool: ...
    async def call(self, bam: str, region: str, vcf: bool = False, pass_only: bool = False) -> dict[str, Any]: ...


def chunks(items: Sequence, size: int) -> list[Sequence]:
    """``items`` cut into consecutive pieces of at most ``size``."""
    return [items[i:i + size] for i in range(0, len(items), size)]


class ScorerBackend:
    """Talks to the Scorer deployments (``handles``: model name -> handle, the default model first): cuts
    requests into chunks of at most ``max_batch_size`` variants, each Scorer's batch size as its last
    :meth:`info` said (``@serve.batch`` then merges chunks of concurrent requests into model batches; the
    Scorer splits a chunk larger than a batch size set since); and to the Caller deployment, when the server
    was started with data directories. ``model=None`` means the default model.

    Every model call (scores, and ``POST /v1/explain``'s attributions and detail) passes its model's
    :class:`raygen.serve.admission.AdmissionGate` (``gate`` builds one per model; none: no gate) and raises
    :class:`raygen.serve.admission.Overloaded` when it is refused."""

    def __init__(self, handles: dict[str, Any], max_batch_size: int, caller=None, gate=None, stall_s: float = 0.0):
        self.handles = dict(handles)
        self.names = list(self.handles)  # served model names, the default first
        self.default = self.names[0]
        self.caller = caller
        self.batch = {name: max_batch_size for name in self.handles}
        self.gates: dict[str, AdmissionGate] = {name: gate() for name in self.handles} if gate else {}
        self.stall_s = stall_s
        self._info: dict[str, tuple[float, dict[str, Any]]] = {}  # name -> (monotonic time asked, info)

    def _name(self, model: str | None) -> str:
        name = self.default if model is None else model
        if name not in self.handles:
            raise UnknownModel(f"model {model!r} is not served here (served: {', '.join(self.handles)})")
        return name

    async def call(self, bam: str, region: str, vcf: bool = False, pass_only: bool = False) -> dict[str, Any]:
        if self.caller is None:
            raise RuntimeError("no caller deployment: the server was started without data directories")
        return await self.caller.call.remote(bam, region, vcf, pass_only)

    async def score(self, variants: Sequence[Variant], model: str | None = None) -> list[ResultTuple]:
        name = self._name(model)
        return await self._gated(name, len(variants), lambda: self._score(name, variants))

    async def _gated(self, name: str, n: int, call: Callable[[], Awaitable[Any]], learn: bool = True) -> Any:
        """``await call()`` as ``n`` variants of work admitted by the gate of model ``name`` (if any); ``learn``:
        its latency is a sample of the gate's (scores; not the explain calls, whose work is not a score's)."""
        gate = self.gates.get(name)
        if gate is None:
            return await call()
        ticket = gate.admit(n)  # Overloaded: refused before any hop to the Scorer
        ok = False
        try:
            # Serve re-sends a request whose replica died to another one, and with none left waits for the
            # replacement (tens of seconds: a new process loads the model): past the gate's bound, give up.
            out = await asyncio.wait_for(call(), gate.timeout_s(ticket, self.stall_s))
            ok = True
            return out
        except asyncio.TimeoutError:
            gate.stalled(ticket)
            ticket = None
            raise ScorerStalled(f"the {name} model replica did not answer in time (restarting?)") from None
        finally:
            if ticket is not None:
                gate.release(ticket, ok and learn)

    async def _score(self, name: str, variants: Sequence[Variant]) -> list[ResultTuple]:
        handle, size = self.handles[name], self.batch[name]
        tuples = [(v.chrom, v.pos, v.ref, v.alt) for v in variants]
        if len(tuples) <= size:
            return await handle.score.remote(tuples)
        parts = await asyncio.gather(*[handle.score.remote(list(c)) for c in chunks(tuples, size)])
        return [r for part in parts for r in part]

    async def attributions(self, variant: Variant, model: str | None = None) -> dict[str, Any]:
        """The Scorer's per-position attributions of one variant (``POST /v1/explain``, the UI)."""
        name, v = self._name(model), (variant.chrom, variant.pos, variant.ref, variant.alt)
        return await self._gated(name, ATTRIBUTION_COST, lambda: self.handles[name].attributions.remote(v),
                                 learn=False)

    async def detail(self, variant: Variant, model: str | None = None) -> dict[str, Any] | None:
        """The model's :meth:`raygen.scoring.base.VariantScorer.detail` of one variant."""
        name, v = self._name(model), (variant.chrom, variant.pos, variant.ref, variant.alt)
        return await self._gated(name, DETAIL_COST, lambda: self.handles[name].detail.remote(v), learn=False)

    async def info(self, model: str | None = None, max_age_s: float = 0.0) -> dict[str, Any]:
        """The Scorer's info, asked afresh unless the last answer is at most ``max_age_s`` seconds old (a
        reconfigured Scorer reports its new batch settings, and the chunks follow its batch size)."""
        name = self._name(model)
        asked = self._info.get(name)
        if asked is not None and time.monotonic() - asked[0] <= max_age_s:
            return asked[1]
        t = time.monotonic()
        info = await self.handles[name].info.remote()
        self._info[name] = (t, info)
        self.batch[name] = int(info.get("max_batch_size") or self.batch[name])
        return info

    async def models(self) -> list[dict[str, Any]]:
        """Every served model's info, the default first."""
        return list(await asyncio.gather(*[self.info(name) for name in self.handles]))

    async def ready(self) -> bool:
        oks = await asyncio.gather(*[h.ready.remote() for h in self.handles.values()])
        return all(bool(ok) for ok in oks)
