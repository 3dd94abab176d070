"""The model replica: the same :class:`raygen.scoring.Scorer` as ``raygen score``, behind ``@serve.batch``.

Callers send chunks of variants (lists of ``(chrom, pos, ref, alt)``, pos 1-based); ``@serve.batch`` merges
chunks from concurrent requests until ``max_batch_size`` VARIANTS (not requests) are waiting or
``batch_wait_timeout_s`` has passed, scores them in one ``Scorer.score_variants`` call and splits the
results back. The model runs on a one-thread executor so the replica keeps accepting (and batching)
requests while a batch computes.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ray import serve

from raygen.config import DEFAULTS, SERVE_LOGGING

log = logging.getLogger("raygen.serve.scorer")

#: ``(chrom, pos, ref, alt)`` in, ``(llr, prob, skip_reason)`` out: plain tuples travel cheaply between replicas.
VariantTuple = tuple[str, int, str, str]
ResultTuple = tuple[float | None, float | None, str | None]


def _n_variants(chunks: list[list[VariantTuple]]) -> int:
    return sum(len(c) for c in chunks)


@serve.deployment(
    name="Scorer",
    max_ongoing_requests=DEFAULTS.serve.max_ongoing_requests,
    max_queued_requests=DEFAULTS.serve.max_queued_requests,
    ray_actor_options={"num_cpus": DEFAULTS.serve.scorer_cpus},
    logging_config=SERVE_LOGGING,
)
class ScorerDeployment:
    """One model replica. Arguments mirror :class:`raygen.scoring.Scorer` plus the batching knobs."""

    def __init__(self, model: str, reference: str, *, window: int = DEFAULTS.score.window,
                 revision: str | None = None, trust_remote_code: bool = False, device: str = "auto",
                 reverse_complement: bool = DEFAULTS.score.reverse_complement,
                 max_batch_size: int = DEFAULTS.serve.max_batch_size,
                 batch_wait_timeout_s: float = DEFAULTS.serve.batch_wait_timeout_s):
        from raygen.scoring import Scorer
        from raygen.variant import Variant

        self._variant = Variant
        self.scorer = Scorer(model, reference, window=window, revision=revision,
                             trust_remote_code=trust_remote_code, device=device,
                             batch_size=max(max_batch_size, 1), reverse_complement=reverse_complement)
        self.score_batch.set_max_batch_size(max_batch_size)
        self.score_batch.set_batch_wait_timeout_s(batch_wait_timeout_s)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="raygen-scorer")
        self._info = dict(self.scorer.info)
        self._info.update(max_batch_size=max_batch_size, batch_wait_timeout_s=batch_wait_timeout_s)
        log.info("scorer ready: %s", self._info.get("model"))

    def info(self) -> dict[str, Any]:
        """What :attr:`Scorer.info` says (model name, revision, kind, scheme, window, score definition)."""
        return self._info

    def ready(self) -> bool:
        """True once the model is loaded (the constructor has returned)."""
        return True

    async def score(self, variants: list[VariantTuple]) -> list[ResultTuple]:
        """Scores of one chunk of at most ``max_batch_size`` variants, batched with concurrent callers."""
        return await self.score_batch(variants)

    @serve.batch(max_batch_size=DEFAULTS.serve.max_batch_size,
                 batch_wait_timeout_s=DEFAULTS.serve.batch_wait_timeout_s, batch_size_fn=_n_variants)
    async def score_batch(self, chunks: list[list[VariantTuple]]) -> list[list[ResultTuple]]:
        flat = [self._variant(c, int(p), r, a) for chunk in chunks for (c, p, r, a) in chunk]
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(self._executor, self.scorer.score_variants, flat)
        out, i = [], 0
        for chunk in chunks:
            out.append([(r.llr, r.prob, r.skip_reason) for r in results[i:i + len(chunk)]])
            i += len(chunk)
        return out
