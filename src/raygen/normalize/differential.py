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
import json
import logging
import os
import re
import subprocess
import sys
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pysam

from raygen.errors import RaygenError
from raygen.simulate.vcfgen import GeneratedVcf, generate_gff, generate_vcf


@dataclass(frozen=True)
class OptionSet:
    """``bcftools norm`` options of a case: stages joined by `` | ``; ``fasta`` adds ``-f REF`` to stage 1."""

    options: str
    profile: str = "clean"
    fasta: bool = True
    gff: bool = False  # add -g GFF (a generated annotation) to stage 1

    @property
    def stages(self) -> list[list[str]]:
        stages: list[list[str]] = [[]]
        for tok in shlex.split(self.options):  # a '|' inside a quoted expression is not a stage break
            if tok == "|":
                stages.append([])
            else:
                stages[-1].append(tok)
        return stages

    @property
    def name(self) -> str:
        extra = ("-f REF " if self.fasta else "") + ("-g GFF " if self.gff else "")
        return f"{extra}{self.options} [{self.profile}]".replace("  ", " ")


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
    out += [S("-c e"), S("-c e -m -any", "dense")]
    out += [S("-N"), S("-N -m -any"), S("-N3"), S("-N -c s", "messy"), S("--do-not-normalize -m -")]
    out += [S("-m - -S lex"), S("-m -any -S lex", "dense"), S("-S lex", "dense"), S("-S pos")]
    out += [S("-m - --force", "malformed", fasta=False), S("-m -any --force", "malformed"),
            S("-a --force", "malformed", fasta=False)]
    out += [S("-m -any -i 'TYPE=\"snp\"'"), S("-m +both -e 'QUAL<20'", fasta=False),
            S("-d exact -i 'N_ALT>1 || QUAL>50'", "dense"), S("-a -e 'TYPE~\"indel\"'"),
            S("-c s -i 'FILTER=\"PASS\"'", "messy"), S("-m - -i 'GT=\"het\"'"),
            S("-m +any -i 'REF=\"A\" || INFO/DP>10'", "dense", fasta=False), S("-i 'ALT!=\"C\" && QUAL!=\".\"'"),
            S("-m +both -i 'FMT/DP>20 | GT=\"hom\"'", "dense", fasta=False), S("-d all -e 'ID=\".\"'", "dense")]
    out += [S("", gff=True), S("", "dense", gff=True), S("-m -any", gff=True), S("-a", gff=True),
            S("-c s", "messy", gff=True), S("-m - | -m +both", gff=True), S("-N3", gff=True)]
    out += [S("-m - | -m +both"), S("-m -any | -m +any", fasta=False), S("-m - | -m +indels"),
            S("-m - | -m +snps", fasta=False), S("-m -any | -m +both", "dense"), S("-a | -m +any"),
            S("-m -any --old-rec-tag OLD | -a", fasta=False)]
    return out


#: The option sets of the campaign: every flag of ``bcftools norm`` 1.24 raygen accepts, alone and combined.
OPTION_SETS: list[OptionSet] = _sets()


#: Error prefix of a raygen run that ended in an unexpected exception (see :class:`RaygenRunner`).
RAYGEN_CRASH = "raygen crashed:"


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
    g_format: frozenset[str] = frozenset()  # FORMAT tags of the input declared Number=G

    @property
    def oracle_crashed(self) -> bool:
        """bcftools itself aborted (heap corruption in htslib/bcftools on this input): nothing to compare."""
        return (self.bcftools.error or "").startswith("bcftools crashed")

    @property
    def raygen_crashed(self) -> bool:
        """raygen raised something other than its own clear errors (a traceback a user would see)."""
        return (self.raygen.error or "").startswith(RAYGEN_CRASH)

    @property
    def match(self) -> bool:
        """Same records; or both refuse the input; or bcftools stops at a bad record that raygen puts in its
        rejects file and goes on past (raygen's rule for bad input, README: known differences). A raygen
        crash never matches, even where bcftools crashed too."""
        if self.raygen_crashed:
            return False
        if self.oracle_crashed:
            return True
        if self.bcftools.error is not None:
            return self.raygen.error is not None or self.raygen.rejected > 0
        if self.raygen.error is not None:
            return False
        return self.raygen.records == self.bcftools.records or self.stale_g_values

    @property
    def stale_g_values(self) -> bool:
        """The records differ only where bcftools ``-m +`` copied stale buffer memory into a Number=G FORMAT
        value (a sample whose value in a joined record was ``.`` or haploid, read for every allele past the
        last sample: ``merge_format_numeric``) and raygen wrote missing (README: known differences)."""
        r, b = self.raygen.records, self.bcftools.records
        if len(r) != len(b) or not self.g_format or not any("+" in " ".join(s) for s in self.option_set.stages):
            return False
        return all(x == y or _only_stale_g(x, y, self.g_format) for x, y in zip(r, b))

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


