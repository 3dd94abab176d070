"""``raygen serve``: the HTTP API and the Gradio UI on Ray Serve, in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import typing
from typing import Any

from raygen.config import DEFAULTS, ServeConfig

S = DEFAULTS.serve

DESCRIPTION = """\
Serve variant scoring and normalization over HTTP (FastAPI on Ray Serve, OpenAPI docs at /docs) and the
variant explorer UI at /ui, with the same model, scores and normalizer as `raygen score` / `raygen normalize`.

Endpoints: POST /v1/score, POST /v1/normalize (JSON {"variants": [{"chrom","pos","ref","alt"}]} or a small
VCF text body), GET /v1/models, GET /healthz (process alive), GET /readyz (model loaded), and with
--data-dirs DIR: POST /v1/call ({"bam": PATH, "region": "chr:start-end"}: variant calls in a region of a BAM
under DIR, as JSON or VCF text; any other path, `..` or a symlink leading out of DIR gets 403) plus a
calling tab in the UI. Positions are 1-based (VCF POS).

Runs in the foreground on an embedded local Ray (or joins --address / $RAY_ADDRESS) and stops cleanly on
Ctrl-C or SIGTERM. --config takes a Serve config file such as serve_configs/local.yaml (the same file
`serve run` / `serve deploy` take): its application args, HTTP host/port and deployment options
(replicas, autoscaling, GPUs) are used, and flags given here override them.

