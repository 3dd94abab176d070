"""The CLI shell: help on every command, info against the real local Ray, one-line errors."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from raygen.cli import COMMANDS, build_parser


def test_top_level_help_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "raygen.cli", "--help"], capture_output=True, text=True, check=True).stdout
    for name in COMMANDS:
        assert name in out
    assert "RAY_ADDRESS" in out


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_descriptive_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"raygen {name}" in out
    assert "--address" in out  # every command can join a cluster
    assert len(out.splitlines()) > 8


def _all_parsers(parser: argparse.ArgumentParser, prog: str = "raygen"):
    """(``raygen sub ...``, parser) of every command and subcommand, depth first."""
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_parsers(sub, f"{prog} {name}")


def test_help_never_says_default_none():
    # An unset option or a switch has nothing to show: "(default: None)" / "(default: False)" is noise.
    parsers = list(_all_parsers(build_parser()))
    assert len(parsers) > len(COMMANDS)  # subcommands (cohort combat, train pretrain, ...) are walked too
    noisy = [prog for prog, p in parsers if "(default: None)" in p.format_help() or "(default: False)" in p.format_help()]
    assert noisy == []
    shown = [prog for prog, p in parsers if "(default: " in p.format_help()]
    assert "raygen demo" in shown  # real defaults are still listed


def test_info_reports_versions_and_ray_resources(ray_session, run_cli):
    rc, out, _ = run_cli("info")
    assert rc == 0
    fields = dict(line.split(None, 1) for line in out.splitlines() if line.strip() and not line.startswith("ray "))
    assert fields["raygen"].strip() == "0.1.0"
    assert fields["torch"].startswith("2.")
    assert "not usable" in fields["cuda"] or "usable" in fields["cuda"]
    cpus = [line for line in out.splitlines() if line.startswith("ray CPUs")]
    assert cpus and float(cpus[0].split()[-1]) == ray_session.cpus == 2


def test_unknown_flag_exits_2():
    proc = subprocess.run([sys.executable, "-m", "raygen.cli", "info", "--bogus"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unrecognized arguments: --bogus" in proc.stderr