_WORKER = r"""
import json, sys
import pysam, pysam.bcftools
for line in sys.stdin:
    cmd, argv = json.loads(line)
    try:
        getattr(pysam.bcftools, cmd)(*argv, catch_stdout=False)
        out = {"ok": True}
    except pysam.utils.SamtoolsError as exc:
        out = {"ok": False, "error": str(exc)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
"""


def _only_stale_g(mine: str, theirs: str, g_tags: frozenset[str]) -> bool:
    fr, fb = mine.split("\t"), theirs.split("\t")
    if len(fr) != len(fb) or len(fr) < 10 or fr[:9] != fb[:9]:
        return False
    keys = fr[8].split(":")
    for sr, sb in zip(fr[9:], fb[9:]):
        vr, vb = sr.split(":"), sb.split(":")
        if len(vr) != len(vb):
            return False
        for key, x, y in zip(keys, vr, vb):
            if x == y:
                continue
            xs, ys = x.split(","), y.split(",")
            # the stale word may be htslib's vector-end marker: bcftools' vector stops there (at a slot
            # raygen wrote missing), and the values after it are lost
            cut = len(ys) < len(xs) and xs[len(ys)] == "."
            if key not in g_tags or not (len(xs) == len(ys) or cut) or any(a != c and a != "." for a, c in zip(xs, ys)):
                return False
    return True


def _error_line(err: str) -> str:
    """The line of bcftools' stderr that says why it stopped (pysam wraps it: ``... stderr=TEXT``)."""
    msg = err.split("stderr=", 1)[-1].replace("\\n", "\n").strip().strip("'\"")
    lines = [x for x in msg.splitlines() if x.strip().strip("'\"") and not x.startswith(" ")]
    return (lines[-1] if lines else msg)[-300:]


