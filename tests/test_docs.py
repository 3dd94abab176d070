"""README.md and docs/*.md cannot drift from the code: every link resolves, every ``raygen`` command line in a
shell block parses with the real CLI parser (so a renamed or removed flag, a missing required argument or a
wrong choice fails here), every ``make`` target named exists, and blocks marked ``<!-- runnable -->`` run.

Blocks marked ``<!-- runnable: demo -->`` (the curl examples) need the demo's live service: they run in
``tests/commands/test_demo.py`` against a real ``raygen demo``.

Synopsis notation in command lines is read as the docs mean it: ``[...]`` groups are optional and dropped,
``...`` (more of the same) is dropped.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from raygen.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_LANGS = {"bash", "sh", "shell", "console"}
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARK = re.compile(r"^<!--\s*runnable(?::\s*(\w+))?\s*-->\s*$")
_OPTIONAL = re.compile(r"(?<=\s)\[[^\]'\"]*\]")  # a synopsis group `[--flag VALUE]` (no quotes inside)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def shell_blocks(path: Path) -> list[tuple[int, str, str | None]]:
    """``(first line number, text, runnable mark)`` of each fenced shell block; mark None, "" or a name."""
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m:
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            prev = lines[i - 1] if i else ""
            mark = _MARK.match(prev)
            if m.group(1) in SHELL_LANGS:
                blocks.append((i + 2, "\n".join(lines[i + 1:j]), (mark.group(1) or "") if mark else None))
            i = j
        i += 1
    return blocks


def commands(text: str) -> list[list[str]]:
    """Simple commands of a shell block: continuations joined, comments, prompts and operators removed."""
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"^\s*\$\s+", "", line)
        line = _OPTIONAL.sub(" ", line)  # before lexing: `[--model classical|DIR]` holds no pipe
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split, lex.commenters = True, "#"
        cmd: list[str] = []
        for tok in list(lex) + [";"]:
            if tok in ("|", "||", "&&", ";", "&"):
                if cmd:
                    out.append(cmd)
                cmd = []
            else:
                cmd.append(tok)
    return out


def raygen_argv(cmd: list[str]) -> list[list[str]]:
    """The raygen argument vectors in one simple command (``raygen ...``, or after ``ray job submit ... --``)."""
    while cmd and re.match(r"^[A-Z_][A-Z0-9_]*=", cmd[0]):
        cmd = cmd[1:]  # VAR=value prefixes
    if cmd[:1] == [".venv/bin/raygen"] or cmd[:1] == ["raygen"]:
        return [drop_synopsis(cmd[1:])]
    if cmd[:3] == ["ray", "job", "submit"] and "--" in cmd:
        rest = cmd[cmd.index("--") + 1:]
        if len(rest) == 1:  # a quoted shell line: `-- 'raygen a && raygen b'`
            return [argv for c in commands(rest[0]) for argv in raygen_argv(c)]
        return raygen_argv(rest)
    return []


def drop_synopsis(argv: list[str]) -> list[str]:
    out, depth = [], 0
    for tok in argv:
        if tok.startswith("["):
            depth += 1
        if depth == 0 and tok != "...":
            out.append(tok)
        if tok.endswith("]") and depth:
            depth -= 1
    return out


def _all_blocks():
    for path in DOCS:
        for lineno, text, mark in shell_blocks(path):
            yield pytest.param(path, lineno, text, mark, id=f"{path.relative_to(REPO)}:{lineno}")


BLOCKS = list(_all_blocks())


def test_docs_have_shell_examples():
    # The collectors must find what is there (a parser that finds nothing would pass everything below).
    assert len(BLOCKS) >= 12
    argvs = [a for p in BLOCKS for c in commands(p.values[2]) for a in raygen_argv(c)]
    assert len(argvs) >= 30
    assert ["normalize", "in.vcf.gz", "-f", "ref.fa", "-m", "-any", "-o", "out.vcf.gz"] in argvs


def test_synopsis_and_operators_are_read_as_meant():
    cmds = commands("raygen call r.bam -f x.fa -o c.vcf.gz [--regions BED|chr:1-2] [--model classical|DIR] \\\n"
                    "  --sample S  # comment\nprintf 'a\\tb' | curl -s x && raygen info --no-ray")
    assert [raygen_argv(c) for c in cmds] == [
        [["call", "r.bam", "-f", "x.fa", "-o", "c.vcf.gz", "--sample", "S"]], [], [], [["info", "--no-ray"]]]
    with pytest.raises(SystemExit):
        _parse(["score", "in.vcf", "-f", "r.fa", "--model", "m", "-o", "o.vcf", "--no-such-flag"])


def _parse(argv: list[str]) -> None:
    build_parser().parse_args(argv)


@pytest.mark.parametrize("path,lineno,text,mark", BLOCKS)
def test_raygen_command_lines_parse(path, lineno, text, mark, capsys):
    for cmd in commands(text):
        if cmd[0] == "make":
            targets = set(re.findall(r"^([\w.-]+):", (REPO / "Makefile").read_text(), flags=re.M))
            assert set(t for t in cmd[1:] if "=" not in t) <= targets, f"{path.name}:{lineno}: {cmd}"
        for argv in raygen_argv(cmd):
            try:
                _parse(argv)
            except SystemExit as exc:
                if exc.code not in (0, None):
                    pytest.fail(f"{path.relative_to(REPO)}:{lineno}: `raygen {shlex.join(argv)}` does not parse:\n"
                                f"{capsys.readouterr().err}")


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(REPO)) for p in DOCS])
def test_links_resolve(path):
    for target in _LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # external (http:, mailto:) or an anchor on the same page
        file = target.split("#", 1)[0]
        assert (path.parent / file).exists(), f"{path.relative_to(REPO)}: broken link {target}"


def test_every_docs_page_is_linked_from_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for page in DOCS[1:]:
        assert f"(docs/{page.name})" in readme, f"docs/{page.name} is not linked from README.md"


RUNNABLE = [p for p in BLOCKS if p.values[3] == ""]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path,lineno,text,mark", RUNNABLE)
def test_runnable_blocks_run(path, lineno, text, mark, tmp_path):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=280)
    assert proc.returncode == 0, f"{path.relative_to(REPO)}:{lineno} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


def test_some_blocks_are_runnable():
    assert RUNNABLE, "no block is marked <!-- runnable -->"
    assert any(p.values[3] == "demo" for p in BLOCKS), "the README's curl examples must be marked runnable: demo"


def _subparsers(parser, prefix=()):
    """(command path, parser) of every subcommand, nested ones (``train pretrain``) included."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield prefix + (name,), sub
                yield from _subparsers(sub, prefix + (name,))


def test_help_examples_parse(capsys):
    # `raygen X --help` epilogs and descriptions show examples too: each line that starts with `raygen` must parse
    # (inline `raygen score --model DIR` in prose is a fragment, not an example).
    found = 0
    for path, sub in _subparsers(build_parser()):
        text = "\n".join(t for t in (sub.description, sub.epilog) if t).replace("\\\n", " ")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("raygen ")]
        for cmd in commands("\n".join(lines)):
            for argv in raygen_argv(cmd):
                found += 1
                try:
                    _parse(argv)
                except SystemExit as exc:
                    if exc.code not in (0, None):
                        pytest.fail(f"`raygen {' '.join(path)} --help` shows `raygen {shlex.join(argv)}`, which "
                                    f"does not parse:\n{capsys.readouterr().err}")
    assert found >= 3
