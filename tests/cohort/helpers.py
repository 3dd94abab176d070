"""Test helpers for raygen.cohort: run CNVkit (the oracle), write synthetic BAMs and coverage tables.

Every generator is seeded; coordinates are 0-based half-open.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pysam

from raygen.cohort.cnvfiles import CopyNumTable, read_cnvkit
from tests.oracles import require_oracle_python

HERE = Path(__file__).resolve().parent


def run_cnvkit(workdir: Path, *jobs: list[str], timeout: int = 600) -> None:
    """Run ``cnvkit.py`` argument lists in ``workdir`` in one CNVkit process (skips without the oracle)."""
    py = require_oracle_python("cnvkit")
    spec = workdir / "cnvkit_jobs.json"
    spec.write_text(json.dumps([list(map(str, j)) for j in jobs]))
    res = subprocess.run([str(py), str(HERE / "cnvkit_batch.py"), str(spec)], capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, res.stderr[-3000:]


def compare_tables(got: CopyNumTable, exp: CopyNumTable, rtol: float = 1e-5, atol: float = 1e-6) -> dict[str, float]:
    """Assert same columns, coordinates and genes exactly and floats within tolerance; return max |diff| per
    float column."""
    assert got.columns == exp.columns, (got.columns, exp.columns)
    assert len(got) == len(exp), (len(got), len(exp))
    for c in ("chromosome", "start", "end", "gene"):
        if c in exp:
            assert np.array_equal(got[c], exp[c]), f"column {c} differs at {np.flatnonzero(got[c] != exp[c])[:5]}"
    diffs = {}
    for c in exp.columns:
        if c in ("chromosome", "start", "end", "gene"):
            continue
        a, b = got[c].astype(float), exp[c].astype(float)
        ok = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        assert ok.all(), f"{c}: {int((~ok).sum())} values differ, e.g. rows {np.flatnonzero(~ok)[:5]}: {a[~ok][:3]} vs {b[~ok][:3]}"
        both = ~(np.isnan(a) | np.isnan(b))
        diffs[c] = float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0
    return diffs


def read(path) -> CopyNumTable:
    return read_cnvkit(str(path))


# -- synthetic BAMs -------------------------------------------------------------------------------------

def write_bam(path: Path, contigs: dict[str, int], reads: list[dict], index: bool = True) -> Path:
    """A coordinate-sorted BAM of ``reads`` (dicts: chrom, pos, cigar, flag, mapq); sequences are A's."""
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": c, "LN": n} for c, n in contigs.items()],
              "RG": [{"ID": "rg", "SM": path.stem}]}
    names = list(contigs)
    reads = sorted(reads, key=lambda r: (names.index(r["chrom"]), r["pos"]))
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for k, r in enumerate(reads):
            a = pysam.AlignedSegment(out.header)
            a.query_name = f"r{k}"
            a.reference_id = names.index(r["chrom"])
            a.reference_start = r["pos"]
            a.cigarstring = r["cigar"]
            qlen = a.infer_query_length()
            a.query_sequence = "A" * qlen
            a.query_qualities = pysam.qualitystring_to_array("I" * qlen)
            a.flag = r.get("flag", 0)
            a.mapping_quality = r.get("mapq", 60)
            out.write(a)
    if index:
        pysam.index(str(path))
    return path


