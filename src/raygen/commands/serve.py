"""``raygen serve``: the HTTP API and the Gradio UI on Ray Serve, in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from raygen.config import DEFAULTS

S = DEFAULTS.serve

DESCRIPTION = """\
Serve variant scoring and normalization over HTTP (FastAPI on Ray Serve, OpenAPI docs at /docs) and the
variant explorer UI at /ui, with the same model, scores and normalizer as `raygen score` / `raygen normalize`.

Endpoints: POST /v1/score, POST /v1/normalize (JSON {"variants": [{"chrom","pos","ref","alt"}]} or a small
VCF text body), GET /v1/models, GET /healthz (process alive), GET /readyz (model loaded), and with
--data-dir DIR: POST /v1/call ({"bam": PATH, "region": "chr:start-end"}: variant calls in a region of a BAM
under DIR, as JSON or VCF text; any other path, `..` or a symlink leading out of DIR gets 403) plus a
calling tab in the UI. Positions are 1-based (VCF POS).

Runs in the foreground on an embedded local Ray (or joins --address / $RAY_ADDRESS) and stops cleanly on
Ctrl-C or SIGTERM. --config takes a Serve config file such as serve_configs/local.yaml (the same file
`serve run` / `serve deploy` take): its application args, HTTP host/port and deployment options
(replicas, autoscaling, GPUs) are used, and flags given here override them.

Auth: with --token-file F, or $RAYGEN_API_TOKEN set, every /v1 request needs `Authorization: Bearer <token>`
(401 otherwise) and the UI asks for the token as its password."""

EPILOG = """\
examples:
  raygen serve --model runs/pretrain/model -f ref.fa
  curl -s localhost:8000/v1/score -H 'content-type: application/json' \\
       -d '{"variants": [{"chrom": "chr1", "pos": 1000, "ref": "A", "alt": "G"}]}'
  printf 'chr1\\t1000\\t.\\tA\\tG,T\\n' | curl -s localhost:8000/v1/score -H 'content-type: text/plain' --data-binary @-
  raygen serve --model runs/pretrain/model -f ref.fa --data-dir /data/bams
  curl -s localhost:8000/v1/call -H 'content-type: application/json' \\
       -d '{"bam": "NA12878.bam", "region": "chr20:10000000-10010000"}'
  raygen serve --config serve_configs/gpu.yaml --address auto"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help="serve scoring, normalization (and calling, with --data-dir) over HTTP, with the Gradio UI",
                       description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("model and reference")
    g.add_argument("--model", help="model directory (save_pretrained, e.g. from `raygen train`) or hub id")
    g.add_argument("-f", "--reference", help="indexed reference FASTA (a missing .fai is built)")
    g.add_argument("--window", type=int, help=f"reference bases around a variant fed to the model "
                   f"(default {DEFAULTS.score.window})")
    g.add_argument("--revision", help="hub revision (commit/tag) to pin")
    g.add_argument("--trust-remote-code", action="store_true", default=None,
                   help="allow model code from the hub (only for models you trust)")
    g.add_argument("--device", help="auto (default), cpu, cuda")
    g.add_argument("--reverse-complement", action="store_true", default=None,
                   help="average each score with the reverse-complement strand")
    h = p.add_argument_group("HTTP")
    h.add_argument("--host", help=f"address to listen on (default {S.host}; 0.0.0.0 exposes it to the network)")
    h.add_argument("--port", type=int, help=f"port (default {S.port})")
    h.add_argument("--config", metavar="FILE", help="Serve config YAML (serve_configs/local.yaml, gpu.yaml)")
    h.add_argument("--token-file", metavar="F", help=f"file holding the bearer token (default: ${S.token_env} if set)")
    h.add_argument("--no-ui", dest="ui", action="store_false", default=None, help="API only, no Gradio UI at /ui")
    c = p.add_argument_group("variant calling (POST /v1/call and the UI's calling tab)")
    c.add_argument("--data-dir", dest="data_dirs", action="append", metavar="DIR",
                   help="allow calling BAMs under DIR (repeatable); without it /v1/call answers 403")
    c.add_argument("--call-model", metavar="classical|DIR",
                   help=f"genotyper: classical or a `raygen train caller` dir (default {S.call_model})")
    c.add_argument("--max-call-bp", type=int, help=f"largest region per call request; more gives 413 "
                   f"(default {S.max_call_bp})")
    c.add_argument("--cpus-per-caller", type=float, help=f"Ray CPUs reserved by the caller replica "
                   f"(default {S.caller_cpus:g})")
    b = p.add_argument_group("batching and limits")
    b.add_argument("--max-batch-size", type=int, help=f"variants per model batch across requests (default {S.max_batch_size})")
    b.add_argument("--batch-wait-ms", type=float,
                   help=f"how long a batch waits to fill, ms (default {S.batch_wait_timeout_s * 1000:g})")
    b.add_argument("--max-ongoing-requests", type=int, help=f"per replica (default {S.max_ongoing_requests})")
    b.add_argument("--max-queued-requests", type=int,
                   help=f"beyond this the server answers 503 at once (default {S.max_queued_requests})")
    b.add_argument("--max-variants", type=int, help=f"per request; more gives 413 (default {S.max_variants_per_request})")
    b.add_argument("--max-body-bytes", type=int, help=f"request body limit on /v1; more gives 413 (default {S.max_body_bytes})")
    b.add_argument("--replicas", type=int, help=f"scorer replicas (default {S.scorer_replicas})")
    b.add_argument("--cpus-per-replica", type=float, help=f"default {S.scorer_cpus:g}")
    b.add_argument("--gpus-per-replica", type=float, help=f"default {S.scorer_gpus:g}")
    p.set_defaults(func=run)


