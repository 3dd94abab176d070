"""Fault injection on real Ray: a worker killed in the middle of a job (``raygen normalize`` on its Ray
Data actor pool; the same harness, :class:`Killer`, takes any ``ray::`` process title, e.g. ``Scorer``).

A killer thread (tests/killer.py) waits until the job's actor process exists (found among this test process's own
descendants, by the ``ray::`` process title Ray gives it), lets it work a moment, then SIGKILLs it. The job
must either finish with output identical to an undisturbed run (Ray restarts the actor and retries its
block) or fail with one clear line: never lose or duplicate a record silently.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pysam
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import badinput as B  # noqa: E402  (tests/badinput.py)
from killer import Killer  # noqa: E402  (tests/killer.py)


def _big_vcf(tmp_path: Path, n: int = 30_000) -> tuple[Path, Path]:
    rng = random.Random(2)
    seqs = {c: "".join(rng.choice("ACGT") for _ in range(L)) for c, L in (("c1", 400_000), ("c2", 300_000))}
    fa = B.write_fasta(tmp_path / "ref.fa", seqs)
    lines = []
    for c, s in seqs.items():
        for p in sorted(rng.sample(range(10, len(s) - 10), n // 2)):
            ref = s[p:p + (2 if rng.random() < 0.3 else 1)]
            alt = ref[0] if len(ref) == 2 else rng.choice([b for b in "ACGT" if b != ref])
            lines.append(f"{c}\t{p + 1}\t.\t{ref}\t{alt}\t50\tPASS\tDP=10\tGT\t0/1")
    header = [B.HEADER[0], *(f"##contig=<ID={c},length={len(s)}>" for c, s in seqs.items()),
              '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1"]
    plain = tmp_path / "big.vcf"
    plain.write_text("\n".join(header + lines) + "\n")
    gz = tmp_path / "big.vcf.gz"
    pysam.tabix_compress(str(plain), str(gz))
    pysam.tabix_index(str(gz), preset="vcf")
    return gz, fa


def _body(path: Path) -> list[str]:
    with pysam.VariantFile(str(path)) as vf:
        return [str(r) for r in vf]


@pytest.mark.timeout(300)
def test_normalize_survives_a_killed_actor(tmp_path, ray_session, run_cli):
    gz, fa = _big_vcf(tmp_path)
    ref_out = tmp_path / "undisturbed.vcf.gz"
    rc, _, err = run_cli("normalize", gz, "-f", fa, "-o", ref_out, "--no-ray", "-q")
    assert rc == 0, err
    want = _body(ref_out)
    killer = Killer("BlockNormalizer", delay_s=0.3)
    killer.start()
    out = tmp_path / "killed.vcf.gz"
    o = B.run_in_process(["normalize", gz, "-f", fa, "-o", out, "--ray", "--shard-bp", "20000", "-q"], 240)
    killer.stop.set()
    killer.join()
    assert killer.killed, "the actor was never seen: the fault was not injected"
    assert o.traceback is None and not o.hung, o.traceback
    print(f"normalize after killing {killer.killed}: exit {o.rc} in {o.seconds:.1f} s")
    if o.rc == 0:
        assert _body(out) == want  # nothing lost, nothing duplicated
    else:  # allowed: a clear failure, no output
        assert len(B.error_lines(o.err, "normalize")) == 1 and not out.exists(), o.err[-2000:]
    assert not B.leftovers(tmp_path)


@pytest.fixture
def small_fs(tmp_path):
    """A 1 MiB tmpfs of our own (root only; skipped with a message elsewhere), unmounted afterwards."""
    import subprocess

    mnt = tmp_path / "small_fs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({r.stderr.strip() or 'not root'})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(fs: Path, leave_bytes: int) -> None:
    """Fill ``fs`` until about ``leave_bytes`` are free."""
    st = os.statvfs(fs)
    free = st.f_bavail * st.f_frsize
    with open(fs / "filler", "wb") as fh:
        fh.write(b"\0" * max(free - leave_bytes, 0))


@pytest.mark.parametrize("suffix", [".vcf", ".vcf.gz"])
def test_disk_full_while_writing_keeps_the_previous_output(tmp_path, small_fs, suffix):
    """ENOSPC from a real filesystem while `raygen normalize` writes: exit 1 with one line that says the disk
    is full and names the output; the previous output is byte-identical; no temporary is left behind."""
    rng = random.Random(5)
    seqs = {"c1": "".join(rng.choice("ACGT") for _ in range(60_000))}
    fa = B.write_fasta(tmp_path / "ref.fa", seqs)
    rows = [f"c1\t{p + 1}\t.\t{seqs['c1'][p]}\t{'ACGT'[('ACGT'.index(seqs['c1'][p]) + 1) % 4]}\t50\tPASS\tDP=10"
            for p in sorted(rng.sample(range(10, 59_990), 6000))]
    vcf = tmp_path / "in.vcf"
    vcf.write_text("\n".join([B.HEADER[0], "##contig=<ID=c1,length=60000>",
                              '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
                              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO", *rows[:50]]) + "\n")
    out = small_fs / f"out{suffix}"
    first = B.run_in_process(["normalize", vcf, "-f", fa, "-o", out, "--no-ray", "-q"], 60)
    assert first.rc == 0, first.err
    before = {p.name: p.read_bytes() for p in small_fs.iterdir()}
    vcf.write_text(vcf.read_text() + "\n".join(rows[50:]) + "\n")  # now too big for what is left
    _fill(small_fs, 16 * 1024)
    _assert_disk_full_kept(small_fs, ["normalize", vcf, "-f", fa, "-o", out, "--no-ray", "-q"], str(small_fs), before)


def _assert_disk_full_kept(fs: Path, argv: list, named: str, before: dict[str, bytes]) -> None:
    """``raygen ARGV`` on the full ``fs``: exit 1, one line saying so and naming ``named``, the files of
    ``fs`` (but the filler) as ``before``, no temporary left."""
    o = B.run_in_process(argv, 60)
    assert o.traceback is None and not o.hung, o.traceback
    lines = B.error_lines(o.err, argv[0])
    assert o.rc == 1 and len(lines) == 1, o.err[-2000:]
    assert "no space left" in lines[0].lower() and named in lines[0], lines
    assert {p.name: p.read_bytes() for p in fs.iterdir() if p.name != "filler"} == before
    assert not B.leftovers(fs)


@pytest.mark.timeout(300)
@pytest.mark.skipif(not os.environ.get("RAYGEN_LONG_FAULTS"), reason="long (80 s under load, over this suite's CI "
                    "budget): RAYGEN_LONG_FAULTS=1 pytest tests/test_faults.py -k scoring_actor")
def test_score_survives_a_killed_scoring_actor(tmp_path, ray_session):
    """SIGKILL the Ray Data scoring actor of `raygen score` mid-job: the job still writes every record with the
    scores of an undisturbed run (the same Scorer in this process; `raygen score` and it agree to the 4 decimals
    the VCF carries, tests/serve/test_api.py) or fails with one clear line and no output."""
    from raygen.models.tiny import build_tiny_model
    from raygen.scoring import Scorer
    from raygen.variant import Variant

    rng = random.Random(9)
    seqs = {"c1": "".join(rng.choice("ACGT") for _ in range(40_000))}
    fa = B.write_fasta(tmp_path / "ref.fa", seqs)
    model = build_tiny_model(tmp_path / "model", scheme="char", kind="mlm", seed=0)
    positions = sorted(rng.sample(range(200, 39_800), 300))
    rows = [f"c1\t{p}\t.\t{seqs['c1'][p - 1]}\t{'ACGT'[('ACGT'.index(seqs['c1'][p - 1]) + 1) % 4]}\t.\tPASS\t."
            for p in positions]
    vcf = tmp_path / "in.vcf"
    vcf.write_text("\n".join([B.HEADER[0], "##contig=<ID=c1,length=40000>",
                              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO", *rows]) + "\n")
    killer = Killer("ScorerActor", delay_s=0.5)
    killer.start()
    out = tmp_path / "killed.vcf"
    o = B.run_in_process(["score", vcf, "-f", fa, "--model", model, "-o", out, "--actors", "1",
                          "--cpus-per-actor", "0.5", "--rows-per-batch", "50", "-q"], 240)
    killer.stop.set()
    killer.join()
    assert killer.killed, "the scoring actor was never seen: the fault was not injected"
    assert o.traceback is None and not o.hung, o.traceback
    print(f"score after killing {killer.killed}: exit {o.rc} in {o.seconds:.1f} s")
    if o.rc != 0:  # allowed: a clear failure, no output
        assert len(B.error_lines(o.err, "score")) == 1 and not out.exists(), o.err[-2000:]
        return
    got = [ln.split("\t") for ln in out.read_text().splitlines() if not ln.startswith("#")]
    assert [(c[0], int(c[1]), c[3], c[4]) for c in got] == [tuple(r.split("\t")[i] if i != 1 else int(
        r.split("\t")[1]) for i in (0, 1, 3, 4)) for r in rows]  # every record once, in order
    want = Scorer(str(model), str(fa)).score_variants([Variant("c1", p, r[3], r[4]) for p, r in
                                                       zip(positions, (x.split("\t") for x in rows))])
    llr = [float(dict(kv.split("=", 1) for kv in c[7].split(";") if "=" in kv)["RAYGEN_LLR"]) for c in got]
    assert llr == pytest.approx([w.llr for w in want], abs=6e-5)
    assert not B.leftovers(tmp_path)


@pytest.mark.parametrize("suffix,long_contig", [(".vcf.gz", False), (".vcf.gz", True), (".bcf", False)],
                         ids=["tbi", "csi", "bcf_csi"])
def test_disk_full_while_writing_the_index_keeps_the_previous_output(tmp_path, small_fs, suffix, long_contig):
    """ENOSPC from a real filesystem after the data file fits but its .tbi/.csi does not (so far only tried by
    hand): exit 1, one line saying the disk is full and naming the output; the previous output and index are
    byte-identical; no temporary is left. The free space is measured: exactly the new data file's pages."""
    rng = random.Random(6)
    seqs = {"c1": "".join(rng.choice("ACGT") for _ in range(20_000))}
    fa = B.write_fasta(tmp_path / "ref.fa", seqs)
    length = 600_000_000 if long_contig else 20_000  # > 2^29: CSI
    rows = [f"c1\t{p + 1}\t.\t{seqs['c1'][p]}\t{'ACGT'[('ACGT'.index(seqs['c1'][p]) + 1) % 4]}\t50\tPASS\tDP=10"
            for p in sorted(rng.sample(range(10, 19_990), 3000))]
    head = [B.HEADER[0], f"##contig=<ID=c1,length={length}>", '##INFO=<ID=DP,Number=1,Type=Integer,Description="D">',
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    vcf = tmp_path / "in.vcf"
    vcf.write_text("\n".join(head + rows[:20]) + "\n")
    out = small_fs / f"out{suffix}"
    assert B.run_in_process(["normalize", vcf, "-f", fa, "-o", out, "--no-ray", "-q"], 60).rc == 0
    before = {p.name: p.read_bytes() for p in small_fs.iterdir()}
    vcf.write_text("\n".join(head + rows) + "\n")
    dry = tmp_path / f"dry{suffix}"  # the same output on a roomy disk: its data file's size
    assert B.run_in_process(["normalize", vcf, "-f", fa, "-o", dry, "--no-ray", "-q"], 60).rc == 0
    page = os.statvfs(small_fs).f_frsize
    pages = -(-dry.stat().st_size // page)
    if suffix == ".bcf":  # the BCF is encoded from a plain-VCF temp that lives until the index is written
        plain = tmp_path / "dry.vcf"
        assert B.run_in_process(["normalize", vcf, "-f", fa, "-o", plain, "--no-ray", "-q"], 60).rc == 0
        pages += -(-plain.stat().st_size // page)
    _fill(small_fs, pages * page)
    _assert_disk_full_kept(small_fs, ["normalize", vcf, "-f", fa, "-o", out, "--no-ray", "-q"], str(out), before)