def random_reads(rng: np.random.Generator, contigs: dict[str, int], n: int, read_len: int = 100) -> list[dict]:
    """Reads with every feature the counting rules care about: deletions, N skips, clips, insertions,
    duplicate / secondary / QC-fail / unmapped-but-placed flags, a spread of MAPQ, and a deep pile."""
    cigars = [f"{read_len}M", f"40M5D{read_len - 40}M", f"30M200N{read_len - 30}M", f"10S{read_len - 10}M",
              f"50M3I{read_len - 53}M", f"{read_len - 5}M5S", f"20M1D20M2D{read_len - 40}M"]
    flags = [0, 0, 0, 0, 16, 0x400, 0x100, 0x200, 0x4, 0x800, 1 | 2 | 64, 1 | 2 | 128 | 16]
    reads = []
    names = list(contigs)
    for _ in range(n):
        c = names[int(rng.integers(len(names)))]
        pos = int(rng.integers(0, contigs[c] - 2 * read_len - 300))
        reads.append({"chrom": c, "pos": pos, "cigar": cigars[int(rng.integers(len(cigars)))],
                      "flag": flags[int(rng.integers(len(flags)))], "mapq": int(rng.choice([0, 5, 20, 30, 60, 60, 60]))})
    c0 = names[0]
    reads += [{"chrom": c0, "pos": 5000 + int(rng.integers(0, 20)), "cigar": f"{read_len}M"} for _ in range(300)]
    return reads


def random_bins_bed(rng: np.random.Generator, path: Path, contigs: dict[str, int], n: int, overlap: bool = True) -> Path:
    """A BED of ``n`` bins per contig (sizes 50-3000 bp), a few overlapping, some zero-width, sorted."""
    lines = []
    for c, length in contigs.items():
        starts = np.sort(rng.integers(0, length - 3000, size=n))
        for k, s in enumerate(starts.tolist()):
            e = s + int(rng.integers(50, 3000))
            if k % 17 == 0:
                e = s  # zero-width
            lines.append((c, s, e, f"G{k // 5}" if k % 3 else "-"))
    if overlap:
        lines.append((list(contigs)[0], 4990, 5150, "PILE"))
    lines.sort(key=lambda t: (list(contigs).index(t[0]), t[1], t[2]))
    path.write_text("".join(f"{c}\t{s}\t{e}\t{g}\n" for c, s, e, g in lines))
    return path


# -- synthetic cohorts ----------------------------------------------------------------------------------

