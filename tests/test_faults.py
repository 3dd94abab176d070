"""Fault injection on real Ray: a worker killed in the middle of a job (``raygen normalize`` on its Ray
Data actor pool; the same harness, :class:`Killer`, takes any ``ray::`` process title, e.g. ``Scorer``).

A killer thread waits until the job's actor process exists (found among this test process's own
descendants, by the ``ray::`` process title Ray gives it), lets it work a moment, then SIGKILLs it. The job
must either finish with output identical to an undisturbed run (Ray restarts the actor and retries its
block) or fail with one clear line: never lose or duplicate a record silently.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pysam
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import badinput as B  # noqa: E402  (tests/badinput.py)


class Killer(threading.Thread):
    """SIGKILL the first descendant process whose title holds ``needle``, ``delay_s`` after it appears."""

    def __init__(self, needle: str, delay_s: float, timeout_s: float = 120):
        super().__init__(daemon=True)
        self.needle, self.delay_s, self.timeout_s = needle, delay_s, timeout_s
        self.killed: list[tuple[int, str]] = []
        self.stop = threading.Event()

    def _find(self) -> psutil.Process | None:
        for p in psutil.Process(os.getpid()).children(recursive=True):
            try:
                title = " ".join(p.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if self.needle in title:
                return p
        return None

    def run(self) -> None:
        t_end = time.monotonic() + self.timeout_s
        while not self.stop.is_set() and time.monotonic() < t_end:
            p = self._find()
            if p is not None:
                time.sleep(self.delay_s)
                try:
                    title = " ".join(p.cmdline())
                    os.kill(p.pid, signal.SIGKILL)
                    self.killed.append((p.pid, title))
                except (psutil.NoSuchProcess, ProcessLookupError):
                    continue
                return
            time.sleep(0.02)


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
