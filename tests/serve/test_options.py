"""The serve options: one ServeConfig, built the same way from flags and serve configs, checked once."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from raygen.config import ServeConfig
from raygen.errors import UsageError
from raygen.serve.options import serve_config


def test_app_args_reject_batches_that_cannot_fill():
    with pytest.raises(ValueError, match="max_ongoing_requests"):
        ServeConfig(model="m", reference="r.fa", max_batch_size=64, max_ongoing_requests=8)
    with pytest.raises(UsageError, match="max_ongoing_requests"):
        serve_config({"model": "m", "reference": "r.fa", "max_batch_size": 64, "max_ongoing_requests": 8})


def test_built_from_a_dict_with_one_line_errors():
    cfg = serve_config({"model": "m", "reference": "r.fa", "port": "9000", "data_dirs": ["/d"],
                        "call": {"min_qual": 20}})
    assert cfg.port == 9000 and cfg.data_dirs == ("/d",) and cfg.call.min_qual == 20.0
    with pytest.raises(UsageError, match="^max_batch_szie: .*did you mean max_batch_size"):
        serve_config({"model": "m", "reference": "r.fa", "max_batch_szie": 8})
    with pytest.raises(UsageError, match="^call.min_quall: "):
        serve_config({"model": "m", "reference": "r.fa", "call": {"min_quall": 8}})
    with pytest.raises(UsageError, match="^window: Input should be a valid integer"):
        serve_config({"model": "m", "reference": "r.fa", "window": "wide"})
    with pytest.raises(UsageError, match="window must be at least 8"):
        serve_config({"model": "m", "reference": "r.fa", "window": 4})
    with pytest.raises(UsageError, match="model and reference are required"):
        serve_config({"reference": "r.fa"})


def test_a_larger_batch_raises_the_default_ongoing_limit():
    """Not given, max_ongoing_requests follows max_batch_size up (flags and serve configs alike)."""
    assert serve_config({"model": "m", "reference": "r", "max_batch_size": 128}).max_ongoing_requests == 128
    assert serve_config({"model": "m", "reference": "r", "max_batch_size": 8}).max_ongoing_requests == 64


def test_flag_names_are_field_names():
    """Every `raygen serve` flag except --config is a ServeConfig field, spelled as the field."""
    from raygen.cli import build_parser

    parser = build_parser()
    serve = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith("serve"))
    fields = {f.name for f in dataclasses.fields(ServeConfig)}
    common = {a.dest for a in build_parser()._actions} | {"address", "num_cpus", "num_gpus", "help", "config",
                                                         "verbose", "quiet", "func"}
    own = [a for a in serve._actions if a.dest not in common and a.dest != argparse.SUPPRESS]
    assert own, "no serve flags found"
    for a in own:
        assert a.dest in fields, a.dest
        assert "--" + a.dest.replace("_", "-") in a.option_strings, (a.dest, a.option_strings)


def test_serve_config_args_refuse_what_belongs_elsewhere():
    """In a serve config, host/port live in http_options: as args they would be silently ignored."""
    from raygen.serve.app import build_app

    with pytest.raises(ValueError, match="http_options"):
        build_app({"model": "m", "reference": "r.fa", "port": 9000})