def write_fasta(rng: np.random.Generator, path: Path, contigs: dict[str, int], block: int = 4000) -> Path:
    """A FASTA whose GC fraction varies from block to block (0.25-0.75) with soft-masked (lower-case)
    repeat stretches, indexed."""
    with open(path, "w") as fh:
        for c, n in contigs.items():
            seq = []
            for _ in range(0, n, block):
                gc = rng.uniform(0.25, 0.75)
                b = rng.choice(np.frombuffer(b"ACGT", dtype=np.uint8), size=block,
                               p=[(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
                if rng.random() < 0.4:
                    lo = int(rng.integers(0, block // 2))
                    b[lo: lo + int(rng.integers(100, block // 2))] += 32  # lower case
                seq.append(b)
            text = np.concatenate(seq)[:n].tobytes().decode()
            fh.write(f">{c}\n")
            fh.writelines(text[i:i + 60] + "\n" for i in range(0, n, 60))
    pysam.faidx(str(path))
    return path


def synthetic_targets(rng: np.random.Generator, contigs: dict[str, int], per_contig: int) -> CopyNumTable:
    """Target bins (100-400 bp, some in clusters closer than an insert size) on every contig."""
    rows = []
    for c, n in contigs.items():
        starts = np.sort(rng.integers(200_000, n - 200_000, size=per_contig))
        for k, s in enumerate(starts.tolist()):
            size = int(rng.integers(100, 400))
            rows.append((c, s, s + size, f"GENE{k // 6}"))
            if k % 5 == 0:
                rows.append((c, s + size + int(rng.integers(20, 200)), s + 2 * size + 200, f"GENE{k // 6}"))
    rows.sort(key=lambda r: (list(contigs).index(r[0]), r[1]))
    keep, last = [], {}
    for r in rows:  # no overlaps
        if r[1] >= last.get(r[0], -1):
            keep.append(r)
            last[r[0]] = r[2]
    return CopyNumTable({"chromosome": np.asarray([r[0] for r in keep], dtype=object),
                         "start": np.asarray([r[1] for r in keep], dtype=np.int64),
                         "end": np.asarray([r[2] for r in keep], dtype=np.int64),
                         "gene": np.asarray([r[3] for r in keep], dtype=object)})


def synthetic_coverage(rng: np.random.Generator, bins: CopyNumTable, gc: np.ndarray, female: bool, sample_id: str,
                       depth: float = 150.0, batch_shift: float = 0.0, gc_slope: float = 1.5,
                       cnv: tuple[str, float] | None = None, zero_bins: int = 0) -> CopyNumTable:
    """A raw ``.cnn`` (chromosome, start, end, gene, depth, log2) with a GC bias, a batch shift, chrX/chrY
    by sex, an optional copy-number change (chromosome, log2 shift) and some empty bins; values are rounded
    to 6 significant digits as a written file would be."""
    n = len(bins)
    anti = bins.is_antitarget()
    log2 = (np.log2(depth) + batch_shift - gc_slope * 4 * (gc - 0.5) ** 2 + 0.4 * (gc - 0.5)
            + rng.normal(0, 0.12, n) + np.where(anti, -4.0 + rng.normal(0, 0.2, n), 0.0))
    x, y = bins.chrom == "chrX", bins.chrom == "chrY"
    if female:
        log2[y] = -6 + rng.normal(0, 0.5, int(y.sum()))
    else:
        log2[x | y] -= 1.0
    if cnv is not None:
        log2[bins.chrom == cnv[0]] += cnv[1]
    d = np.asarray([float("%.6g" % v) for v in np.exp2(log2)])
    if zero_bins:
        d[rng.choice(n, zero_bins, replace=False)] = 0.0
    with np.errstate(divide="ignore"):
        l2 = np.where(d > 0, np.log2(np.where(d > 0, d, 1)), -20.0)
    cols = dict(bins.select(("chromosome", "start", "end", "gene")).data)
    cols.update(depth=d, log2=l2)
    return CopyNumTable(cols, sample_id)


def synthetic_cnr(rng: np.random.Generator, chroms=("chr1", "chr2", "chr3"), noise: float = 0.25
                  ) -> tuple[CopyNumTable, dict[str, list[int]]]:
    """A ``.cnr`` with 0-4 steps per chromosome (log2 levels -1..1) and weighted Gaussian noise, plus the
    true steps per chromosome: (bin index where the new level starts, level change; 0 for none)."""
    cols: dict[str, list] = {k: [] for k in ("chromosome", "start", "end", "gene", "log2", "depth", "weight")}
    truth = {}
    for c in chroms:
        n = int(rng.integers(300, 1500))
        starts = np.cumsum(rng.integers(200, 5000, size=n)) + 100_000
        ends = starts + rng.integers(100, 300, size=n)
        bps = np.sort(rng.choice(np.arange(10, n - 10), int(rng.integers(0, 5)), replace=False))
        level = np.zeros(n)
        for b in bps:
            level[b:] = rng.choice([-1, -0.5, 0, 0.4, 0.6, 1.0])
        truth[c] = [(int(b), float(level[b] - level[b - 1])) for b in bps]
        w = rng.uniform(0.3, 1.0, size=n)
        y = level + rng.normal(size=n) * noise / np.sqrt(w)
        cols["chromosome"] += [c] * n
        cols["start"] += starts.tolist()
        cols["end"] += ends.tolist()
        cols["gene"] += [f"G{i // 20}" for i in range(n)]
        cols["log2"] += [float("%.6g" % v) for v in y]
        cols["depth"] += [float("%.6g" % v) for v in 100 * 2 ** y]
        cols["weight"] += [float("%.6g" % v) for v in w]
    data = {k: np.asarray(v, dtype=object if k in ("chromosome", "gene") else None) for k, v in cols.items()}
    data["start"] = data["start"].astype(np.int64)
    data["end"] = data["end"].astype(np.int64)
    return CopyNumTable(data, "gen"), truth
