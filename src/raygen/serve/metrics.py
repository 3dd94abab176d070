"""``GET /metrics``: the service's Prometheus metrics, in the Prometheus text format, on the API's own port.

Built on ``prometheus_client`` (already installed with ``ray[serve]``) rather than Ray Serve's
``ray.serve.metrics``: Ray's metrics leave through Ray's metrics agent on a separate port that a cluster
must be set up to expose, while this endpoint is answered by the ingress itself, so a Prometheus that can
reach the API scrapes it with a plain ``scrape_config`` and no extra code. Ray Serve's own built-in
metrics (replica queue lengths, its batch sizes) stay available through Ray's agent.

Each ingress replica keeps its own :class:`prometheus_client.CollectorRegistry` (so building the app
twice in one process never registers a name twice); with several ingress replicas each scrape reads the
replica that answered it, which Prometheus' counters tolerate (rates stay right per replica).

Metrics (``route`` is the route template, e.g. ``/v1/score``, never the raw path, to bound cardinality):

- ``raygen_http_requests_total{route,method,status}``, ``raygen_http_request_duration_seconds{route}``;
- ``raygen_request_variants{route}``: variants per request, i.e. the chunk the ingress hands the Scorer's
  ``@serve.batch`` (Serve merges chunks of concurrent requests into model batches of up to
  ``max_batch_size``);
- ``raygen_variants_scored_total{model}`` and ``raygen_variants_skipped_total{model,reason}``;
- ``raygen_score_llr{model}`` and ``raygen_score_prob{model}`` histograms of the scores served;
- with ``--drift-profile P`` (from ``raygen assess --write-profile``): ``raygen_drift_psi{model,feature}``,
  the population stability index of the scores served since start against the baseline's deciles
  (:func:`raygen.eval.drift.psi`), NaN until ``min_drift_values`` scores are in; ``raygen_drift_values``
  (how many) and ``raygen_drift_threshold_psi``;
- ``raygen_admission_limit{model}``, ``raygen_admission_in_flight{model}``, ``raygen_admission_unloaded_seconds``
  ``{model}``: the admission gate (:mod:`raygen.serve.admission`); its refusals are the 503s counted above.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from raygen.config import DEFAULTS
from raygen.errors import InputError, UsageError
from raygen.eval.drift import bin_fractions, psi
from raygen.eval.profile import FORMAT

#: Histogram buckets of RAYGEN_LLR (natural log) and of probabilities.
LLR_BUCKETS = (-20, -10, -5, -3, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 5, 10)
PROB_BUCKETS = tuple(np.round(np.linspace(0.1, 0.9, 9), 1))
VARIANT_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
#: Score keys of a profile the service watches, and which element of a Scorer result each is.
WATCHED = {"RAYGEN_LLR": "llr", "RAYGEN_PROB": "prob"}  # drift feature -> field of a /v1/score result


def load_baseline(path: str, model: str) -> dict[str, dict]:
    """The watched score features (``KEY | all``) of a drift profile; refuses a profile made for another
    model than ``model`` (compared by display name: a path's last component), naming both."""
    from raygen.serve.schemas import display_name

    try:
        profile = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"--drift-profile {path!r}: cannot read a JSON drift profile ({exc})") from None
    if profile.get("format") != FORMAT:
        raise InputError(f"--drift-profile {path!r} is not a raygen drift profile (write one with "
                         "`raygen assess SCORED --write-profile P`)")
    made_for = sorted(display_name(m) for m in profile.get("models") or [])
    if made_for != [display_name(model)]:
        raise UsageError(f"--drift-profile {path} was made for model(s) {', '.join(made_for) or '(none named)'} "
                         f"but the service runs {display_name(model)}: write a profile of this model's validation run")
    feats = profile.get("features", {})
    return {k: feats[f"{k} | all"] for k in WATCHED if feats.get(f"{k} | all", {}).get("edges")}