class BcftoolsOracle:
    """pysam's ``bcftools norm`` in a small worker process that only imports pysam, restarted when an
    htslib abort or heap corruption on odd input kills it (pysam runs bcftools inside its caller)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return self.proc

    def norm(self, argv: list[str], cmd: str = "norm") -> tuple[bool, str]:
        """Run ``bcftools CMD ARGV`` (``-o FILE`` in ``argv``); ``(ok, error text)``."""
        proc = self._start()
        try:
            proc.stdin.write(json.dumps([cmd, argv]) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            proc.wait()
            self.proc = None
            return False, f"bcftools crashed (exit status {proc.returncode})"
        out = json.loads(line)
        return out["ok"], out.get("error", "")

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        self.proc = None

    def __call__(self, inp: Path, fasta: Path | None, opts: OptionSet, work: Path) -> Outcome:
        cur = inp
        for i, stage in enumerate(opts.stages):
            out = work / f"bcf{i}.vcf"
            extra = _first_stage_extra(fasta, opts, work) if i == 0 else []
            ok, err = self.norm(["--no-version", "-o", str(out), *stage, *extra, str(cur)])
            if not ok:
                if err.startswith("bcftools crashed"):
                    return Outcome(error=err)
                return Outcome(error=_error_line(err))
            cur = out
        return Outcome(_records(cur))


class RaygenRunner:
    """Runs ``raygen normalize`` in this process with a parser built once (the CLI's own flag handling)."""

    def __init__(self) -> None:
        from raygen.cli import build_parser  # every command's parser: only when a runner is built

        self.parser = build_parser()
        logging.getLogger("raygen").setLevel(logging.ERROR)

    def __call__(self, inp: Path, fasta: Path | None, opts: OptionSet, work: Path) -> Outcome:
        cur = inp
        rejected = 0
        for i, stage in enumerate(opts.stages):
            out = work / f"rg{i}.vcf"
            extra = _first_stage_extra(fasta, opts, work) if i == 0 else []
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
            except Exception as exc:  # a traceback for the user: a defect, whatever bcftools did
                return Outcome(error=f"{RAYGEN_CRASH} {type(exc).__name__}: {exc}"[:300])
            cur = out
            rejected += sum(1 for line in open(rej) if line.strip()) - 1 if rej.exists() else 0
        return Outcome(_records(cur), rejected=rejected)


def _first_stage_extra(fasta: Path | None, opts: OptionSet, work: Path) -> list[str]:
    extra = ["-f", str(fasta)] if fasta is not None else []
    return extra + (["-g", str(work / "gen.gff3")] if opts.gff else [])


def run_case(seed: int, opts: OptionSet, runner: RaygenRunner, work: Path | None = None,
             gen: GeneratedVcf | None = None, oracle: BcftoolsOracle | None = None) -> CaseResult:
    """Generate the case's file (``seed``, the option set's profile) and run both tools on it."""
    return next(iter(run_cases(seed, [opts], runner, oracle or _default_oracle(), gen=gen, work=work)))


_ORACLE: BcftoolsOracle | None = None


def _default_oracle() -> BcftoolsOracle:
    global _ORACLE
    if _ORACLE is None:
        _ORACLE = BcftoolsOracle()
    return _ORACLE


def run_cases(seed: int, option_sets: list[OptionSet], runner: RaygenRunner, oracle: BcftoolsOracle,
              gen: GeneratedVcf | None = None, work: Path | None = None):
    """Yield a :class:`CaseResult` per option set, generating (and writing) each profile's file once."""
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="raygen-diff-", dir=_tmp_root())) if own else work
    try:
        files: dict[str, tuple[Path, Path]] = {}
        g_tags: dict[str, frozenset[str]] = {}
        for opts in option_sets:
            if opts.profile not in files:
                g = gen if gen is not None else generate_vcf(seed, opts.profile)
                d = work / opts.profile
                d.mkdir(parents=True, exist_ok=True)
                vcf, fa = g.write(d)
                (d / "gen.gff3").write_text(generate_gff(g, seed))
                pysam.faidx(str(fa))
                files[opts.profile] = (vcf, fa)
                g_tags[opts.profile] = frozenset(re.findall(r"##FORMAT=<ID=(\w+),Number=G,", "\n".join(g.header)))
            vcf, fa = files[opts.profile]
            fasta = fa if opts.fasta else None
            b = oracle(vcf, fasta, opts, vcf.parent)
            r = runner(vcf, fasta, opts, vcf.parent)
            yield CaseResult(seed, opts, r, b, g_tags[opts.profile])
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def _tmp_root() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def minimize(seed: int, opts: OptionSet, runner: RaygenRunner, still_fails=None) -> GeneratedVcf:
    """The case's file cut down to the fewest records that still fail (``still_fails(result)``; default: a
    mismatch), by removing chunks of records (delta debugging); for reports and pinning tests."""
    gen = generate_vcf(seed, opts.profile)
    still_fails = still_fails or (lambda res: not res.match)
    records = list(gen.records)
    chunk = max(1, len(records) // 2)
    while chunk >= 1:
        i, shrunk = 0, False
        while i < len(records):
            trial = records[:i] + records[i + chunk:]
            cand = GeneratedVcf(gen.seed, gen.profile, gen.reference, gen.header, trial, gen.samples)
            if trial and still_fails(run_case(seed, opts, runner, gen=cand)):
                records, shrunk = trial, True
            else:
                i += chunk
        if not shrunk:
            chunk //= 2
    return GeneratedVcf(gen.seed, gen.profile, gen.reference, gen.header, records, gen.samples)
