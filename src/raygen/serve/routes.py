"""The FastAPI app of one ingress replica: ``/v1`` routes, ops routes, OpenAPI docs and the Gradio UI at ``/ui``.

:func:`make_app` is the factory the Ingress deployment calls inside its replica (a FastAPI app with Gradio
mounted cannot be pickled, so it is never built in the driver). Each ``add_*`` function adds one group of
routes; all of them reach the model side through a :class:`raygen.serve.backend.Backend`.

Positions are 1-based (VCF POS) in every body.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path

import numpy as np

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
import fastapi_offline
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from ray.exceptions import RayActorError
from ray.serve.exceptions import DeploymentUnavailableError, ReplicaUnavailableError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from raygen import __version__
from raygen.errors import raygen_cause
from raygen.serve.admission import Overloaded
from raygen.serve.auth import check_bearer, resolve_token_digest
from raygen.serve.backend import INFO_MAX_AGE_S, Backend, ScorerStalled, UnknownModel
from raygen.serve.calls import BamNotFound, CallRequestInvalid, PathRefused, check_call_request, client_message
from raygen.serve.headers import ProvenanceHeaders, provenance_headers
from raygen.serve.ism import BASES as ISM_BASES
from raygen.serve.ism import ism_layout
from raygen.serve.logs import RequestLogMiddleware
from raygen.serve.metrics import MetricsMiddleware, ServeMetrics, load_baseline
from raygen.serve.normalize import normalize_items
from raygen.serve.parse import FieldError, RequestInvalid, read_items, read_request, reference_errors
from raygen.serve.reference import SharedReference
from raygen.serve.schemas import (
    CallRequest,
    CallResponse,
    ExplainRequest,
    NormalizeRequest,
    NormalizeResponse,
    NormalizeVariantIn,
    OnInvalid,
    ScoreRequest,
    ScoreResponse,
    VariantIn,
    display_name,
)
from raygen.variant import Variant

log = logging.getLogger("raygen.serve")

#: The FastAPI favicon fastapi-offline ships beside Swagger UI's files (its /docs pages use it too).
FAVICON = Path(fastapi_offline.__file__).parent / "static" / "favicon.png"
VCF_EXAMPLE = "#CHROM\tPOS\tID\tREF\tALT\nchr1\t1000\t.\tA\tG\n"


def make_app(backend: Backend, cfg) -> FastAPI:
    """The app of one ingress replica, configured by ``cfg`` (the serve options)."""
    reference = SharedReference(cfg.reference)
    digest = resolve_token_digest(token_file=cfg.token_file, token_env=cfg.token_env, token_sha256=cfg.token_sha256)
    # Swagger UI's script and styles come from the fastapi-offline package, not a CDN: /docs works air-gapped.
    app = FastAPIOffline(
        title="raygen",
        version=__version__,
        description="Variant normalization (bcftools-norm-exact) and DNA language model variant scoring. "
        "Positions are 1-based (VCF POS). POST bodies are JSON or a small VCF text (Content-Type: text/plain). "
        + ("All /v1 routes need `Authorization: Bearer <token>`." if digest else ""),
        docs_url="/docs",
        redoc_url=None,
    )
    add_error_handlers(app)
    metrics = ServeMetrics(load_baseline(cfg.drift_profile, cfg.model) if cfg.drift_profile else None)
    metrics.watch_admission(getattr(backend, "gates", {}))
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(bearer_check(digest))])
    add_variant_routes(v1, backend, cfg, reference, metrics)
    add_call_route(v1, backend, cfg, reference)
    add_explain_route(v1, backend, cfg, reference)
    app.include_router(v1)
    add_ops_routes(app, backend, cfg)
    add_metrics_route(app, metrics)
    app.openapi = lambda: openapi_schema(app)  # type: ignore[method-assign]
    if cfg.ui:
        # Gradio takes seconds to import: only replicas that serve the UI load it.
        from raygen.serve.ui import mount_ui

        mount_ui(app, backend, reference, cfg, digest)
    app.add_middleware(ProvenanceHeaders, headers=provenance_headers(cfg.model, cfg.revision, cfg.reference))
    app.add_middleware(RequestLogMiddleware, max_body_bytes=cfg.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts the log layer's 413s and 500s
    return app


#: What a handle call raises when the replica behind it died or is being replaced (answered 503 + Retry-After).
REPLICA_GONE = (RayActorError, ReplicaUnavailableError, DeploymentUnavailableError, ScorerStalled)


def error_body(request: Request, message: str, detail: list[dict] | None = None) -> dict:
    """Every error answer: a one-line ``error``, ``detail`` items naming fields, and the request id."""
    return {"error": message, "detail": detail or [], "request_id": getattr(request.state, "request_id", None)}


def add_error_handlers(app: FastAPI) -> None:
    """Our :class:`RequestInvalid`, FastAPI's validation errors and HTTP errors, all in the error shape."""

    @app.exception_handler(RequestInvalid)
    async def _invalid(request: Request, exc: RequestInvalid):
        return JSONResponse(error_body(request, str(exc), [e.as_dict() for e in exc.errors]), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errs = [FieldError(tuple(e.get("loc", ())), e.get("msg", ""), e.get("type", "")) for e in exc.errors()]
        return JSONResponse(error_body(request, str(RequestInvalid(errs)), [e.as_dict() for e in errs]),
                            status_code=422)

    @app.exception_handler(Overloaded)
    async def _overloaded(request: Request, exc: Overloaded):
        return JSONResponse(error_body(request, str(exc)), status_code=503,
                            headers={"Retry-After": str(math.ceil(exc.retry_after_s))})

    async def _replica_gone(request: Request, exc: Exception):
        # The Scorer (or Caller) replica died under the request, or Serve is replacing it: the service comes back
        # by itself (tests/serve/test_api.py measures how soon), so this is a 503 to retry, not a 500.
        log.warning({"event": "replica_unavailable", "reason": type(exc).__name__})
        return JSONResponse(error_body(request, "a model replica is restarting; retry shortly"), status_code=503,
                            headers={"Retry-After": "1"})

    for gone in REPLICA_GONE:
        app.add_exception_handler(gone, _replica_gone)

    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException and Starlette's (404, 405, 400)
    async def _http(request: Request, exc: StarletteHTTPException):
        return JSONResponse(error_body(request, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))


def bearer_check(digest: str | None):
    """The ``/v1`` dependency: 401 unless the request carries the configured bearer token (auth off: none)."""
    bearer = HTTPBearer(auto_error=False, description="API token (only when the server was started with one)")

    async def require_token(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
        # `cred` only declares the scheme in the OpenAPI docs (their Authorize button); the check is ours.
        if not check_bearer(request.headers.get("authorization"), digest):
            raise HTTPException(401, "missing or wrong bearer token: send `Authorization: Bearer <token>`",
                                headers={"WWW-Authenticate": "Bearer"})

    return require_token


def body_spec(model: type[BaseModel]) -> dict:
    """OpenAPI ``requestBody`` of a route that takes ``model`` as JSON or a VCF text body."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}},
        "text/plain": {"schema": {"type": "string"}, "example": VCF_EXAMPLE}}}}


def check_count(request: Request, n: int, limit: int) -> None:
    """Record the variant count for the request log; 413 above ``limit``."""
    request.state.n_variants = n
    if n > limit:
        raise HTTPException(413, f"{n} variants in one request; the limit is {limit}: split the request")


async def ref_gate(variants: list[Variant], reference: SharedReference) -> None:
    """422 naming every unknown contig and REF mismatch (``on_invalid=reject``)."""
    locs = [("body", "variants", i) for i in range(len(variants))]
    # A few FASTA lookups cost less than a hop to the thread pool; big requests take the hop.
    errors = (reference_errors(variants, locs, reference) if len(variants) <= 64
              else await run_in_threadpool(reference_errors, variants, locs, reference))
    if errors:
        raise RequestInvalid(errors)


def served_model(backend: Backend, name: str | None) -> str | None:
    """``name`` when this server serves it (None: the default model), else the 422 naming the served ones."""
    if name is not None and name not in backend.names:
        raise RequestInvalid([FieldError(("body", "model"), f"model {name!r} is not served here (served: "
                                         f"{', '.join(backend.names)})", "unknown_model")])
    return name


def add_variant_routes(v1: APIRouter, backend: Backend, cfg, reference: SharedReference,
                       metrics: ServeMetrics | None = None) -> None:
    """``POST /v1/score``, ``POST /v1/normalize`` and ``GET /v1/models``."""

    @v1.post("/score", response_model=ScoreResponse, openapi_extra=body_spec(ScoreRequest),
             summary="Score variants with a served model",
             responses={413: {"description": "body or variant count over the limit"},
                        422: {"description": "invalid field, unknown contig or REF mismatch (named)"},
                        503: {"description": "overloaded: retry later"}})
    async def score(request: Request, response: Response, on_invalid: OnInvalid = Query(
            "reject", description="reject: 422 for an unknown contig or REF mismatch; skip: score the rest and "
            "report skip_reason per variant, as `raygen score` does"),
            model: str | None = Query(None, description="served model to score with (a VCF text body has no "
                                      "`model` field); default: the first")) -> dict:
        t0 = time.perf_counter()
        req, items = read_request(await request.body(), request.headers.get("content-type", ""), ScoreRequest,
                                  VariantIn, split_alts=True)
        name = model or (req.model if req is not None else None)  # type: ignore[attr-defined]
        check_count(request, len(items), cfg.max_variants_per_request)
        variants = [Variant(v.chrom, v.pos, v.ref.upper(), v.alt.upper()) for v in items]
        if on_invalid == "reject":
            await ref_gate(variants, reference)
        try:  # scores first: a request the admission gate refuses (503) costs no hop to the Scorer
            t1 = time.perf_counter()
            results = await backend.score(variants, name)
            t2 = time.perf_counter()
            info = await backend.info(name, max_age_s=INFO_MAX_AGE_S)
        except UnknownModel as exc:
            raise RequestInvalid([FieldError(("body", "model"), str(exc), "unknown_model")]) from None
        if metrics is not None:
            metrics.observe_scores("/v1/score", info.get("model", ""), results)
        # Where an answer's time went (ms), for clients and benchmarks/serve_overload.py: before the Scorer (body,
        # validation, REF checks), the Scorer call (router, its queue, batching, the model), the whole handler.
        response.headers["Server-Timing"] = (f"pre;dur={(t1 - t0) * 1e3:.2f}, scorer;dur={(t2 - t1) * 1e3:.2f}, "
                                             f"app;dur={(time.perf_counter() - t0) * 1e3:.2f}")
        # A plain dict: FastAPI validates it once against response_model.
        return {"results": [{"chrom": v.chrom, "pos": v.pos, "ref": v.ref, "alt": v.alt, **r}
                            for v, r in zip(variants, results)], "model": info}

    @v1.post("/normalize", response_model=NormalizeResponse, openapi_extra=body_spec(NormalizeRequest),
             summary="Left-align and trim variants exactly as `bcftools norm -f REF`")
    async def normalize(request: Request, on_invalid: OnInvalid = Query(
            "reject", description="reject: 422 naming records that cannot be normalized; skip: report `error` "
            "per record")) -> NormalizeResponse:
        items = read_items(await request.body(), request.headers.get("content-type", ""), NormalizeRequest,
                           NormalizeVariantIn, split_alts=False)
        check_count(request, len(items), cfg.max_variants_per_request)
        results, errors = await run_in_threadpool(normalize_items, items, reference)
        if errors and on_invalid == "reject":
            raise RequestInvalid(errors)
        return NormalizeResponse(results=results)

    @v1.get("/models", summary="The served models (the default first), with licence and provenance")
    async def models() -> dict:
        return {"models": await backend.models()}


def add_explain_route(v1: APIRouter, backend: Backend, cfg, reference: SharedReference) -> None:
    """``POST /v1/explain``: what the UI draws for a variant, as JSON (see the route's summary), with the served
    model's per-position attributions of the variant's score (:meth:`raygen.scoring.scorer.Scorer.attributions`;
    null and why for SpliceAI)."""

    @v1.post("/explain", summary="What the UI draws for a variant: a language model's in-silico mutagenesis (the LLR "
             "of every single-base substitution within the flank; rows A, C, G, T, columns positions) and its "
             "per-position gradient x input attributions of the variant's score, or the served model's own detail "
             "(SpliceAI: per gene its delta scores and REF/ALT splice-site tracks; attributions null, with why)",
             responses={422: {"description": "invalid field, unknown contig, REF mismatch or flank too large"}})
    async def explain(req: ExplainRequest, request: Request) -> dict:
        flank = req.flank or cfg.ism_flank
        limit = max(cfg.ism_flank, cfg.ism_max_flank)
        if flank > limit:
            raise RequestInvalid([FieldError(("body", "flank"), f"flank {flank} is above this server's limit "
                                             f"{limit} (ism_max_flank)", "too_large")])
        focus = Variant(req.chrom, req.pos, req.ref.upper(), req.alt.upper())
        await ref_gate([focus], reference)
        model = served_model(backend, req.model)
        detail, attr = await asyncio.gather(backend.detail(focus, model), backend.attributions(focus, model))
        if detail is not None:  # the scorer's own picture data (SpliceAI: its tracks), as the UI draws it
            return {"variant": {"chrom": focus.chrom, "pos": focus.pos, "ref": focus.ref, "alt": focus.alt},
                    "detail": detail, "model": await backend.info(model), **attr}
        layout = await run_in_threadpool(ism_layout, reference, focus.chrom, focus.pos, flank)
        check_count(request, len(layout.variants) + 1, cfg.max_variants_per_request * 4)
        results, info = await asyncio.gather(backend.score([focus, *layout.variants], model), backend.info(model))
        grid = layout.matrix(r.get("llr") for r in results[1:])
        head = results[0]
        return {"variant": {"chrom": focus.chrom, "pos": focus.pos, "ref": focus.ref, "alt": focus.alt,
                            "llr": head.get("llr"), "prob": head.get("prob"), "skip_reason": head.get("skip_reason")},
                "first_pos": layout.first_pos, "ref_bases": layout.ref_bases, "rows": list(ISM_BASES),
                "llr": [[None if np.isnan(x) else float(x) for x in row] for row in grid], "model": info,
                **attr,
                "note": "llr[row][col]: LLR of substituting rows[row] at position first_pos + col (1-based); null "
                        "at the reference base and where unscored. attributions[i]: gradient x input of the "
                        "variant's score (attributions_target) at window index i (0-based), reference position "
                        "attributions_first_pos + i (1-based), over the model's whole window."}


CALL_RESPONSES = {
    200: {"content": {"text/plain": {"example": "##fileformat=VCFv4.2\n..."}},
          "description": "calls as JSON, or VCF text with `\"format\": \"vcf\"`"},
    403: {"description": "path outside the data directories, `..`, a symlink leading out, or no data directories"},
    404: {"description": "no such BAM under the data directories"},
    413: {"description": "region larger than max_call_bp"},
    422: {"description": "invalid field, unknown contig, BAM without index"},
}


def checked_call(req: CallRequest, cfg, reference: SharedReference) -> tuple[str, str]:
    """The real BAM path and region of a call request, or the HTTP error that refuses it."""
    try:
        return check_call_request(req.bam, req.region, cfg.data_dirs, reference.lengths, cfg.max_call_bp)
    except PathRefused as exc:
        raise HTTPException(403, str(exc)) from None
    except BamNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except CallRequestInvalid as exc:
        if exc.status == 413:
            raise HTTPException(413, str(exc)) from None
        raise RequestInvalid([FieldError(("body", exc.field), str(exc), exc.kind)]) from None


def add_call_route(v1: APIRouter, backend: Backend, cfg, reference: SharedReference) -> None:
    """``POST /v1/call``: variant calls in a region of a BAM under the data directories."""

    @v1.post("/call", response_model=CallResponse, responses=CALL_RESPONSES,
             summary="Call variants in a region of a BAM under the server's data directories")
    async def call(req: CallRequest, request: Request):
        bam, region = checked_call(req, cfg, reference)
        try:
            out = await backend.call(bam, region, req.format == "vcf", req.pass_only)
        except Exception as exc:  # noqa: BLE001 - input problems found by the caller become 422s
            cause = raygen_cause(exc)
            if cause is None:
                raise
            raise RequestInvalid([FieldError(("body", "bam"), client_message(cause, bam, req.bam, cfg.data_dirs),
                                             "call_error")]) from None
        request.state.n_variants = len(out["calls"])
        if req.format == "vcf":
            return PlainTextResponse(out["vcf"], media_type="text/plain; charset=utf-8")
        return {"bam": req.bam, "region": region, "model": display_name(cfg.call_model), "counts": out["counts"],
                "seconds": out["seconds"], "calls": out["calls"]}


def add_ops_routes(app: FastAPI, backend: Backend, cfg) -> None:
    """``GET /healthz`` (process alive) and ``GET /readyz`` (model loaded and answering); no token needed."""

    @app.get("/healthz", summary="Process alive", tags=["ops"])
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", summary="Model loaded and answering", tags=["ops"])
    async def readyz(request: Request):
        try:
            ok = await asyncio.wait_for(backend.ready(), timeout=5.0)
            info = await asyncio.wait_for(backend.info(), timeout=5.0)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported without internals
            log.warning({"event": "not_ready", "reason": type(exc).__name__})
            ok, info = False, {}
        if not ok:
            return JSONResponse(error_body(request, "model not ready"), status_code=503)
        return {"ready": True, "model": info.get("model"), "revision": info.get("revision", ""),
                "reference": Path(cfg.reference).name}

    # What browsers ask of any site (the UI's pages link /manifest.json): answered, so they are not 404 noise.
    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(FAVICON, media_type="image/png")

    @app.get("/manifest.json", include_in_schema=False)
    async def manifest() -> dict:
        return {"name": "raygen variant explorer", "short_name": "raygen", "start_url": "/ui/",
                "display": "standalone", "icons": [{"src": "/favicon.ico", "type": "image/png", "sizes": "32x32"}]}


def add_metrics_route(app: FastAPI, metrics: ServeMetrics) -> None:
    """``GET /metrics``: Prometheus text exposition (:mod:`raygen.serve.metrics`); no token, as /healthz."""

    @app.get("/metrics", summary="Prometheus metrics (text format)", tags=["ops"],
             response_class=PlainTextResponse)
    async def prometheus() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)


def openapi_schema(app: FastAPI) -> dict:
    """FastAPI's schema plus the JSON body models of the routes that read their body themselves."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (ScoreRequest, NormalizeRequest):
            js = model.model_json_schema(ref_template="#/components/schemas/{model}")
            comps.update(js.pop("$defs", {}))
            comps[model.__name__] = js
        app.openapi_schema = schema
    return app.openapi_schema
