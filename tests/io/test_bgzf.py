"""The threaded BGZF writer: same bytes as htslib (pysam.BGZFile) for any thread count and write sizes."""

from __future__ import annotations

import gzip
import random

import pysam

from raygen.io.bgzf import BLOCK_SIZE, EOF_BLOCK, BgzfWriter


def test_same_bytes_as_htslib_any_threads_and_write_sizes(tmp_path):
    rng = random.Random(7)
    lines = "".join(f"chr{rng.randint(1, 22)}\t{rng.randint(1, 10**8)}\t.\tA\tC\t.\tPASS\tDP={rng.randint(0, 99)}\n"
                    for _ in range(20_000))
    data = lines.encode() + rng.randbytes(3 * BLOCK_SIZE)  # some incompressible blocks
    ref = tmp_path / "ref.gz"
    with pysam.BGZFile(str(ref), "wb") as fh:
        fh.write(data)
    want = ref.read_bytes()
    for threads, step in [(1, len(data)), (2, 1000), (3, BLOCK_SIZE), (2, 7 * BLOCK_SIZE + 13)]:
        out = tmp_path / f"t{threads}-{step}.gz"
        with BgzfWriter(out, threads=threads) as fh:
            for i in range(0, len(data), step):
                fh.write(data[i : i + step])
        got = out.read_bytes()
        assert got == want, (threads, step)
        assert got.endswith(EOF_BLOCK)
        assert gzip.decompress(got) == data


def test_empty_file_is_valid_bgzf(tmp_path):
    out = tmp_path / "e.gz"
    with BgzfWriter(out):
        pass
    assert out.read_bytes() == EOF_BLOCK
    assert gzip.decompress(out.read_bytes()) == b""
