"""What the routes and the UI talk to: the Scorer deployment (and the Caller, with data directories) behind
one small async client, so neither knows about Serve handles.

Variants travel to the Scorer as plain ``(chrom, pos, ref, alt)`` tuples (pos 1-based, VCF POS).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from raygen.variant import Variant

#: ``(chrom, pos, ref, alt)`` in, ``(llr, prob, skip_reason)`` out: plain tuples travel cheaply between replicas.
VariantTuple = tuple[str, int, str, str]
ResultTuple = tuple[float | None, float | None, str | None]


class Backend(Protocol):
    """What the routes and the UI need from the model side."""

    async def score(self, variants: Sequence[Variant]) -> list[ResultTuple]: ...
    async def info(self) -> dict[str, Any]: ...
    async def ready(self) -> bool: ...
    async def call(self, bam: str, region: str, vcf: bool = False, pass_only: bool = False) -> dict[str, Any]: ...


def chunks(items: Sequence, size: int) -> list[Sequence]:
    """``items`` cut into consecutive pieces of at most ``size``."""
    return [items[i:i + size] for i in range(0, len(items), size)]


class ScorerBackend:
    """Talks to the Scorer deployment: cuts requests into chunks of at most ``max_batch_size`` variants, the
    Scorer's batch size as its last :meth:`info` said (``@serve.batch`` then merges chunks of concurrent
    requests into model batches; the Scorer splits a chunk larger than a batch size set since); and to the
    Caller deployment, when the server was started with data directories."""

    def __init__(self, handle, max_batch_size: int, caller=None):
        self.handle = handle
        self.caller = caller
        self.max_batch_size = max_batch_size

    async def call(self, bam: str, region: str, vcf: bool = False, pass_only: bool = False) -> dict[str, Any]:
        if self.caller is None:
            raise RuntimeError("no caller deployment: the server was started without data directories")
        return await self.caller.call.remote(bam, region, vcf, pass_only)

    async def score(self, variants: Sequence[Variant]) -> list[ResultTuple]:
        tuples = [(v.chrom, v.pos, v.ref, v.alt) for v in variants]
        if len(tuples) <= self.max_batch_size:
            return await self.handle.score.remote(tuples)
        parts = await asyncio.gather(*[self.handle.score.remote(list(c)) for c in chunks(tuples, self.max_batch_size)])
        return [r for part in parts for r in part]

    async def info(self) -> dict[str, Any]:
        # Asked each time, not cached: a reconfigured Scorer reports its new batch settings, and the chunks
        # follow its batch size.
        info = await self.handle.info.remote()
        self.max_batch_size = int(info.get("max_batch_size") or self.max_batch_size)
        return info

    async def ready(self) -> bool:
        return bool(await self.handle.ready.remote())