Every flag is a field of raygen.config.ServeConfig (--max-batch-size is max_batch_size), the same names a
serve config's `args:` use. Auth: with --token-file F, or $RAYGEN_API_TOKEN set, every /v1 request needs `Authorization: Bearer <token>`
(401 otherwise) and the UI asks for the token as its password."""

EPILOG = """\
examples:
  raygen serve --model demo_out/model -f demo_out/sim/reference.fa      # make demo's model and genome
  curl -s localhost:8000/v1/score -H 'content-type: application/json' \\
       -d '{"variants": [{"chrom": "chr1", "pos": 1855, "ref": "G", "alt": "T"}]}'
  printf 'chr1\\t1855\\t.\\tG\\tT,A\\n' | curl -s localhost:8000/v1/score -H 'content-type: text/plain' --data-binary @-
  raygen serve --model runs/pretrain/model --model spliceai --spliceai annotation=grch38 -f GRCh38.fa
  curl -s localhost:8000/v1/score -H 'content-type: application/json' \\
       -d '{"model": "spliceai", "variants": [{"chrom": "chr20", "pos": 87761, "ref": "A", "alt": "C"}]}'
  raygen serve --model runs/pretrain/model -f ref.fa --data-dirs /data/bams
  curl -s localhost:8000/v1/call -H 'content-type: application/json' \\
       -d '{"bam": "NA12878.bam", "region": "chr20:10000000-10010000"}'
  raygen serve --config serve_configs/gpu.yaml --address auto"""


#: The flags, by group: ServeConfig field -> help. The flag is the field's name (``--max-batch-size``); its
#: type and default come from the field.
FLAGS: dict[str, dict[str, str]] = {
    "model and reference": {
        "model": "model directory (save_pretrained, e.g. from `raygen train`), hub id, or spliceai; repeat it to "
                 "serve several (a request's `model` field picks one; the first is the default and the UI's)",
        "reference": "indexed reference FASTA (a missing .fai is built); also -f",
        "window": "reference bases around a variant fed to the model",
        "revision": "hub revision (commit/tag) to pin",
        "trust_remote_code": "allow model code from the hub (only for models you trust)",
        "device": "auto, cpu, cuda",
        "reverse_complement": "average each score with the reverse-complement strand",
    },
    "HTTP": {
        "host": "address to listen on (0.0.0.0 exposes it to the network)",
        "port": "port",
        "token_file": f"file holding the bearer token (default: ${S.token_env} if set)",
        "token_env": "environment variable holding the bearer token",
        "ui": "the Gradio UI at /ui (--no-ui: API only)",
        "ism_flank": "UI heatmap: bases each side of the variant",
        "drift_profile": "baseline profile (raygen assess --write-profile) for the drift gauge of GET /metrics",
    },
    "variant calling (POST /v1/call and the UI's calling tab)": {
        "data_dirs": "allow calling BAMs under these directories (repeatable); without, /v1/call answers 403",
        "call_model": "genotyper: classical or a `raygen train caller` dir",
        "max_call_bp": "largest region per call request; more gives 413",
        "caller_cpus": "Ray CPUs reserved by the caller replica",
    },
    "batching and limits": {
        "max_batch_size": "variants per model batch across requests",
        "batch_wait_timeout_s": "how long a batch waits to fill, seconds",
        "max_ongoing_requests": "per replica (default: 64, or --max-batch-size if larger)",
        "max_queued_requests": "beyond this the server answers 503 at once",
        "retry_after_s": "Retry-After seconds on those 503 answers (0: no header)",
        "admission_factor": "scoring takes only what it answers within this many times its unloaded latency "
                            "(learned); the rest get 503 at once (0: off)",
        "scorer_stall_s": "a model call slower than this (and 4x what the admission gate expects) counts as a dead "
                          "replica: 503 until it answers again (0: wait as Serve does)",
        "max_variants_per_request": "per request; more gives 413",
        "max_body_bytes": "request body limit on /v1; more gives 413",
        "scorer_replicas": "scorer replicas",
        "scorer_cpus": "Ray CPUs per scorer replica",
        "scorer_gpus": "GPUs per scorer replica",
        "ingress_cpus": "Ray CPUs of the HTTP/UI replica",
    },
}
FIELD_TYPES = typing.get_type_hints(ServeConfig)
METAVARS = {"drift_profile": "P.json", "model": "DIR|ID", "reference": "FASTA", "token_file": "F", "token_env": "VAR", "call_model": "classical|DIR",
            "revision": "REV", "device": "DEVICE", "host": "HOST"}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_flag(group: argparse._ArgumentGroup, name: str, help_text: str) -> None:
    kind, default = FIELD_TYPES[name], getattr(S, name)
    names = [flag(name), "-f"] if name == "reference" else [flag(name)]
    if name == "model":  # repeatable: the first is ServeConfig.model, the rest more_models
        group.add_argument(*names, action="append", metavar=METAVARS[name], help=help_text)
    elif kind is bool:
        group.add_argument(*names, action=argparse.BooleanOptionalAction, default=None,
                           help=f"{help_text} (default {'on' if default else 'off'})")
    elif typing.get_origin(kind) is tuple:
        group.add_argument(*names, nargs="+", action="extend", metavar="DIR", help=help_text)
    else:
        base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
        shown = f" (default {default:g})" if isinstance(default, float) else f" (default {default})" if default else ""
        metavar = METAVARS.get(name, {int: "N", float: "X"}.get(base, "VALUE"))
        group.add_argument(*names, type=base, metavar=metavar,
                           help=help_text if "(default" in help_text else help_text + shown)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help="serve scoring, normalization (and calling, with --data-dirs) "
                       "over HTTP, with the Gradio UI", description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", metavar="FILE", help="Serve config YAML (serve_configs/local.yaml, gpu.yaml); "
                   "flags override it")
    for title, fields in FLAGS.items():
        g = p.add_argument_group(title)
        for name, help_text in fields.items():
            _add_flag(g, name, help_text)
    g = p.add_argument_group("SpliceAI (--model spliceai)")
    g.add_argument("--spliceai", nargs="+", action="extend", metavar="FIELD=VALUE",
                   help="SpliceAI settings (raygen.config.SpliceAIConfig fields, as `spliceai:` in a serve config): "
                   "annotation=grch37|grch38|FILE (required), distance=D (default "
                   f"{DEFAULTS.spliceai.distance}), mask=true (the release's -M 1), precision=fp32|bf16")
    p.set_defaults(func=run)


def _model_values(args: argparse.Namespace, values: dict[str, Any]) -> None:
    """The repeated --model into model + more_models, and --spliceai FIELD=VALUE pairs into values["spliceai"]
    (over a config file's; types are checked where the ServeConfig is built)."""
    from raygen.errors import UsageError

    if args.model:
        values["model"], values["more_models"] = args.model[0], tuple(args.model[1:])
    pairs = [p.split("=", 1) for p in args.spliceai or []]
    if any(len(p) != 2 for p in pairs):
        raise UsageError(f"--spliceai takes FIELD=VALUE pairs (annotation=grch38 distance=500), not {args.spliceai}")
    if pairs:
        values["spliceai"] = {**(values.get("spliceai") or {}), **dict(pairs)}


def _flags_beat_deployments(flags: dict[str, Any], deployments: dict[str, dict[str, Any]]) -> None:
    """Drop the config file's per-deployment options that a flag given on the command line replaces (and the
    Scorer's user_config, which :func:`load_serve_config` has read into the options)."""
    scorer, ingress, caller = (deployments.setdefault(n, {}) for n in ("Scorer", "Ingress", "Caller"))
    scorer.pop("user_config", None)  # its batch settings are in the ServeConfig already, flags applied
    if "scorer_replicas" in flags:
        scorer.pop("num_replicas", None)
        scorer.pop("autoscaling_config", None)
    for key in ("max_ongoing_requests", "max_queued_requests"):
        if key in flags:
            scorer.pop(key, None)
            ingress.pop(key, None)
    for name, opts in (("scorer_cpus", scorer), ("scorer_gpus", scorer), ("ingress_cpus", ingress),
                       ("caller_cpus", caller)):
        if name in flags:
            opts.pop("ray_actor_options", None)


def run(args: argparse.Namespace) -> int:
    from raygen.errors import UsageError
    # Ray Serve loads only when serving (the CLI's start-up time for every other command).
    from raygen.serve.options import check_paths, load_serve_config, serve_config
    from raygen.serve.service import run_service

    values, deployments = load_serve_config(args.config) if args.config else ({}, {})
    flags = {name: getattr(args, name) for fields in FLAGS.values() for name in fields
             if getattr(args, name) is not None and name != "model"}
    values.update(flags)
    _model_values(args, values)
    if not values.get("model") or not values.get("reference"):
        raise UsageError("--model and -f/--reference are required (or a --config whose args name them)")
    cfg = serve_config(values)
    check_paths(cfg)  # a missing FASTA or data directory fails here, before any replica starts
    _flags_beat_deployments(flags, deployments)
    run_service(cfg, address=args.address, num_cpus=args.num_cpus, num_gpus=args.num_gpus,
                deployment_options={k: v for k, v in deployments.items() if v})
    return 0
