"""The Serve application graph: which deployments run, with which options, bound to which arguments.

Layout::

    HTTP -> Serve proxy -> Ingress replica (FastAPI: /v1/*, /healthz, /readyz, /docs, Gradio at /ui)
                               -> Scorer replicas, one deployment per model (@serve.batch around the
                                  scorer raygen.scoring.base.make_scorer builds: a DNA LM or SpliceAI)
                               -> Caller replicas (raygen.calling.call_region; only with data_dirs)

``build_app`` is the Serve application builder (``import_path: raygen.serve.app:build_app`` in
serve_configs/*.yaml); :func:`raygen.serve.service.run_service` starts the same graph in the foreground for
``raygen serve`` and ``raygen demo``. The deployments live in :mod:`raygen.serve.deployments`, the routes in
:mod:`raygen.serve.routes`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from raygen.config import ScoreConfig, ServeConfig
from raygen.scoring.base import SCORER_ENV, ScorerSpec, is_spliceai, scorer_spec
from raygen.serve.auth import resolve_token_digest
from raygen.serve.deployments import CallerDeployment, Ingress, ScorerDeployment
from raygen.serve.options import BATCH_FIELDS, serve_config
from raygen.serve.schemas import display_name

#: Fields a serve config sets elsewhere: ``http_options`` (host, port) and the application's ``name``.
NOT_ARGS = ("host", "port", "app_name")


def build_app(args: dict[str, Any]):
    """Serve application builder: ``serve run raygen.serve.app:build_app model=DIR reference=REF.fa`` or
    ``import_path: raygen.serve.app:build_app`` with ``args:`` (ServeConfig fields) in a config file.

    Deployment options here are defaults: a config file's ``deployments:`` section overrides them
    (replicas, autoscaling, GPUs, the Scorer's ``user_config``).
    """
    misplaced = [k for k in NOT_ARGS if k in args]
    if misplaced:
        raise ValueError(f"{', '.join(misplaced)} do not belong in the application's args: set host and port "
                         "under http_options and the name under applications")
    return build_application(serve_config(args))


def _abs_if_path(p: str | None) -> str | None:
    return str(Path(p).resolve()) if p and Path(p).exists() else p


def portable(a: ServeConfig) -> ServeConfig:
    """``a`` as it travels to the replicas: local paths absolute (replicas may start in another working
    directory), and the API token resolved here (file or environment) so only its SHA-256 travels."""
    digest = resolve_token_digest(token_file=a.token_file, token_env=a.token_env, token_sha256=a.token_sha256)
    call_model = _abs_if_path(a.call_model) if a.call_model != "classical" else a.call_model
    return dataclasses.replace(a, model=_abs_if_path(a.model), more_models=tuple(map(_abs_if_path, a.more_models)),
                               reference=str(Path(a.reference).resolve()),
                               token_file=None, token_sha256=digest, call_model=call_model,
                               drift_profile=_abs_if_path(a.drift_profile),
                               data_dirs=tuple(str(Path(d).resolve()) for d in a.data_dirs))


def scorer_options(a: ServeConfig, extra: dict[str, Any]) -> dict[str, Any]:
    """The Scorer's deployment options; ``extra`` (a config's ``deployments:`` entry) wins."""
    # Admission control is the ingress's (proxy -> Ingress: max_ongoing + max_queued, then 503). Its fan-out
    # to the scorer is bounded by that (ongoing requests x chunks per request), so the scorer queue is not
    # capped by default: a cap there would turn one large but admitted request into a 503.
    # The batch settings travel as user_config too: a redeploy that changes only them reconfigures the running
    # replicas (ScorerDeployment.reconfigure) instead of restarting them.
    opts: dict[str, Any] = dict(max_ongoing_requests=a.max_ongoing_requests, max_queued_requests=-1,
                                ray_actor_options={"num_cpus": a.scorer_cpus, "num_gpus": a.scorer_gpus,
                                                   "runtime_env": {"env_vars": SCORER_ENV}},
                                user_config={k: getattr(a, k) for k in BATCH_FIELDS})
    if a.scorer_replicas != 1:
        opts["num_replicas"] = a.scorer_replicas
    opts.update(extra)
    if "autoscaling_config" in opts:
        opts.pop("num_replicas", None)
    return opts


def served_specs(a: ServeConfig) -> list[ScorerSpec]:
    """The checked models of ``a`` (``model`` first, then ``more_models``), each once: a bad model directory
    or missing SpliceAI weights fail here, before any replica starts."""
    names = list(dict.fromkeys([a.model, *a.more_models]))
    score = ScoreConfig(window=a.window, reverse_complement=a.reverse_complement, batch_size=a.max_batch_size)
    specs = [scorer_spec(m, a.reference, score=score, spliceai=a.spliceai, revision=None if is_spliceai(m) else a.revision,
                         trust_remote_code=a.trust_remote_code).with_runtime(device=a.device, threads=None)
             for m in names]
    seen = [display_name(s.model) for s in specs]
    if len(set(seen)) < len(seen):
        raise ValueError(f"two served models share a name ({', '.join(seen)}): requests could not tell them apart")
    return specs


def scorer_name(i: int) -> str:
    """Deployment name of the i-th served model: ``Scorer`` (the default model, as serve configs name it),
    then ``Scorer2``, ``Scorer3``, ..."""
    return "Scorer" if i == 0 else f"Scorer{i + 1}"


def build_application(cfg: ServeConfig, deployment_options: dict[str, dict[str, Any]] | None = None):
    """The bound application of ``cfg``; ``deployment_options`` (``{"Scorer": {...}, "Ingress": {...}}``, as
    in a config's ``deployments:``) override the defaults."""
    a = portable(cfg)
    extra = deployment_options or {}
    scorers = {display_name(spec.model): ScorerDeployment.options(
        name=scorer_name(i), **scorer_options(a, extra.get(scorer_name(i), {}))).bind(
        spec, max_batch_size=a.max_batch_size, batch_wait_timeout_s=a.batch_wait_timeout_s)
        for i, spec in enumerate(served_specs(a))}
    caller = None
    if a.data_dirs:  # no data directories: /v1/call answers 403 and no caller replica is started
        caller_opts: dict[str, Any] = {"max_ongoing_requests": a.caller_max_ongoing_requests,
                                       "ray_actor_options": {"num_cpus": a.caller_cpus}, **extra.get("Caller", {})}
        caller = CallerDeployment.options(**caller_opts).bind(a.reference, a.call_model, a.call)
    ingress_opts: dict[str, Any] = {"max_ongoing_requests": a.max_ongoing_requests,
                                    "max_queued_requests": a.max_queued_requests,
                                    # overload answers: 503 at once, telling clients when to come back
                                    "backpressure_config": {"status_code": 503,
                                                            "retry_after_s": a.retry_after_s or None},
                                    "ray_actor_options": {"num_cpus": a.ingress_cpus}, **extra.get("Ingress", {})}
    return Ingress.options(**ingress_opts).bind(scorers, a, caller)


__all__ = ["build_app", "build_application"]
