"""raygen.io.samplecheck: matching the tab-joined sample columns at once decides every row as matching each
column on its own does (random values built from the characters that matter), and the rules hold."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from raygen.io import samplecheck
from raygen.io.header import VcfHeader

HEADER = VcfHeader.from_text(
    "##fileformat=VCFv4.2\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">\n'
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="a">\n'
    '##FORMAT=<ID=AF,Number=A,Type=Float,Description="f">\n'
    '##FORMAT=<ID=XS,Number=1,Type=String,Description="s">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3\n")
FORMATS = ["GT:AD", "GT:XS:AD", "AD:AF", "XS", "GT:AD:AD", "GT::AD"]


def test_joined_equals_per_column(monkeypatch):
    rng = np.random.default_rng(3)
    pieces = ["0", "1", "/", "|", ".", ":", ",", "-", "x", "1e5", "", "12", "0/1", "nan"]
    n = 4000
    fmt = pa.array([FORMATS[i] for i in rng.integers(0, len(FORMATS), size=n)])
    cols = [pa.array(["".join(pieces[j] for j in rng.integers(0, len(pieces), size=rng.integers(0, 7)))
                      for _ in range(n)]) for _ in range(3)]
    joined = samplecheck.samples_ok(fmt, cols, HEADER)
    monkeypatch.setattr(samplecheck, "MAX_JOINED", 0)  # one match per column
    per_column = samplecheck.samples_ok(fmt, cols, HEADER)
    assert 0.05 < joined.mean() < 0.95  # the draw has both kinds
    assert (joined == per_column).all()


def test_rules():
    fmt = pa.array(["GT:AD"] * 5 + ["GT:XS"])
    s1 = pa.array(["0/1:3,4", "0/1:", "0/1::3", "a/b:1", "0|1", "0/1:x y"])
    s2 = pa.array(["1/1:0,9", "./.", "0/1:1", "0/1", ".", "1:z"])
    assert samplecheck.samples_ok(fmt, [s1, s2], HEADER).tolist() == [True, True, False, False, True, True]