def load_serve_config(path: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
    """``(app args, http options, deployment options by name)`` of the first application of a Serve config."""
    import yaml

    from raygen.errors import InputError

    p = Path(path)
    if not p.exists():
        raise InputError(f"config file {path!r} does not exist")
    try:
        doc = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"config file {path!r} is not valid YAML: {exc}") from None
    apps = doc.get("applications") or []
    if not apps:
        raise InputError(f"config file {path!r} has no `applications:` entry")
    app = apps[0]
    if app.get("import_path") != "raygen.serve.app:build_app":
        raise InputError(f"config file {path!r}: import_path must be raygen.serve.app:build_app")
    deployments = {d["name"]: {k: v for k, v in d.items() if k != "name"} for d in app.get("deployments") or []}
    return dict(app.get("args") or {}), dict(doc.get("http_options") or {}), deployments


def run(args: argparse.Namespace) -> int:
    from raygen.errors import UsageError
    from raygen.serve.service import run_service

    app_args: dict[str, Any] = {}
    http: dict[str, Any] = {}
    deployments: dict[str, dict[str, Any]] = {}
    if args.config:
        app_args, http, deployments = load_serve_config(args.config)
    flags = {
        "model": args.model, "reference": args.reference, "window": args.window, "revision": args.revision,
        "trust_remote_code": args.trust_remote_code, "device": args.device,
        "reverse_complement": args.reverse_complement, "token_file": args.token_file, "ui": args.ui,
        "max_batch_size": args.max_batch_size,
        "batch_wait_timeout_s": None if args.batch_wait_ms is None else args.batch_wait_ms / 1000.0,
        "max_ongoing_requests": args.max_ongoing_requests, "max_queued_requests": args.max_queued_requests,
        "max_variants_per_request": args.max_variants, "max_body_bytes": args.max_body_bytes,
        "scorer_replicas": args.replicas,
        "scorer_cpus": args.cpus_per_replica, "scorer_gpus": args.gpus_per_replica,
        "data_dirs": args.data_dirs, "call_model": args.call_model, "max_call_bp": args.max_call_bp,
        "caller_cpus": args.cpus_per_caller,
    }
    app_args.update({k: v for k, v in flags.items() if v is not None})
    # Flags beat the config file, including its per-deployment options.
    scorer_opts, ingress_opts = deployments.get("Scorer", {}), deployments.get("Ingress", {})
    for flag, key in (("replicas", "num_replicas"), ("max_ongoing_requests", "max_ongoing_requests"),
                      ("max_queued_requests", "max_queued_requests")):
        if getattr(args, flag) is not None:
            scorer_opts.pop(key, None)
            if key != "num_replicas":
                ingress_opts.pop(key, None)
    if args.replicas is not None:
        scorer_opts.pop("autoscaling_config", None)
    if args.cpus_per_replica is not None or args.gpus_per_replica is not None:
        scorer_opts.pop("ray_actor_options", None)
    if not app_args.get("model") or not app_args.get("reference"):
        raise UsageError("--model and -f/--reference are required (or a --config whose args name them)")
    if "max_ongoing_requests" not in app_args and app_args.get("max_batch_size", 0) > S.max_ongoing_requests:
        app_args["max_ongoing_requests"] = app_args["max_batch_size"]
    from raygen.io.fasta import ensure_fasta_index

    ensure_fasta_index(app_args["reference"])  # a missing FASTA fails here, before any replica starts
    for d in app_args.get("data_dirs") or []:
        if not Path(d).is_dir():
            raise UsageError(f"--data-dir {d!r} is not a directory")
    call_model = app_args.get("call_model", S.call_model)
    if call_model != "classical" and not (Path(call_model) / "caller.json").exists():
        raise UsageError(f"--call-model {call_model!r} is neither 'classical' nor a `raygen train caller` "
                         "directory (no caller.json)")
    from pydantic import ValidationError

    model = app_args.pop("model")
    reference = app_args.pop("reference")
    try:
        run_service(model, reference, host=args.host or http.get("host", S.host),
                    port=args.port or int(http.get("port", S.port)), address=args.address,
                    num_cpus=args.num_cpus, num_gpus=args.num_gpus, deployment_options=deployments, **app_args)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(f"{'.'.join(str(x) for x in first['loc'])}: {first['msg']}") from None
    return 0
