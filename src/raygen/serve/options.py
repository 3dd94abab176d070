"""The serve options built at the edge: a dict of :class:`raygen.config.ServeConfig` field names (``raygen
serve`` flags, a serve config's ``args:``) -> the one typed object, with one-line errors.

``raygen serve --config FILE`` reads a serve config here too (:func:`load_serve_config`), so the command and
``serve run``/``serve deploy`` read the same file into the same object.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from raygen.config import DEFAULTS, CallConfig, ServeConfig, SpliceAIConfig
from raygen.errors import InputError, UsageError
from raygen.io.fasta import ensure_fasta_index
from raygen.scoring.base import is_spliceai

IMPORT_PATH = "raygen.serve.app:build_app"
#: The Scorer's ``user_config`` keys: the batch settings a running service takes without a restart.
BATCH_FIELDS = ("max_batch_size", "batch_wait_timeout_s")

_ADAPTER = TypeAdapter(ServeConfig)


def _one_line(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    msg = first["msg"].removeprefix("Value error, ")
    where = ".".join(str(x) for x in first["loc"])
    return f"{where}: {msg}" if where else msg


def _refuse_unknown(values: Mapping[str, Any], cls: type, prefix: str = "") -> None:
    # pydantic ignores unknown keys of a plain dataclass: a misspelt setting must not be dropped silently.
    names = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UsageError(f"{prefix}{key}: not a {cls.__name__} setting{hint}")


def serve_config(values: Mapping[str, Any]) -> ServeConfig:
    """The :class:`ServeConfig` of ``values`` (field names; unknown names and wrong types refused).

    ``model`` and ``reference`` are required. When ``max_ongoing_requests`` is not given it follows a larger
    ``max_batch_size`` up (its default, 64, would keep bigger batches from filling). Raises
    :class:`UsageError` with one line naming the field.
    """
    values = dict(values)
    _refuse_unknown(values, ServeConfig)
    if isinstance(values.get("call"), Mapping):
        _refuse_unknown(values["call"], CallConfig, "call.")
    if isinstance(values.get("spliceai"), Mapping):
        _refuse_unknown(values["spliceai"], SpliceAIConfig, "spliceai.")
    if isinstance(values.get("more_models"), str):  # `more_models: spliceai` in a YAML file
        values["more_models"] = (values["more_models"],)
    if not values.get("model") or not values.get("reference"):
        raise UsageError("model and reference are required (a model directory or hub id, and a FASTA)")
    batch = values.get("max_batch_size")
    if "max_ongoing_requests" not in values and isinstance(batch, int) and batch > DEFAULTS.serve.max_ongoing_requests:
        values["max_ongoing_requests"] = batch
    try:
        return _ADAPTER.validate_python(values)
    except ValidationError as exc:
        raise UsageError(_one_line(exc)) from None


def check_paths(cfg: ServeConfig) -> None:
    """Before any replica starts: the reference exists (a missing ``.fai`` is built), data directories are
    directories, a CNN call model is a `raygen train caller` directory. Raises a one-line error."""
    ensure_fasta_index(cfg.reference)
    if any(is_spliceai(m) for m in (cfg.model, *cfg.more_models)):
        # lazy: the SpliceAI scorer module loads torch, which a language-model-only server's driver never needs
        from raygen.scoring.spliceai_scorer import check_annotation, check_config

        check_config(cfg.spliceai)  # --annotation given, D in range: before any replica starts
        check_annotation(cfg.spliceai.annotation, cfg.reference)  # and readable, on the FASTA's contigs
    for d in cfg.data_dirs:
        if not Path(d).is_dir():
            raise UsageError(f"--data-dirs {d!r} is not a directory")
    if cfg.drift_profile:
        from raygen.serve.metrics import load_baseline  # refuses another model's profile before replicas start

        load_baseline(cfg.drift_profile, cfg.model)
    if cfg.call_model != "classical" and not (Path(cfg.call_model) / "caller.json").exists():
        raise UsageError(f"--call-model {cfg.call_model!r} is neither 'classical' nor a `raygen train caller` "
                         "directory (no caller.json)")


def load_serve_config(path: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``(values, deployment options by name)`` of the first application of a Serve config file.

    ``values`` are ServeConfig fields: the application's ``args``, ``host``/``port`` from ``http_options``,
    and the batch settings of the Scorer's ``user_config`` (which win over ``args``, as they do in Serve).
    """
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
    if app.get("import_path") != IMPORT_PATH:
        raise InputError(f"config file {path!r}: import_path must be {IMPORT_PATH}")
    deployments = {d["name"]: {k: v for k, v in d.items() if k != "name"} for d in app.get("deployments") or []}
    http = doc.get("http_options") or {}
    values = {**{k: http[k] for k in ("host", "port") if k in http}, **(app.get("args") or {})}
    values.update((deployments.get("Scorer", {}).get("user_config")) or {})
    return values, deployments
