"""The Serve application: a FastAPI ingress (API + Gradio UI) in front of batched model replicas.

Layout::

    HTTP -> Serve proxy -> Ingress replica (FastAPI: /v1/*, /healthz, /readyz, /docs, Gradio at /ui)
                               -> Scorer replicas (@serve.batch around raygen.scoring.Scorer)
                               -> Caller replicas (raygen.calling.call_region; only with data_dirs)

``make_app`` builds the FastAPI app INSIDE the ingress replica (``__serve_build_asgi_app__``): a FastAPI
app with Gradio mounted cannot be pickled, so it must never be built in the driver. ``build_app`` is the
Serve application builder (``import_path: raygen.serve.app:build_app`` in serve_configs/*.yaml), and
``run_service`` starts it in the foreground for ``raygen serve`` and ``raygen demo``.
"""


import asyncio
import logging
import signal
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator
from ray import serve

from raygen.config import DEFAULTS, SERVE_LOGGING
from raygen.serve.core import (
    FieldError,
    RequestInvalid,
    chunks,
    parse_vcf_text,
    pydantic_errors,
    reference_errors,
    validate_items,
)
from raygen.serve.caller_deployment import CallerDeployment
from raygen.serve.scorer_deployment import ResultTuple, ScorerDeployment
from raygen.variant import Variant

log = logging.getLogger("raygen.serve")
S = DEFAULTS.serve