class ServeMetrics:
    """The registry of one ingress replica and the methods the routes call."""

    def __init__(self, baseline: dict[str, dict] | None = None, min_drift_values: int = DEFAULTS.assess.min_drift_values,
                 psi_threshold: float = DEFAULTS.assess.psi_threshold):
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("raygen_http_requests", "HTTP requests answered", ["route", "method", "status"],
                                registry=r)
        self.latency = Histogram("raygen_http_request_duration_seconds", "Time to answer an HTTP request",
                                 ["route"], registry=r)
        self.variants = Histogram("raygen_request_variants", "Variants per request (the chunk sent to the "
                                  "Scorer's @serve.batch)", ["route"], buckets=VARIANT_BUCKETS, registry=r)
        self.scored = Counter("raygen_variants_scored", "Variants scored", ["model"], registry=r)
        self.skipped = Counter("raygen_variants_skipped", "Variants not scored, by reason", ["model", "reason"],
                               registry=r)
        self.hist = {"RAYGEN_LLR": Histogram("raygen_score_llr", "RAYGEN_LLR of the variants scored", ["model"],
                                             buckets=LLR_BUCKETS, registry=r),
                     "RAYGEN_PROB": Histogram("raygen_score_prob", "RAYGEN_PROB of the variants scored", ["model"],
                                              buckets=PROB_BUCKETS, registry=r)}
        self.baseline = baseline or {}
        self.min_drift_values = min_drift_values
        self._bins = {k: np.zeros(len(v["edges"]) + 1) for k, v in self.baseline.items()}
        if self.baseline:
            self.drift = Gauge("raygen_drift_psi", "PSI of the scores served since start against the baseline "
                               "profile (NaN until enough values)", ["model", "feature"], registry=r)
            self.drift_n = Gauge("raygen_drift_values", "Scores behind raygen_drift_psi", ["model", "feature"],
                                 registry=r)
            Gauge("raygen_drift_threshold_psi", "PSI above which raygen drift calls a feature drifted",
                  registry=r).set(psi_threshold)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_scores(self, route: str, model: str, results: list[dict]) -> None:
        """Count and histogram one request's results (the scorers' ``as_dict()``: ``llr``, ``prob``,
        ``skip_reason``; a SpliceAI result has no ``llr``); update the drift gauges."""
        self.variants.labels(route).observe(len(results))
        for key, i in WATCHED.items():
            v = np.array([r[i] for r in results if r.get(i) is not None], dtype=float)
            v = v[np.isfinite(v)]
            if key == "RAYGEN_LLR":
                self.scored.labels(model).inc(len(v))
            for x in v:
                self.hist[key].labels(model).observe(float(x))
            if key in self._bins and v.size:
                self._update_drift(key, model, v)
        for r in results:
            if r.get("skip_reason"):
                self.skipped.labels(model, r["skip_reason"]).inc()

    def _update_drift(self, key: str, model: str, v: np.ndarray) -> None:
        base = self.baseline[key]
        self._bins[key] += bin_fractions(v, np.asarray(base["edges"]))[0] * v.size
        n = self._bins[key].sum()
        feature = f"{key} | all"
        self.drift_n.labels(model, feature).set(n)
        value = float(psi(np.asarray(base["fractions"]), self._bins[key] / n)) if n >= self.min_drift_values else np.nan
        self.drift.labels(model, feature).set(value)

    def watch_admission(self, gates: dict) -> None:
        """Gauges of the admission gates (:class:`raygen.serve.admission.AdmissionGate`, by model name): the
        learned limit, variants in flight, the unloaded latency it learned; read at each scrape."""
        r = self.registry
        limit = Gauge("raygen_admission_limit", "Variants in flight the admission gate admits (learned)", ["model"],
                      registry=r)
        flight = Gauge("raygen_admission_in_flight", "Variants in flight through the admission gate", ["model"],
                       registry=r)
        base = Gauge("raygen_admission_unloaded_seconds", "Unloaded latency the admission gate learned "
                     "(NaN until known)", ["model"], registry=r)
        for model, gate in gates.items():
            limit.labels(model).set_function(lambda g=gate: g.limit)
            flight.labels(model).set_function(lambda g=gate: g.in_flight)
            base.labels(model).set_function(lambda g=gate: float("nan") if g.baseline_s is None else g.baseline_s)

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) of a scrape."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Times and counts every HTTP request by route template (outermost layer, so errors count too)."""

    def __init__(self, app: ASGIApp, *, metrics: ServeMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "other"
            self.metrics.observe_request(route, scope.get("method", ""), status["code"], time.perf_counter() - t0)
