"""The caller replica: ``raygen.calling.call_region`` (the function each ``raygen call`` shard runs) behind
``POST /v1/call`` and the UI's calling tab.

The ingress checks the BAM path against the server's data directories and the region against the size
limit before a request reaches this replica; here the region is called on a small thread pool so the
replica keeps answering while a call runs. A CNN model directory is loaded once, at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ray import serve

from raygen.config import DEFAULTS, SERVE_LOGGING, CallConfig

log = logging.getLogger("raygen.serve.caller")


@serve.deployment(
    name="Caller",
    max_ongoing_requests=DEFAULTS.serve.caller_max_ongoing_requests,
    max_queued_requests=DEFAULTS.serve.max_queued_requests,
    ray_actor_options={"num_cpus": DEFAULTS.serve.caller_cpus},
    logging_config=SERVE_LOGGING,
)
class CallerDeployment:
    """One caller replica for ``reference`` with ``model`` (``classical`` or a ``raygen train caller`` dir)."""

    def __init__(self, reference: str, model: str = "classical", threads: int = 2):
        self.reference = reference
        self.model = model
        self._models: dict[str, Any] = {}
        if model != "classical":
            from raygen.calling.cnn import load_caller

            self._models[model] = load_caller(model)  # a bad model dir fails the replica at start-up
        self._executor = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="raygen-caller")

    def ready(self) -> bool:
        return True

    def info(self) -> dict[str, Any]:
        return {"model": self.model, "reference": self.reference}

    def _call(self, bam: str, region: str, vcf: bool, pass_only: bool) -> dict[str, Any]:
        import time

        from raygen.calling.candidates import open_bam
        from raygen.calling.pipeline import _bam_sample, call_region, contig_map, vcf_text
        from raygen.io.fasta import Reference

        cfg = CallConfig()
        t0 = time.perf_counter()
        records = call_region(bam, self.reference, region, model=self.model, cfg=cfg, models=self._models)
        if pass_only:
            records = [r for r in records if r.filter == "PASS"]
        counts: dict[str, int] = {}
        for r in records:
            counts[r.filter] = counts.get(r.filter, 0) + 1
        out: dict[str, Any] = {"calls": [r.to_dict() for r in records], "counts": counts,
                               "seconds": round(time.perf_counter() - t0, 3)}
        if vcf:
            af = open_bam(bam)
            try:
                sample = _bam_sample(af) or "SAMPLE"
            finally:
                af.close()
            with Reference(self.reference) as ref:
                contigs, _ = contig_map(bam, ref, None)
            out["vcf"] = vcf_text(records, contigs, sample, self.reference, self.model, cfg)
        return out

    async def call(self, bam: str, region: str, vcf: bool = False, pass_only: bool = False) -> dict[str, Any]:
        """Calls of ``region`` (``chr:start-end``, 1-based inclusive) in ``bam`` (a path already checked by
        the ingress): ``{"calls": [CallRecord.to_dict()...], "counts": {FILTER: n}, "seconds": s, "vcf": text
        (when asked)}``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, bam, region, vcf, pass_only)