class AppArgs(BaseModel):
    """Arguments of the Serve application (the ``args:`` of a serve config, or ``raygen serve`` flags)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="model directory (save_pretrained) or hub id")
    reference: str = Field(description="indexed reference FASTA the variants refer to")
    window: int = Field(DEFAULTS.score.window, ge=8, description="reference bases around a variant fed to the model")
    revision: str | None = None
    trust_remote_code: bool = False
    device: str = "auto"
    reverse_complement: bool = DEFAULTS.score.reverse_complement
    max_batch_size: int = Field(S.max_batch_size, ge=1, description="variants per model batch across requests")
    batch_wait_timeout_s: float = Field(S.batch_wait_timeout_s, ge=0)
    max_ongoing_requests: int = Field(S.max_ongoing_requests, ge=1)
    max_queued_requests: int = Field(S.max_queued_requests, ge=-1, description="-1: unbounded")
    max_variants_per_request: int = Field(S.max_variants_per_request, ge=1)
    max_body_bytes: int = Field(S.max_body_bytes, ge=1024)
    token_env: str | None = S.token_env
    token_file: str | None = None
    token_sha256: str | None = None
    scorer_replicas: int = Field(S.scorer_replicas, ge=1)
    scorer_cpus: float = Field(S.scorer_cpus, ge=0)
    scorer_gpus: float = Field(S.scorer_gpus, ge=0)
    ingress_cpus: float = Field(S.ingress_cpus, ge=0)
    ism_flank: int = Field(S.ism_flank, ge=1)
    ui: bool = True
    data_dirs: list[str] = Field(default_factory=list, description="directories whose BAMs POST /v1/call may "
                                 "read (with their subdirectories); empty: /v1/call refuses every path")
    call_model: str = Field(S.call_model, description="classical, or a `raygen train caller` model directory")
    max_call_bp: int = Field(S.max_call_bp, ge=1, description="largest region POST /v1/call accepts (413 above)")
    caller_cpus: float = Field(S.caller_cpus, ge=0)

    @model_validator(mode="after")
    def _check(self) -> "AppArgs":
        if self.max_ongoing_requests < self.max_batch_size:
            raise ValueError(f"max_ongoing_requests ({self.max_ongoing_requests}) must be >= max_batch_size "
                             f"({self.max_batch_size}), or batches can never fill")
        return self


class Backend(Protocol):
    """What the routes and the UI need from the model side."""

    async def score(self, variants: Sequence[Variant]) -> list[ResultTuple]: ...
    async def info(self) -> dict[str, Any]: ...
    async def ready(self) -> bool: ...
    async def call(self, bam: str, region: str, vcf: bool = False, pass_only: bool = False) -> dict[str, Any]: ...


class ScorerBackend:
    """Talks to the Scorer deployment: cuts requests into chunks of at most ``max_batch_size`` variants
    (``@serve.batch`` then merges chunks of concurrent requests into model batches); and to the Caller
    deployment, when the server was started with data directories."""

    def __init__(self, handle, max_batch_size: int, caller=None):
        self.handle = handle
        self.caller = caller
        self.max_batch_size = max_batch_size
        self._info: dict[str, Any] | None = None

    async def call(self, bam: str, region: str, vcf: bool = False, pass_only: bool = False) -> dict[str, Any]:
        if self.caller is None:
            raise RuntimeError("no caller deployment: the server was started without --data-dir")
        return await self.caller.call.remote(bam, region, vcf, pass_only)

    async def score(self, variants: Sequence[Variant]) -> list[ResultTuple]:
        tuples = [(v.chrom, v.pos, v.ref, v.alt) for v in variants]
        if len(tuples) <= self.max_batch_size:
            return await self.handle.score.remote(tuples)
        parts = await asyncio.gather(*[self.handle.score.remote(list(c)) for c in chunks(tuples, self.max_batch_size)])
        return [r for part in parts for r in part]

    async def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = await self.handle.info.remote()
        return self._info

    async def ready(self) -> bool:
        return bool(await self.handle.ready.remote())


def _read_json_or_vcf(body: bytes, content_type: str, model: type[BaseModel], item_model: type[BaseModel],
                      split_alts: bool) -> list:
    """Items of a JSON body (``{"variants": [...]}``) or a small VCF text body, validated.

    JSON errors are located as ``body.variants.<i>.<field>``; VCF errors as ``body.line.<n>.<field>``.
    """
    from pydantic import ValidationError

    text = body.decode("utf-8", errors="replace")
    if "json" in content_type or (not content_type.startswith("text/") and text.lstrip().startswith("{")):
        try:
            return list(model.model_validate_json(body).variants)  # type: ignore[attr-defined]
        except ValidationError as exc:
            raise RequestInvalid(pydantic_errors(exc)) from None
    records = parse_vcf_text(text, split_alts=split_alts)
    return validate_items(item_model, [(("body", "line", n), rec) for n, rec in records])


def make_app(backend: Backend, args: AppArgs):
    """The FastAPI app of one ingress replica: API routes, OpenAPI docs, and the Gradio UI at ``/ui``."""
    from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.openapi.utils import get_openapi
    from fastapi.responses import JSONResponse, PlainTextResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from starlette.concurrency import run_in_threadpool

    from raygen import __version__
    from raygen.io.fasta import Reference
    from raygen.serve.auth import check_bearer, resolve_token_digest
    from raygen.serve.logs import RequestLogMiddleware
    from raygen.serve.schemas import (
        CallRequest,
        CallResponse,
        NormalizeRequest,
        NormalizeResponse,
        NormalizeVariantIn,
        OnInvalid,
        ScoreRequest,
        ScoreResponse,
        VariantIn,
    )

    reference = Reference(args.reference)
    digest = resolve_token_digest(token_file=args.token_file, token_env=args.token_env, token_sha256=args.token_sha256)
    app = FastAPI(
        title="raygen",
        version=__version__,
        description="Variant normalization (bcftools-norm-exact) and DNA language model variant scoring. "
        "Positions are 1-based (VCF POS). POST bodies are JSON or a small VCF text (Content-Type: text/plain). "
        + ("All /v1 routes need `Authorization: Bearer <token>`." if digest else ""),
        docs_url="/docs",
        redoc_url=None,
    )

    def error_body(request: Request, message: str, detail: list[dict] | None = None) -> dict:
        return {"error": message, "detail": detail or [], "request_id": getattr(request.state, "request_id", None)}

    @app.exception_handler(RequestInvalid)
    async def _invalid(request: Request, exc: RequestInvalid):
        return JSONResponse(error_body(request, str(exc), [e.as_dict() for e in exc.errors]), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errs = [FieldError(tuple(e.get("loc", ())), e.get("msg", ""), e.get("type", "")) for e in exc.errors()]
        return JSONResponse(error_body(request, str(RequestInvalid(errs)), [e.as_dict() for e in errs]),
                            status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        return JSONResponse(error_body(request, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    bearer = HTTPBearer(auto_error=False, description="API token (only when the server was started with one)")

    async def require_token(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(bearer)):
        # `cred` only declares the scheme in the OpenAPI docs (their Authorize button); the check is ours.
        if not check_bearer(request.headers.get("authorization"), digest):
            raise HTTPException(401, "missing or wrong bearer token: send `Authorization: Bearer <token>`",
                                headers={"WWW-Authenticate": "Bearer"})

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_token)])

    def check_count(request: Request, n: int) -> None:
        request.state.n_variants = n
        if n > args.max_variants_per_request:
            raise HTTPException(413, f"{n} variants in one request; the limit is {args.max_variants_per_request}: "
                                "split the request")

    vcf_example = "#CHROM\tPOS\tID\tREF\tALT\nchr1\t1000\t.\tA\tG\n"

    def body_spec(model: type[BaseModel]) -> dict:
        return {"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}},
            "text/plain": {"schema": {"type": "string"}, "example": vcf_example}}}}

    @v1.post("/score", response_model=ScoreResponse, openapi_extra=body_spec(ScoreRequest),
             summary="Score variants with the served model",
             responses={413: {"description": "body or variant count over the limit"},
                        422: {"description": "invalid field, unknown contig or REF mismatch (named)"},
                        503: {"description": "overloaded: retry later"}})
    async def score(request: Request, on_invalid: OnInvalid = Query(
            "reject", description="reject: 422 for an unknown contig or REF mismatch; skip: score the rest and "
            "report skip_reason per variant, as `raygen score` does")) -> dict:
        body = await request.body()
        items = _read_json_or_vcf(body, request.headers.get("content-type", ""), ScoreRequest, VariantIn, True)
        check_count(request, len(items))
        variants = [Variant(v.chrom, v.pos, v.ref.upper(), v.alt.upper()) for v in items]
        if on_invalid == "reject":
            locs = [("body", "variants", i) for i in range(len(variants))]
            # A few FASTA lookups cost less than a hop to the thread pool; big requests take the hop.
            errors = (reference_errors(variants, locs, reference) if len(variants) <= 64
                      else await run_in_threadpool(reference_errors, variants, locs, reference))
            if errors:
                raise RequestInvalid(errors)
        results = await backend.score(variants)
        # A plain dict: FastAPI validates it once against response_model.
        return {"results": [{"chrom": v.chrom, "pos": v.pos, "ref": v.ref, "alt": v.alt, "llr": llr, "prob": prob,
                             "skip_reason": skip} for v, (llr, prob, skip) in zip(variants, results)],
                "model": await backend.info()}

    @v1.post("/normalize", response_model=NormalizeResponse, openapi_extra=body_spec(NormalizeRequest),
             summary="Left-align and trim variants exactly as `bcftools norm -f REF`")
    async def normalize(request: Request, on_invalid: OnInvalid = Query(
            "reject", description="reject: 422 naming records that cannot be normalized; skip: report `error` "
            "per record")) -> NormalizeResponse:
        body = await request.body()
        items = _read_json_or_vcf(body, request.headers.get("content-type", ""), NormalizeRequest,
                                  NormalizeVariantIn, False)
        check_count(request, len(items))
        results, errors = await run_in_threadpool(_normalize_all, items, reference)
        if errors and on_invalid == "reject":
            raise RequestInvalid(errors)
        return NormalizeResponse(results=results)

    @v1.get("/models", summary="The served model(s)")
    async def models() -> dict:
        return {"models": [await backend.info()]}

    @v1.post("/call", response_model=CallResponse,
             summary="Call variants in a region of a BAM under the server's --data-dir",
             responses={200: {"content": {"text/plain": {"example": "##fileformat=VCFv4.2\n..."}},
                              "description": "calls as JSON, or VCF text with `\"format\": \"vcf\"`"},
                        403: {"description": "path outside the data directories, `..`, a symlink leading out, or "
                              "no --data-dir"},
                        404: {"description": "no such BAM under the data directories"},
                        413: {"description": "region larger than max_call_bp"},
                        422: {"description": "invalid field, unknown contig, BAM without index"}})
    async def call(req: CallRequest, request: Request):
        from raygen.errors import raygen_cause
        from raygen.serve.calls import BamNotFound, CallRequestInvalid, PathRefused, check_call_request

        try:
            bam, region = check_call_request(req.bam, req.region, args.data_dirs, reference.lengths,
                                             args.max_call_bp)
        except PathRefused as exc:
            raise HTTPException(403, str(exc)) from None
        except BamNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except CallRequestInvalid as exc:
            if exc.status == 413:
                raise HTTPException(413, str(exc)) from None
            raise RequestInvalid([FieldError(("body", exc.field), str(exc), exc.kind)]) from None
        try:
            out = await backend.call(bam, region, req.format == "vcf", req.pass_only)
        except Exception as exc:  # noqa: BLE001 - input problems found by the caller become 422s
            cause = raygen_cause(exc)
            if cause is None:
                raise
            msg = str(cause).strip().splitlines()
            raise RequestInvalid([FieldError(("body", "bam"), msg[-1] if msg else type(cause).__name__,
                                             "call_error")]) from None
        request.state.n_variants = len(out["calls"])
        if req.format == "vcf":
            return PlainTextResponse(out["vcf"], media_type="text/plain; charset=utf-8")
        return {"bam": req.bam, "region": region, "model": args.call_model, "counts": out["counts"],
                "seconds": out["seconds"], "calls": out["calls"]}

    app.include_router(v1)

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
        return {"ready": True, "model": info.get("model"), "reference": Path(args.reference).name}

    def custom_openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (ScoreRequest, NormalizeRequest):
                js = model.model_json_schema(ref_template="#/components/schemas/{model}")
                comps.update(js.pop("$defs", {}))
                comps[model.__name__] = js
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]

    if args.ui:
        import gradio as gr

        from raygen.serve.ui import build_ui

        blocks = build_ui(backend, reference, args)
        gr.mount_gradio_app(app, blocks, path="/ui", auth=(lambda _user, password: check_bearer(
            f"Bearer {password}", digest)) if digest else None,
            auth_message="Any user name; the API token as password." if digest else None,
            max_file_size=args.max_body_bytes, show_error=False, footer_links=["api"])

    app.add_middleware(RequestLogMiddleware, max_body_bytes=args.max_body_bytes)
    return app


def _normalize_all(items: list, reference) -> tuple[list[dict], list[FieldError]]:
    """Normalize each record with the same pure function as ``raygen normalize``."""
    from raygen.errors import InputError
    from raygen.normalize.leftalign import normalize_variant

    results, errors = [], []
    for i, it in enumerate(items):
        alts = it.alt.split(",")
        try:
            pos, ref, nalts = normalize_variant(it.chrom, it.pos, it.ref, alts, reference)
            err = None
        except (ValueError, InputError) as exc:
            field = "chrom" if it.chrom not in reference else "ref"
            errors.append(FieldError(("body", "variants", i, field), str(exc), "normalize_error"))
            pos, ref, nalts, err = it.pos, it.ref, alts, str(exc)
        results.append({"chrom": it.chrom, "pos": pos, "ref": ref, "alt": ",".join(nalts),
                        "changed": (pos, ref, list(nalts)) != (it.pos, it.ref, alts), "input": it, "error": err})
    return results, errors


@serve.deployment(
    name="Ingress",
    max_ongoing_requests=S.max_ongoing_requests,
    max_queued_requests=S.max_queued_requests,
    ray_actor_options={"num_cpus": S.ingress_cpus},
    logging_config=SERVE_LOGGING,
)
@serve.ingress()
class Ingress:
    """HTTP entry replica: builds :func:`make_app` in the replica, talks to the Scorer through a handle."""

    def __init__(self, scorer, args: dict, caller=None):
        from raygen.serve.logs import setup_request_logging

        setup_request_logging()
        self._scorer = scorer
        self._caller = caller
        self._args = AppArgs.model_validate(args)

    def __serve_build_asgi_app__(self):
        return make_app(ScorerBackend(self._scorer, self._args.max_batch_size, self._caller), self._args)


def _abs_if_path(p: str | None) -> str | None:
    return str(Path(p).resolve()) if p and Path(p).exists() else p


def build_app(args: AppArgs):
    """Serve application builder: ``serve run raygen.serve.app:build_app model=DIR reference=REF.fa`` or
    ``import_path: raygen.serve.app:build_app`` with ``args:`` in a config file.

    Deployment options here are defaults: a config file's ``deployments:`` section overrides them
    (replicas, autoscaling, GPUs).
    """
    return build_application(args)


def build_application(args: AppArgs | dict, deployment_options: dict[str, dict[str, Any]] | None = None):
    """The bound application; ``deployment_options`` (``{"Scorer": {...}, "Ingress": {...}}``, as in a
    config's ``deployments:``) override the defaults. The API token, if any, is resolved here (file or
    environment) and only its SHA-256 travels to the replicas.
    """
    from raygen.serve.auth import resolve_token_digest

    a = args if isinstance(args, AppArgs) else AppArgs.model_validate(args)
    digest = resolve_token_digest(token_file=a.token_file, token_env=a.token_env, token_sha256=a.token_sha256)
    # Replicas may start in another working directory: local paths travel absolute.
    a = a.model_copy(update={"model": _abs_if_path(a.model), "reference": str(Path(a.reference).resolve()),
                             "token_file": None, "token_sha256": digest,
                             "data_dirs": [str(Path(d).resolve()) for d in a.data_dirs],
                             "call_model": _abs_if_path(a.call_model) if a.call_model != "classical" else a.call_model})
    extra = deployment_options or {}
    # Admission control is the ingress's (proxy -> Ingress: max_ongoing + max_queued, then 503). Its fan-out
    # to the scorer is bounded by that (ongoing requests x chunks per request), so the scorer queue is not
    # capped by default: a cap there would turn one large but admitted request into a 503.
    scorer_opts: dict[str, Any] = dict(
        max_ongoing_requests=a.max_ongoing_requests, max_queued_requests=-1,
        ray_actor_options={"num_cpus": a.scorer_cpus, "num_gpus": a.scorer_gpus})
    if a.scorer_replicas != 1:
        scorer_opts["num_replicas"] = a.scorer_replicas
    scorer_opts.update(extra.get("Scorer", {}))
    if "autoscaling_config" in scorer_opts:
        scorer_opts.pop("num_replicas", None)
    ingress_opts: dict[str, Any] = dict(max_ongoing_requests=a.max_ongoing_requests,
                                        max_queued_requests=a.max_queued_requests,
                                        ray_actor_options={"num_cpus": a.ingress_cpus})
    ingress_opts.update(extra.get("Ingress", {}))
    scorer = ScorerDeployment.options(**scorer_opts).bind(
        a.model, a.reference, window=a.window, revision=a.revision, trust_remote_code=a.trust_remote_code,
        device=a.device, reverse_complement=a.reverse_complement, max_batch_size=a.max_batch_size,
        batch_wait_timeout_s=a.batch_wait_timeout_s)
    caller = None
    if a.data_dirs:  # no data directories: /v1/call answers 403 and no caller replica is started
        caller_opts: dict[str, Any] = dict(ray_actor_options={"num_cpus": a.caller_cpus})
        caller_opts.update(extra.get("Caller", {}))
        caller = CallerDeployment.options(**caller_opts).bind(a.reference, a.call_model)
    return Ingress.options(**ingress_opts).bind(scorer, a.model_dump(), caller)


def build_app_token_set(args: AppArgs) -> bool:
    from raygen.serve.auth import resolve_token_digest

    return resolve_token_digest(token_file=args.token_file, token_env=args.token_env,
                                token_sha256=args.token_sha256) is not None


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def service_urls(host: str, port: int) -> dict[str, str]:
    base = f"http://{host}:{port}"
    return {"api": f"{base}/v1", "docs": f"{base}/docs", "ui": f"{base}/ui/", "health": f"{base}/healthz",
            "ready": f"{base}/readyz"}


def run_service(model: str, reference: str, *, host: str = S.host, port: int = S.port,
                window: int = DEFAULTS.score.window, block: bool = True, address: str | None = None,
                app_name: str = S.app_name, print_fn=print, num_cpus: int | None = None,
                num_gpus: int | None = None, deployment_options: dict[str, dict[str, Any]] | None = None,
                **overrides: Any) -> dict[str, str]:
    """Start the raygen service (API + UI) on Ray Serve and return its URLs.

    Joins ``address`` (or $RAY_ADDRESS) or the current Ray session, else starts an embedded local Ray.
    ``overrides`` are any other :class:`AppArgs` fields (``max_batch_size=...``, ``token_file=...``).
    With ``block`` it prints the URLs and serves until Ctrl-C/SIGTERM, then removes the app (and stops
    Serve and Ray where it started them); without, it returns once the model is loaded and the URLs answer.
    """

    from raygen.config import RuntimeConfig
    from raygen.errors import RaygenError, UsageError
    from raygen.runtime import init_ray

    args = AppArgs(model=model, reference=reference, window=window, **overrides)
    info = init_ray(RuntimeConfig(address=address, num_cpus=num_cpus, num_gpus=num_gpus))
    # Our own embedded Ray: Serve is ours too, so its port must be free and Ctrl-C stops everything.
    owns_ray = info.mode == "local"
    if owns_ray and not _port_free(host, port):
        raise UsageError(f"port {port} on {host} is in use; pass another --port")
    serve.start(http_options={"host": host, "port": port},
                logging_config=SERVE_LOGGING)
    urls = service_urls(host, port)
    print_fn(f"starting raygen service ({info.describe()}); loading model {model} ...")

    def _term(_sig, _frame):
        raise KeyboardInterrupt

    # SIGTERM (from a supervisor or `kill`) stops the service like Ctrl-C, also while the model loads.
    old = signal.signal(signal.SIGTERM, _term) if block else None
    started = False
    t0 = time.perf_counter()
    try:
        try:
            serve.run(build_application(args, deployment_options), name=app_name, route_prefix="/", blocking=False)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - a replica that fails to start: say why in one line
            msg = str(exc).strip().splitlines()
            raise RaygenError(f"the service failed to start: {msg[-1] if msg else type(exc).__name__}") from None
        started = True
        auth = "on (Authorization: Bearer <token>)" if build_app_token_set(args) else "off"
        print_fn(f"raygen service ready in {time.perf_counter() - t0:.1f} s; API auth {auth}")
        for name in ("ui", "docs", "api", "health", "ready") if args.ui else ("docs", "api", "health", "ready"):
            print_fn(f"  {name:<7} {urls[name]}")
        if not block:
            return urls
        print_fn("serving; press Ctrl-C to stop")
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        print_fn("stopping raygen service ...")
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        if block or not started:  # a non-blocking caller owns a started service; anything else is ours to stop
            _stop(app_name, owns_ray)
    return urls


def _stop(app_name: str, owns_ray: bool) -> None:
    """Remove the app; where we started Ray (and so Serve) ourselves, stop both."""
    import ray

    try:
        if owns_ray:
            serve.shutdown()
            ray.shutdown()
        else:
            serve.delete(app_name)
    except Exception as exc:  # noqa: BLE001 - stopping must not hide why we stop
        log.warning("while stopping the service: %s", exc)


__all__ = ["AppArgs", "Ingress", "build_app", "build_application", "make_app", "run_service", "service_urls"]
