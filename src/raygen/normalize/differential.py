"""Differential harness: ``raygen normalize`` against pysam's bundled ``bcftools norm`` (1.24) on generated VCFs.

A case is one generated file (:func:`raygen.simulate.vcfgen.generate_vcf`, seeded) run through both tools with
one :class:`OptionSet` (one or more piped stages; ``-f`` goes to the first stage, as bcftools' test.pl does).
Both run in this process: bcftools through pysam, raygen through its own CLI parser (``--no-ray``). The
record lines (CHROM to the last sample) must be identical, or both tools must refuse the input. Used by
``tests/normalize/test_differential.py`` (bounded, in CI) and ``benchmarks/normalize_differential.py``
(the long campaign); the reliability fuzzer (issue #19) can reuse :func:`run_case` on mutated files.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from raygen.errors import RaygenError
from raygen.simulate.vcfgen import GeneratedVcf, generate_vcf


@dataclass(frozen=True)
class OptionSet:
    """``bcftools norm`` options of a case: stages joined by `` | ``; ``fasta`` adds ``-f REF`` to stage 1."""

    options: str
    profile: str = "clean"
    fasta: bool = True

    @property
    def stages(self) -> list[list[str]]:
        return [shlex.split(s) for s in self.options.split("|")]

    @property
    def name(self) -> str:
        return f"{'-f REF ' if self.fasta else ''}{self.options} [{self.profile}]".replace("  ", " ")


def _sets() -> list[OptionSet]:
    S = OptionSet
    out = [S(""), S("", "gvcf"), S("", "dense"), S("-m -any", "gvcf")]
    for m in ("-", "-any", "-snps", "-indels", "-both"):
        out += [S(f"-m {m}"), S(f"-m {m}", fasta=False)]
    for m in ("+", "+any", "+snps", "+indels", "+both"):
        out += [S(f"-m {m}", fasta=False), S(f"-m {m}"), S(f"-m {m}", "dense", fasta=False)]
    out += [S("-m -any --keep-sum AD"), S("-m - --keep-sum AD", fasta=False), S("-m - --multi-overlaps ."),
            S("-m -any --multi-overlaps .", fasta=False), S("-m +both -s", fasta=False), S("-m +any -s")]
    for d in ("snps", "indels", "both", "all", "any", "exact", "none"):
        out += [S(f"-d {d}", "dense"), S(f"-d {d}", "dense", fasta=False)]
    out += [S("-D", "dense", fasta=False), S("-m -any -d exact", "dense"), S("-m +any -d all", "dense")]
    out += [S("-a"), S("-a", fasta=False), S("-a --atom-overlaps ."), S("-a -m -any"), S("-a -m -any", fasta=False),
            S("-a --old-rec-tag OLD"), S("-a -m -any --old-rec-tag OLD --atom-overlaps .")]
    out += [S("--old-rec-tag OLD"), S("-m -any --old-rec-tag OLD"), S("-m -any --old-rec-tag OLD", fasta=False)]
    for c in ("w", "x", "s", "ws", "wx"):
        out += [S(f"-c {c}", "messy"), S(f"-c {c} -m -any", "messy")]
    out += [S("-c s --old-rec-tag OLD", "messy"), S("-c x -m +both", "messy"), S("-c s -a", "messy"),
            S("-c w -d exact", "messy")]
    out += [S("-N"), S("-N -m -any"), S("-N3"), S("-N -c s", "messy"), S("--do-not-normalize -m -")]
    out += [S("-m - -S lex"), S("-m -any -S lex", "dense"), S("-S lex", "dense"), S("-S pos")]
    out += [S("-m - --force", "malformed", fasta=False), S("-m -any --force", "malformed"),
            S("-a --force", "malformed", fasta=False)]
    out += [S("-m - | -m +both"), S("-m -any | -m +any", fasta=False), S("-m - | -m +indels"),
            S("-m - | -m +snps", fasta=False), S("-m -any | -m +both", "dense"), S("-a | -m +any"),
            S("-m -any --old-rec-tag OLD | -a", fasta=False)]
    return out


#: The option sets of the campaign: every flag of ``bcftools norm`` 1.24 raygen accepts, alone and combined.
OPTION_SETS: list[OptionSet] = _sets()


@dataclass
class Outcome:
    """What one tool did: its record lines, or the error that stopped it."""

    records: list[str] = field(default_factory=list)
    error: str | None = None
    rejected: int = 0  # raygen only: records it put in the rejects file


@dataclass
class CaseResult:
    seed: int
    option_set: OptionSet
    raygen: Outcome
    bcftools: Outcome

    @property
    def match(self) -> bool:
        """Same records; or both refuse the input; or bcftools stops at a bad record that raygen puts in its
        rejects file and goes on past (raygen's rule for bad input, README: known differences)."""
        if self.bcftools.error is not None:
            return self.raygen.error is not None or self.raygen.rejected > 0
        if self.raygen.error is not None:
            return False
        return self.raygen.records == self.bcftools.records

    def describe(self, limit: int = 3) -> str:
        """A short account of a mismatch (first differing records) for test output and campaign logs."""
        head = f"seed={self.seed} options={self.option_set.name!r}"
        if self.raygen.error is not None or self.bcftools.error is not None:
            return f"{head}\n  raygen error: {self.raygen.error}\n  bcftools error: {self.bcftools.error}"
        r, b = self.raygen.records, self.bcftools.records
        lines = [f"{head}: raygen {len(r)} records, bcftools {len(b)}"]
        shown = 0
        for i in range(max(len(r), len(b))):
            x, y = (r[i] if i < len(r) else None), (b[i] if i < len(b) else None)
            if x != y:
                lines += [f"  [{i}] raygen:   {x}", f"  [{i}] bcftools: {y}"]
                shown += 1
                if shown >= limit:
                    break
        return "\n".join(lines)


def _records(path: Path) -> list[str]:
    with open(path) as fh:
        return [line.rstrip("\n") for line in fh if not line.startswith("#")]


def _bcftools_stages(inp: Path, fasta: Path | None, opts: OptionSet, work: Path) -> tuple[Path | None, str]:
    import pysam
    import pysam.bcftools

    cur = inp
    for i, stage in enumerate(opts.stages):
        out = work / f"bcf{i}.vcf"
        extra = ["-f", str(fasta)] if (fasta is not None and i == 0) else []
        try:
            pysam.bcftools.norm("--no-version", "-o", str(out), *stage, *extra, str(cur), catch_stdout=False)
        except pysam.utils.SamtoolsError as exc:
            msg = str(exc).replace("\\n", "\n")
            lines = [x for x in msg.splitlines() if x.strip() and not x.startswith(" ")]
            return None, (lines[-1] if lines else msg)[-300:]
        cur = out
    return cur, ""


def run_bcftools(inp: Path, fasta: Path | None, opts: OptionSet, work: Path) -> Outcome:
    """bcftools in a forked child: an htslib abort or heap corruption on odd input must not take the
    campaign down (pysam runs bcftools inside the calling process)."""
    status = work / "bcftools.status"
    pid = os.fork()
    if pid == 0:  # child: run, record the outcome, leave without Python clean-up
        code = 1
        try:
            out, err = _bcftools_stages(inp, fasta, opts, work)
            status.write_text(f"ok\t{out}" if out is not None else f"error\t{err}")
            code = 0
        finally:
            os._exit(code)
    _, wstatus = os.waitpid(pid, 0)
    if not status.exists():
        return Outcome(error=f"bcftools crashed (wait status {wstatus})")
    kind, _, text = status.read_text().partition("\t")
    status.unlink()
    return Outcome(_records(Path(text))) if kind == "ok" else Outcome(error=text)


class RaygenRunner:
    """Runs ``raygen normalize`` in this process with a parser built once (the CLI's own flag handling)."""

    def __init__(self) -> None:
        from raygen.cli import build_parser

        self.parser = build_parser()
        logging.getLogger("raygen").setLevel(logging.ERROR)

    def __call__(self, inp: Path, fasta: Path | None, opts: OptionSet, work: Path) -> Outcome:
        cur = inp
        rejected = 0
        for i, stage in enumerate(opts.stages):
            out = work / f"rg{i}.vcf"
            extra = ["-f", str(fasta)] if (fasta is not None and i == 0) else []
            rej = work / f"rg{i}.rejects.tsv"
            argv = ["normalize", str(cur), "-o", str(out), "--no-ray", "-q", "--rejects", str(rej), *stage, *extra]
            err = io.StringIO()
            try:
                with contextlib.redirect_stderr(err):
                    args = self.parser.parse_args(argv)
                    args.func(args)
            except RaygenError as exc:
                return Outcome(error=str(exc).splitlines()[0][:300])
            except SystemExit as exc:  # argparse refused the flags
                return Outcome(error=f"usage (exit {exc.code}): {err.getvalue().strip().splitlines()[-1:]}")
            cur = out
            rejected += sum(1 for line in open(rej) if line.strip()) - 1 if rej.exists() else 0
        return Outcome(_records(cur), rejected=rejected)


def run_case(seed: int, opts: OptionSet, runner: RaygenRunner, work: Path | None = None,
             gen: GeneratedVcf | None = None) -> CaseResult:
    """Generate the case's file (``seed``, the option set's profile) and run both tools on it."""
    import pysam

    gen = gen or generate_vcf(seed, opts.profile)
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="raygen-diff-")) if own else work
    try:
        vcf, fa = gen.write(work)
        pysam.faidx(str(fa))
        fasta = fa if opts.fasta else None
        b = run_bcftools(vcf, fasta, opts, work)
        r = runner(vcf, fasta, opts, work)
        return CaseResult(seed, opts, r, b)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
