"""The Serve deployments: the model replica (Scorer), the caller replica (Caller) and the HTTP entry replica
(Ingress). :mod:`raygen.serve.app` binds them into the application.

- **Scorer**: one per served model, the same scorer as ``raygen score`` builds (a language model or SpliceAI,
  through :func:`raygen.scoring.base.make_scorer`), behind ``@serve.batch``. Callers
  send chunks of variants (lists of ``(chrom, pos, ref, alt)``, pos 1-based); ``@serve.batch`` merges chunks
  from concurrent requests until ``max_batch_size`` VARIANTS (not requests) are waiting or
  ``batch_wait_timeout_s`` has passed, scores them in one ``score_variants`` call and splits the
  results back (each result's ``as_dict()``: ``llr``/``prob`` or ``spliceai`` entries, and ``skip_reason``). The model runs on a one-thread executor so the replica keeps accepting (and batching)
  requests while a batch computes.
- **Caller**: ``raygen.calling.call_region`` (the function each ``raygen call`` shard runs) behind
  ``POST /v1/call`` and the UI's calling tab. The ingress checks the BAM path against the data directories
  and the region against the size limit first; here the region is called on a small thread pool so the
  replica keeps answering while a call runs. A CNN model directory is loaded once, at start-up.
- **Ingress**: builds the FastAPI app (:func:`raygen.serve.routes.make_app`) inside its replica and talks to
  the Scorers (by model name) and the Caller through handles.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ray import serve

from raygen.calling.candidates import open_bam
from raygen.calling.pipeline import _bam_sample, vcf_text
from raygen.calling.shard import call_region, contig_map
from raygen.config import DEFAULTS, SERVE_LOGGING, CallConfig, ServeConfig
from raygen.errors import InputError
from raygen.io.fasta import Reference
from raygen.scoring.base import ScorerSpec, make_scorer  # torch loads only when a scorer loads its model
from raygen.serve.admission import AdmissionGate
from raygen.serve.backend import ResultTuple, ScorerBackend, VariantTuple
from raygen.serve.logs import setup_request_logging
from raygen.serve.options import BATCH_FIELDS
from raygen.serve.routes import make_app
from raygen.serve.schemas import display_name
from raygen.variant import Variant

log = logging.getLogger("raygen.serve.scorer")


def _n_variants(chunks: list[list[VariantTuple]]) -> int:
    return sum(len(c) for c in chunks)


# Replica resources and limits come from ServeConfig through .options() in raygen.serve.app, never from here.
@serve.deployment(name="Scorer", logging_config=SERVE_LOGGING)
class ScorerDeployment:
    """One model replica of the checked model ``spec`` (:func:`raygen.scoring.base.scorer_spec`);
    ``max_batch_size`` and ``batch_wait_timeout_s`` are the starting batch settings, which Serve's
    ``user_config`` (see :meth:`reconfigure`) changes on the running replica."""

    def __init__(self, spec: ScorerSpec, *, max_batch_size: int = DEFAULTS.serve.max_batch_size,
                 batch_wait_timeout_s: float = DEFAULTS.serve.batch_wait_timeout_s):
        self.scorer = make_scorer(spec)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="raygen-scorer")
        # Answers name the model, never where it lives on the server (the path is in this replica's log).
        self._info = {**self.scorer.info, "model": display_name(spec.model)}
        self._batch: dict[str, Any] = {}
        self.reconfigure({"max_batch_size": max_batch_size, "batch_wait_timeout_s": batch_wait_timeout_s})
        log.info("scorer ready: %s (%s)", self._info["model"], spec.model)

    def reconfigure(self, user_config: dict[str, Any] | None) -> None:
        """Apply batch settings (``max_batch_size`` variants, ``batch_wait_timeout_s`` seconds); keys left out
        keep their value. Serve calls this after the constructor and whenever a redeploy changes only the
        deployment's ``user_config``: the same replica, model loaded, serves on with the new settings."""
        new = {**self._batch, **(user_config or {})}
        unknown = sorted(set(new) - set(BATCH_FIELDS))
        if unknown:
            raise ValueError(f"Scorer user_config takes {' and '.join(BATCH_FIELDS)}, not {', '.join(unknown)}")
        size, wait = new.get("max_batch_size"), new.get("batch_wait_timeout_s")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"max_batch_size must be an integer of at least 1, not {size!r}")
        if not isinstance(wait, int | float) or isinstance(wait, bool) or wait < 0:
            raise ValueError(f"batch_wait_timeout_s must be a number of seconds >= 0, not {wait!r}")
        self.score_batch.set_max_batch_size(size)
        self.score_batch.set_batch_wait_timeout_s(float(wait))
        if self._info.get("kind") != "spliceai":  # LM sequences per forward pass follow the batch (SpliceAI
            self.scorer.batch_size = size          # batches by allele shape: SpliceAIConfig.batch_size)
        self._batch = {"max_batch_size": size, "batch_wait_timeout_s": float(wait)}
        self._info = {**self._info, **self._batch}
        if user_config:
            log.info("scorer batch settings: %s", self._batch)

    def info(self) -> dict[str, Any]:
        """What :attr:`Scorer.info` says (model name, revision, kind, scheme, window, score definition), plus
        the batch settings in force."""
        return self._info

    def ready(self) -> bool:
        """True once the model is loaded (the constructor has returned)."""
        return True

    async def score(self, variants: list[VariantTuple]) -> list[ResultTuple]:
        """Scores of one chunk of variants, batched with concurrent callers. A chunk larger than the batch
        size in force (the ingress may still cut by an older one) is split first."""
        size = self._batch["max_batch_size"]
        if len(variants) <= size:
            return await self.score_batch(variants)
        parts = await asyncio.gather(*[self.score_batch(variants[i:i + size]) for i in range(0, len(variants), size)])
        return [r for part in parts for r in part]

    async def attributions(self, variant: VariantTuple) -> dict[str, Any]:
        """Per-position attributions of one variant's score (:meth:`Scorer.attributions`; SpliceAI: None and
        why), on the model's thread, so they never run alongside a batch."""
        c, p, r, a = variant
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.scorer.attributions, Variant(c, int(p), r, a))

    async def detail(self, variant: VariantTuple) -> dict[str, Any] | None:
        """The scorer's :meth:`detail` of one variant (what the UI draws beyond the score), on the model's
        thread, so it never runs beside a batch."""
        c, p, r, a = variant
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.scorer.detail, Variant(c, int(p), r, a))

    @serve.batch(max_batch_size=DEFAULTS.serve.max_batch_size,
                 batch_wait_timeout_s=DEFAULTS.serve.batch_wait_timeout_s, batch_size_fn=_n_variants)
    async def score_batch(self, chunks: list[list[VariantTuple]]) -> list[list[ResultTuple]]:
        flat = [Variant(c, int(p), r, a) for chunk in chunks for (c, p, r, a) in chunk]
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(self._executor, self.scorer.score_variants, flat)
        out, i = [], 0
        for chunk in chunks:
            out.append([r.as_dict() for r in results[i:i + len(chunk)]])
            i += len(chunk)
        return out


