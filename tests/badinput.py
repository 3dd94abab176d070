"""A seeded generator of bad user input, and the checks every command must pass on it.

Each :class:`Case` is one broken input (VCF text or bytes, FASTA, BAM, BED) made from a clean random base by
one mutation drawn from a seeded RNG, so a seed gives the same corpus everywhere and a new seed a new one.
Record-level faults (a bad POS, a missing column, a control character inside a record...) must become
rejects: the run exits 0 and ``in = out + rejected``. File-level faults (wrong magic, truncated header,
empty file, FASTA that does not match...) must stop the run with exit 2 (or 1) and one line that names the
file and says why. Always: no Python traceback, no partial output, no hang.

Used by ``tests/test_bad_input.py`` (a bounded corpus in CI) and ``benchmarks/reliability.py`` (long
campaigns that print the probe table).
"""

from __future__ import annotations

import gzip
import random
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pysam

CONTIGS = {"c1": 3000, "c2": 2000}
SAMPLES = ("S1", "S2")
HEADER = [
    "##fileformat=VCFv4.2",
    *(f"##contig=<ID={c},length={n}>" for c, n in CONTIGS.items()),
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
    '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">',
    '##FILTER=<ID=q10,Description="Quality below 10">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">',
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(SAMPLES),
]


# ---------------------------------------------------------------------------------------------------
# The clean base
# ---------------------------------------------------------------------------------------------------
def reference(rng: random.Random) -> dict[str, str]:
    """Random contigs (with a short N run in c1 and a homopolymer that left-alignment walks through)."""
    seqs = {c: "".join(rng.choice("ACGT") for _ in range(n)) for c, n in CONTIGS.items()}
    s = seqs["c1"]
    seqs["c1"] = s[:1000] + "N" * 50 + s[1050:1500] + "A" * 30 + s[1530:]
    return seqs


def write_fasta(path: Path, seqs: dict[str, str], index: bool = True) -> Path:
    path.write_text("".join(f">{c}\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n"
                            for c, s in seqs.items()))
    if index:
        pysam.faidx(str(path))
    return path