@serve.deployment(name="Caller", logging_config=SERVE_LOGGING)
class CallerDeployment:
    """One caller replica for ``reference`` with ``model`` (``classical`` or a ``raygen train caller`` dir),
    calling with ``cfg`` (the server's ``ServeConfig.call``)."""

    def __init__(self, reference: str, model: str = "classical", cfg: CallConfig | None = None, threads: int = 2):
        self.reference = reference
        self.model = model
        self.cfg = cfg or CallConfig()
        self._models: dict[str, Any] = {}
        if model != "classical":
            # torch loads in the replica only, and only for a CNN caller.
            from raygen.calling.cnn import load_caller

            self._models[model] = load_caller(model)  # a bad model dir fails the replica at start-up
        self._executor = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="raygen-caller")

    def ready(self) -> bool:
        return True

    def info(self) -> dict[str, Any]:
        return {"model": display_name(self.model), "reference": display_name(self.reference)}

    def _call(self, bam: str, region: str, vcf: bool, pass_only: bool) -> dict[str, Any]:
        cfg = self.cfg
        t0 = time.perf_counter()
        try:
            records = call_region(bam, self.reference, region, model=self.model, cfg=cfg, models=self._models)
        except OSError as exc:  # htslib could not read the (indexed) BAM: truncated or corrupt, the client's input
            raise InputError(f"cannot read BAM {bam!r}: truncated or corrupt ({exc.__class__.__name__})") from None
        if pass_only:
            records = [r for r in records if r.filter == "PASS"]
        counts: dict[str, int] = {}
        for r in records:
            counts[r.filter] = counts.get(r.filter, 0) + 1
        out: dict[str, Any] = {"calls": [r.to_dict() for r in records], "counts": counts,
                               "seconds": round(time.perf_counter() - t0, 3)}
        if vcf:
            af = open_bam(bam, self.reference)
            try:
                sample = _bam_sample(af) or "SAMPLE"
            finally:
                af.close()
            with Reference(self.reference) as ref:
                contigs, _ = contig_map(bam, ref, None)
            out["vcf"] = vcf_text(records, contigs, sample, display_name(self.reference), display_name(self.model), cfg)
        return out

    async def call(self, bam: str, region: str, vcf: bool = False, pass_only: bool = False) -> dict[str, Any]:
        """Calls of ``region`` (``chr:start-end``, 1-based inclusive) in ``bam`` (a path already checked by
        the ingress): ``{"calls": [CallRecord.to_dict()...], "counts": {FILTER: n}, "seconds": s, "vcf": text
        (when asked)}``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, bam, region, vcf, pass_only)


@serve.deployment(name="Ingress", logging_config=SERVE_LOGGING)
@serve.ingress()
class Ingress:
    """HTTP entry replica: builds :func:`raygen.serve.routes.make_app` in the replica (Serve calls
    ``__serve_build_asgi_app__`` there), talks to the Scorers (``{model name: handle}``, the default model
    first) and the Caller through handles."""

    def __init__(self, scorers: dict[str, Any], cfg: ServeConfig, caller=None):
        setup_request_logging()
        self._scorers = scorers
        self._caller = caller
        self._cfg = cfg

    def __serve_build_asgi_app__(self):
        cfg = self._cfg
        gate = functools.partial(AdmissionGate, factor=cfg.admission_factor, initial=cfg.max_batch_size,
                                 retry_after_s=cfg.retry_after_s or 1.0)
        return make_app(ScorerBackend(self._scorers, cfg.max_batch_size, self._caller, gate=gate,
                                      stall_s=cfg.scorer_stall_s), cfg)