def clean_records(rng: random.Random, seqs: dict[str, str], n: int = 40) -> list[str]:
    """``n`` sorted, valid records (SNVs, deletions, insertions, multi-allelic) matching ``seqs``."""
    out = []
    for chrom, s in seqs.items():
        positions = sorted(rng.sample(range(5, len(s) - 10), n // len(seqs)))
        for p in positions:  # p: 0-based
            kind = rng.random()
            ref = s[p]
            if ref == "N":
                continue
            if kind < 0.5:
                alts = [rng.choice([b for b in "ACGT" if b != ref])]
            elif kind < 0.7:
                ref = s[p:p + rng.randint(2, 4)]
                alts = [ref[0]]
            elif kind < 0.9:
                alts = [ref + "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 3)))]
            else:
                alts = rng.sample([b for b in "ACGT" if b != ref], 2)
            if "N" in ref:
                continue
            gts = "\t".join(f"{rng.choice(['0/0', '0/1', '1/1', './.'])}:{rng.randint(1, 60)}" for _ in SAMPLES)
            ac = ",".join(str(rng.randint(0, 4)) for _ in alts)
            out.append(f"{chrom}\t{p + 1}\t.\t{ref}\t{','.join(alts)}\t{rng.randint(1, 99)}\tPASS\t"
                       f"DP={rng.randint(5, 90)};AC={ac}\tGT:DP\t{gts}")
    return out


# ---------------------------------------------------------------------------------------------------
# Mutations: record level (the run goes on; the record is a reject or passes if still valid)
# ---------------------------------------------------------------------------------------------------
def _cols(line: str) -> list[str]:
    return line.split("\t")


def _set(line: str, i: int, value: str) -> str:
    c = _cols(line)
    c[i] = value
    return "\t".join(c)


RECORD_MUTATIONS = {
    "pos_text": lambda r, l: _set(l, 1, r.choice(["abc", "1e3", "", "-5", "12.5", "0x10", " 12"])),
    "pos_huge": lambda r, l: _set(l, 1, str(r.choice([2**31, 2**63, 2**64 + 3, 10**30]))),
    "pos_beyond_contig": lambda r, l: _set(l, 1, str(CONTIGS.get(_cols(l)[0], 3 * 10**8) + r.randint(1, 10**6))),
    "pos_zero": lambda r, l: _set(l, 1, "0"),
    "missing_columns": lambda r, l: "\t".join(_cols(l)[:r.randint(1, 9)]),
    "extra_columns": lambda r, l: l + "\t0/1:3" * r.randint(1, 3),
    "ref_non_acgt": lambda r, l: _set(l, 3, r.choice(["A1", "A-C", "ÄC", "A C", "<DEL>", "A*"])),
    "ref_empty": lambda r, l: _set(l, 3, ""),
    "alt_garbage": lambda r, l: _set(l, 4, r.choice(["", "A,,C", "1", "A;C", "[[", "A C"])),
    "ref_wrong_base": lambda r, l: _set(l, 3, "".join(r.choice("ACGT") for _ in _cols(l)[3])),
    "qual_text": lambda r, l: _set(l, 5, r.choice(["high", "1,2", "--", "nan1"])),
    "chrom_unknown": lambda r, l: _set(l, 0, r.choice(["chrZ", "c1 ", "c 1", "c1\x0b"])),
    "chrom_empty": lambda r, l: _set(l, 0, ""),
    "info_garbage": lambda r, l: _set(l, 7, r.choice(["DP=abc", "AC=1,2,3,4", "=;=", "DP", ";;", "X" * 70000])),
    "gt_garbage": lambda r, l: _set(l, 9, r.choice(["0/9:3", "a/b:3", "0/1:x", "0//1:3", ":::"])),
    "cr_inside": lambda r, l: l[:r.randint(1, len(l) - 1)] + "\r" + l[r.randint(1, len(l) - 1):],
    "nul_inside": lambda r, l: l[:r.randint(1, len(l) - 1)] + "\x00" + l[r.randint(1, len(l) - 1):],
    "control_char": lambda r, l: l[:r.randint(1, len(l) - 1)] + r.choice("\x01\x07\x1b\x7f") + l[r.randint(1, len(l) - 1):],
    "spaces_not_tabs": lambda r, l: l.replace("\t", " "),
    "blank_line": lambda r, l: "",
    "truncated_line": lambda r, l: l[:r.randint(1, len(l) - 1)],
    "long_ref": lambda r, l: _set(_set(l, 3, "A" * r.randint(300, 3000)), 4, "A"),
}
#: Byte-level record faults (applied to the encoded line).
BYTE_MUTATIONS = {
    "invalid_utf8": lambda r, b: b[:r.randint(0, len(b))] + bytes([r.choice([0x80, 0xC3, 0xFF, 0xFE])]) + b[r.randint(0, len(b)):],
}
#: Faults of one record line the reader must reject (the others may still be valid records).
MUST_REJECT = {"pos_text", "pos_huge", "pos_beyond_contig", "missing_columns", "extra_columns", "ref_non_acgt",
               "ref_empty", "alt_garbage", "qual_text", "chrom_empty", "cr_inside", "nul_inside", "control_char",
               "spaces_not_tabs", "invalid_utf8"}


# ---------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------
@dataclass
class Case:
    """One bad input. ``level`` is ``record`` (exit 0, in = out + rejected) or ``file`` (exit 1/2, one line)."""

    name: str
    level: str
    path: Path
    fasta: Path
    n_in: int | None = None  # records a line reader sees (record level)
    min_rejects: int = 0
    extra: dict = field(default_factory=dict)


def _bgzip(data: bytes, path: Path) -> Path:
    plain = path.with_suffix("")
    plain.write_bytes(data)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path


def count_data_lines(data: bytes) -> int:
    """Record lines a line reader sees: newline-separated, not starting with '#', not blank."""
    if not data.endswith(b"\n"):
        data += b"\n"
    return sum(1 for ln in data.split(b"\n")[:-1] if ln.rstrip(b"\r") and not ln.startswith(b"#"))


def record_case(d: Path, rng: random.Random, seqs: dict[str, str], fasta: Path, idx: int,
                header: list[str] = HEADER, recs: list[str] | None = None, prefix: str = "rec") -> Case:
    """A clean VCF (or ``header`` + ``recs``, e.g. real records) with 1-4 of its records mutated (same
    mutation kind), plain, CRLF or bgzipped."""
    recs = recs if recs is not None else clean_records(rng, seqs)
    kinds = [*RECORD_MUTATIONS, *BYTE_MUTATIONS]
    kind = rng.choice(kinds)
    rows = rng.sample(range(len(recs)), rng.randint(1, 4))
    lines = [ln.encode() for ln in recs]
    for i in rows:
        if kind in RECORD_MUTATIONS:
            lines[i] = RECORD_MUTATIONS[kind](rng, recs[i]).encode("utf-8", "surrogatepass")
        else:
            lines[i] = BYTE_MUTATIONS[kind](rng, lines[i])
    eol = rng.choice([b"\n", b"\n", b"\r\n"])
    data = eol.join([h.encode() for h in header] + lines) + eol
    n_in = count_data_lines(data)
    crlf = "_crlf" if eol != b"\n" else ""
    name = f"{prefix}{idx:03d}_{kind}{crlf}"
    if rng.random() < 0.4:
        path = _bgzip(data, d / f"{name}.vcf.gz")
    else:
        path = d / f"{name}.vcf"
        path.write_bytes(data)
    must = kind in MUST_REJECT and kind != "blank_line"
    return Case(name, "record", path, fasta, n_in=n_in, min_rejects=1 if must else 0, extra={"kind": kind})


def _truncated_bgzf(d: Path, rng: random.Random, seqs: dict[str, str], fasta: Path, idx: int) -> Case:
    recs = clean_records(rng, seqs, n=400)
    data = ("\n".join(HEADER + recs) + "\n").encode()
    full = _bgzip(data, d / f"trunc{idx:03d}_full.vcf.gz").read_bytes()
    hdr_len = len(gzip.compress(("\n".join(HEADER) + "\n").encode()))
    cut = rng.randint(min(hdr_len + 40, len(full) - 30), len(full) - 1)
    path = d / f"trunc{idx:03d}.vcf.gz"
    path.write_bytes(full[:cut])
    (d / f"trunc{idx:03d}_full.vcf.gz").unlink()
    # What a reader can recover: complete lines of the decompressible prefix, plus one reject for the cut.
    text = _decompress_prefix(full[:cut])
    if b"#CHROM" not in text or text.find(b"\n", text.find(b"#CHROM")) < 0:
        return Case(f"trunc{idx:03d}_header", "file", path, fasta, extra={"kind": "truncated_in_header"})
    complete = text[:text.rfind(b"\n") + 1]
    return Case(f"trunc{idx:03d}", "record", path, fasta, n_in=count_data_lines(complete) + 1, min_rejects=1,
                extra={"kind": "truncated_bgzf"})


def _decompress_prefix(data: bytes) -> bytes:
    out, rest = [], data
    while rest:
        d = zlib.decompressobj(31)
        try:
            out.append(d.decompress(rest))
        except zlib.error:
            break
        if not d.eof:
            break
        rest = d.unused_data
    return b"".join(out)


def _header_text(rng: random.Random) -> list[str]:
    return list(HEADER)


FILE_FAULTS = {
    "empty": lambda r, recs: b"",
    "header_only_no_chrom": lambda r, recs: "\n".join(HEADER[:-1]).encode() + b"\n",
    "records_before_header": lambda r, recs: ("\n".join([recs[0], *HEADER, *recs[1:]]) + "\n").encode(),
    "no_header": lambda r, recs: ("\n".join(recs) + "\n").encode(),
    "wrong_magic_binary": lambda r, recs: bytes(r.getrandbits(8) for _ in range(r.randint(1, 4000))),
    "wrong_magic_bam": lambda r, recs: b"BAM\x01" + bytes(r.getrandbits(8) for _ in range(200)),
    "gzip_garbage": lambda r, recs: b"\x1f\x8b\x08\x04" + bytes(r.getrandbits(8) for _ in range(300)),
    "bad_info_header": lambda r, recs: ("\n".join([HEADER[0], "##INFO=<ID=DP,Number=1,Type=Integer",
                                                   *HEADER[1:], *recs]) + "\n").encode(),
    "bad_header_line": lambda r, recs: ("\n".join([HEADER[0], r.choice(["##contig=<ID=c1,length=abc>",
                                                   "##FORMAT=<Number=1>", "##INFO=<ID=,Type=Flag>"]),
                                                   *HEADER[1:], *recs]) + "\n").encode(),
    "chrom_line_short": lambda r, recs: ("\n".join([*HEADER[:-1], "#CHROM\tPOS\tID\tREF", *recs]) + "\n").encode(),
    "duplicate_samples": lambda r, recs: ("\n".join([*HEADER[:-1], HEADER[-1].replace("S2", "S1"), *recs]) + "\n").encode(),
    "no_fileformat": lambda r, recs: ("\n".join([*HEADER[1:], *recs]) + "\n").encode(),
    "utf16": lambda r, recs: ("\n".join([*HEADER, *recs]) + "\n").encode("utf-16"),
    # issue 19, a second tester's corpus: a NUL in a header line and FORMAT without samples were written with
    # exit 0 as headers htslib cannot read; a byte-order mark was "not a header line"
    "nul_in_header": lambda r, recs: ("\n".join([HEADER[0], '##INFO=<ID=X\x00,Number=1,Type=Integer>', *HEADER[1:],
                                                  *recs]) + "\n").encode(),
    "format_no_samples": lambda r, recs: ("\n".join([*HEADER[:-1], "\t".join(HEADER[-1].split("\t")[:9]),
                                                      *("\t".join(x.split("\t")[:9]) for x in recs)]) + "\n").encode(),
    "bom": lambda r, recs: ("\ufeff" + "\n".join([*HEADER, *recs]) + "\n").encode(),
}


def file_case(d: Path, rng: random.Random, seqs: dict[str, str], fasta: Path, idx: int) -> Case:
    """A VCF with a whole-file fault (must stop with a clear error, or, where the fault is tolerable, run
    cleanly: ``no_fileformat`` and ``duplicate_samples`` may be refused or repaired, never half-written)."""
    recs = clean_records(rng, seqs)
    kind = rng.choice(sorted(FILE_FAULTS))
    data = FILE_FAULTS[kind](rng, recs)
    path = d / f"file{idx:03d}_{kind}.vcf"
    if rng.random() < 0.3 and data:
        path = d / f"file{idx:03d}_{kind}.vcf.gz"
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return Case(f"file{idx:03d}_{kind}", "file", path, fasta, extra={"kind": kind})


FASTA_FAULTS = ("contig_renamed", "contig_short", "not_fasta", "empty", "bad_fai", "missing")


def fasta_case(d: Path, rng: random.Random, seqs: dict[str, str], idx: int) -> Case:
    """A clean VCF against a FASTA that does not fit it (renamed/short contigs) or is broken."""
    recs = clean_records(rng, seqs)
    vcf = d / f"fa{idx:03d}.vcf"
    vcf.write_text("\n".join(HEADER + recs) + "\n")
    kind = rng.choice(FASTA_FAULTS)
    fa = d / f"fa{idx:03d}_{kind}.fa"
    if kind == "contig_renamed":
        write_fasta(fa, {f"chr{c}": s for c, s in seqs.items()})
    elif kind == "contig_short":
        write_fasta(fa, {c: s[:len(s) // 3] for c, s in seqs.items()})
    elif kind == "not_fasta":
        fa.write_bytes(rng.choice([b"hello world\n", bytes(rng.getrandbits(8) for _ in range(500))]))
    elif kind == "empty":
        fa.write_bytes(b"")
    elif kind == "bad_fai":
        write_fasta(fa, seqs)
        Path(str(fa) + ".fai").write_text("c1\t99999999\t4\t60\t61\n")
    # "missing": the path does not exist
    level = "record" if kind in ("contig_renamed", "contig_short") else "file"
    return Case(f"fa{idx:03d}_{kind}", level, vcf, fa, n_in=len(recs), extra={"kind": kind, "fasta_fault": True})


def corpus(root: Path, seed: int, n_record: int, n_file: int, n_fasta: int, n_trunc: int) -> list[Case]:
    """A corpus of bad VCF/FASTA inputs under ``root`` from ``seed`` (the same seed, the same files)."""
    rng = random.Random(seed)
    seqs = reference(rng)
    fasta = write_fasta(root / "ref.fa", seqs)
    cases: list[Case] = []
    cases += [record_case(root, rng, seqs, fasta, i) for i in range(n_record)]
    cases += [_truncated_bgzf(root, rng, seqs, fasta, i) for i in range(n_trunc)]
    cases += [file_case(root, rng, seqs, fasta, i) for i in range(n_file)]
    cases += [fasta_case(root, rng, seqs, i) for i in range(n_fasta)]
    return cases


# ---------------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------------
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\w+(\.\w+)*(Error|Exception):", re.M)


def leftovers(out_dir: Path) -> list[str]:
    """Temporary or partial files a run left behind in ``out_dir``."""
    return sorted(p.name for p in out_dir.iterdir() if ".tmp-" in p.name or p.name.startswith(".raygen"))


def count_vcf_records(path: Path) -> int:
    """Records in an output VCF, read by pysam/htslib (raises if htslib cannot read it)."""
    with pysam.VariantFile(str(path)) as vf:
        return sum(1 for _ in vf)


def count_rejects(path: Path) -> int:
    """Rows of a rejects TSV (header line excluded)."""
    if not path.exists():
        return 0
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")  # not splitlines: \x0b, \x1c...
    return sum(1 for ln in lines[1:] if ln.strip()) if lines and lines[0].startswith("SOURCE") else len(lines)


# ---------------------------------------------------------------------------------------------------
# Running a command on a case
# ---------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one run did: exit code (None: it raised or hung), stderr, the escaped exception, seconds."""

    rc: int | None
    err: str
    traceback: str | None
    hung: bool
    seconds: float


class _Hang(BaseException):
    pass


def run_in_process(argv: list[str], timeout_s: float) -> Outcome:
    """``raygen ARGV`` in this process (the CLI's own error handling), stderr captured, bounded by SIGALRM.

    An exception that escapes ``raygen.cli.main`` is what a user would see as a traceback.
    """
    import contextlib
    import io
    import signal
    import time
    import traceback

    from raygen.cli import main

    def on_alarm(signum, frame):
        raise _Hang()

    err, out = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    t0 = time.perf_counter()
    rc, tb, hung = None, None, False
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main([str(a) for a in argv])
    except _Hang:
        hung = True
    except SystemExit as exc:  # argparse
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # noqa: BLE001 - the point: anything that escapes is a defect
        tb = traceback.format_exc()
        # the alarm's _Hang raised inside a C call (e.g. ray.wait) comes out as SystemError: a hang, not a traceback
        if "_Hang" in tb or time.perf_counter() - t0 >= timeout_s:
            tb, hung = None, True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return Outcome(rc, err.getvalue(), tb, hung, time.perf_counter() - t0)


def error_lines(err: str, command: str) -> list[str]:
    """The ``raygen CMD: error: ...`` lines of a run's stderr."""
    return [ln for ln in err.splitlines() if ln.startswith(f"raygen {command}: error:")]


def judge(case: Case, o: Outcome, command: str, output: Path, rejects: Path | None) -> list[str]:
    """Problems with one run (empty: it behaved). Also fills ``case.extra['lost']`` for record faults."""
    problems = []
    if o.hung:
        return ["hang"]
    if o.traceback or TRACEBACK.search(o.err):
        return ["traceback: " + (o.traceback or o.err).strip().splitlines()[-1][:300]]
    left = leftovers(output.parent)
    if left:
        problems.append(f"partial/temporary files left: {left}")
    if o.rc not in (0, 1, 2):
        problems.append(f"exit code {o.rc}")
    if o.rc:
        lines = error_lines(o.err, command)
        if len(lines) != 1:
            problems.append(f"expected one error line, got {len(lines)}: {o.err.strip()[-300:]!r}")
        elif case.fasta.name not in lines[0] and case.path.name not in lines[0] and "--" not in lines[0]:
            problems.append(f"error does not name the file: {lines[0]!r}")
        if output.exists():
            problems.append("exit != 0 but an output file exists")
        if case.level == "record" and case.extra.get("kind") not in ("ref_wrong_base",):
            problems.append(f"record-level fault stopped the run: {lines[-1] if lines else o.err[-200:]!r}")
        return problems
    # exit 0
    if case.level == "file" and case.extra.get("kind") not in TOLERABLE_FILE_FAULTS:
        problems.append("file-level fault exited 0")
    try:
        n_out = count_vcf_records(output) if output.exists() else 0
    except (OSError, ValueError) as exc:
        return problems + [f"exit 0 but htslib cannot read the output: {exc}"]
    n_rej = count_rejects(rejects) if rejects else 0
    if case.n_in is not None:
        lost = case.n_in - n_out - n_rej
        case.extra["lost"] = max(lost, 0)
        if lost:
            problems.append(f"in={case.n_in} out={n_out} rejected={n_rej}: {lost} record(s) unaccounted")
    if n_rej < case.min_rejects:
        problems.append(f"expected >= {case.min_rejects} reject(s), got {n_rej}")
    return problems


#: File faults that a tool may repair or tolerate (exit 0 with a readable output is acceptable).
TOLERABLE_FILE_FAULTS = {"no_fileformat", "duplicate_samples", "bad_header_line", "bad_info_header"}


# ---------------------------------------------------------------------------------------------------
# BAM inputs (raygen call, raygen cohort coverage)
# ---------------------------------------------------------------------------------------------------
def _read(name: str, tid: int, pos0: int, seq: str, cigar: list[tuple[int, int]], flag: int = 0) -> pysam.AlignedSegment:
    r = pysam.AlignedSegment()
    r.query_name, r.flag, r.reference_id, r.reference_start = name, flag, tid, pos0
    r.mapping_quality, r.cigartuples = 60, cigar
    r.query_sequence = seq
    r.query_qualities = pysam.qualitystring_to_array("I" * len(seq)) if seq else None
    r.set_tag("RG", "rg1")
    return r


def write_bam(path: Path, seqs: dict[str, str], rng: random.Random, *, n: int = 300, kind: str = "clean",
              index: bool = True) -> Path:
    """A coordinate-sorted BAM of ``n`` reads per contig (a het SNV every ~200 bp); ``kind`` adds an
    oddity: ``unmapped_only``, ``zero_length`` reads, ``cigar_edges`` (soft clips only, insertions at the
    ends, deletions next to clips), ``unsorted``, ``renamed`` contigs."""
    names = [f"chr{c}" if kind == "renamed" else c for c in seqs]
    header = {"HD": {"VN": "1.6", "SO": "unsorted" if kind == "unsorted" else "coordinate"},
              "SQ": [{"SN": nm, "LN": len(s)} for nm, s in zip(names, seqs.values())],
              "RG": [{"ID": "rg1", "SM": "S1"}]}
    reads = []
    for tid, s in enumerate(seqs.values()):
        for i in range(n):
            p = rng.randrange(0, len(s) - 100)
            seq = list(s[p:p + 100].replace("N", "A"))
            for j in range(100):
                if (p + j) % 200 == 17 and rng.random() < 0.5:
                    seq[j] = "T" if seq[j] != "T" else "G"
            seq = "".join(seq)
            cig = [(0, 100)]
            if kind == "zero_length" and i % 5 == 0:
                seq, cig = "", [(0, 100)]  # SEQ '*'
            elif kind == "cigar_edges" and i % 4 == 0:
                cig = rng.choice([[(4, 100)], [(1, 5), (0, 95)], [(0, 95), (1, 5)], [(4, 10), (2, 3), (0, 90)],
                                  [(0, 50), (3, 1000), (0, 50)], [(5, 20), (0, 100)]])
            flag = 4 if kind == "unmapped_only" else (16 if i % 2 else 0)
            reads.append(_read(f"r{tid}_{i}", tid, p, seq, cig, flag))
    if kind != "unsorted":
        reads.sort(key=lambda r: (r.reference_id, r.reference_start))
    else:
        rng.shuffle(reads)
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for r in reads:
            out.write(r)
    if index and kind != "unsorted":
        pysam.index(str(path))
    return path


BAM_FAULTS = ("truncated", "truncated_with_index", "no_index", "wrong_magic", "empty", "sam_text",
              "unmapped_only", "zero_length", "cigar_edges", "unsorted", "renamed", "stale_index",
              # issue 19, a second tester's corpus: a directory named *.bam was an IsADirectoryError traceback;
              # contig lengths of another build did not name the BAM; no @SQ lines spoke of pysam's check_sq
              "directory", "wrong_build", "no_sq", "header_only")
#: BAM faults after which the run must still succeed (exit 0): the reads are odd, the file is not broken.
BAM_TOLERABLE = {"no_index", "unmapped_only", "zero_length", "cigar_edges", "header_only"}


def bam_case(d: Path, rng: random.Random, seqs: dict[str, str], fasta: Path, idx: int, kind: str) -> Case:
    """A BAM with fault ``kind`` (see :data:`BAM_FAULTS`)."""
    path = d / f"bam{idx:03d}_{kind}.bam"
    if kind in ("truncated", "truncated_with_index", "stale_index"):
        full = write_bam(d / f"bam{idx:03d}_full.bam", seqs, rng, n=600)
        data = full.read_bytes()
        cut = rng.randint(len(data) // 5, len(data) - 30)
        path.write_bytes(data[:cut] if kind != "stale_index" else write_bam(
            d / f"bam{idx:03d}_other.bam", seqs, rng, n=50, index=False).read_bytes())
        if kind != "truncated":
            Path(str(full) + ".bai").replace(str(path) + ".bai")
    elif kind == "wrong_magic":
        path.write_bytes(bytes(rng.getrandbits(8) for _ in range(rng.randint(10, 5000))))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "directory":
        path.mkdir()
    elif kind == "wrong_build":
        write_bam(path, {c: sq + "A" * 500 for c, sq in seqs.items()}, rng, n=50)
    elif kind == "no_sq":
        with pysam.AlignmentFile(str(path), "wb", header={"HD": {"VN": "1.6"}}):
            pass
    elif kind == "header_only":
        write_bam(path, seqs, rng, n=0)
    elif kind == "sam_text":
        path.write_text("@HD\tVN:1.6\n@SQ\tSN:c1\tLN:3000\nr1\t0\tc1\t10\t60\t5M\t*\t0\t0\tACGTA\tIIIII\n")
    else:
        write_bam(path, seqs, rng, kind=kind, index=kind != "no_index")
    level = "record" if kind in BAM_TOLERABLE else "file"
    return Case(f"bam{idx:03d}_{kind}", level, path, fasta, extra={"kind": kind})


def mixed_case(d: Path, rng: random.Random, seqs: dict[str, str], fasta: Path, name: str = "mixed") -> Case:
    """One VCF holding one record of every record-level fault (for commands too slow to run once per fault,
    e.g. ``raygen score``, which starts actors and loads a model)."""
    recs = clean_records(rng, seqs, n=120)
    kinds = [*RECORD_MUTATIONS, *BYTE_MUTATIONS]
    rows = rng.sample(range(len(recs)), len(kinds))
    lines = [ln.encode() for ln in recs]
    must = 0
    for kind, i in zip(kinds, rows):
        if kind in RECORD_MUTATIONS:
            lines[i] = RECORD_MUTATIONS[kind](rng, recs[i]).encode("utf-8", "surrogatepass")
        else:
            lines[i] = BYTE_MUTATIONS[kind](rng, lines[i])
        must += kind in MUST_REJECT
    data = b"\n".join([h.encode() for h in HEADER] + lines) + b"\n"
    path = d / f"{name}.vcf"
    path.write_bytes(data)
    return Case(name, "record", path, fasta, n_in=count_data_lines(data), min_rejects=must, extra={"kind": "mixed"})


def real_cases(d: Path, rng: random.Random, vcf: Path, fasta: Path, n_cases: int, n_records: int = 300) -> list[Case]:
    """Mutated copies of the first ``n_records`` records of a real VCF (its own header kept)."""
    import itertools

    with pysam.VariantFile(str(vcf)) as vf:
        header = str(vf.header).rstrip("\n").split("\n")
        recs = [str(r).rstrip("\n") for r in itertools.islice(vf, n_records)]
    return [record_case(d, rng, {}, fasta, i, header=header, recs=recs, prefix="real") for i in range(n_cases)]
