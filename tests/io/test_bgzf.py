"""The threaded BGZF writer: the blocks htslib (pysam.BGZFile) writes, for any thread count, write sizes and
place of compression (this process or the worker process, also switching mid-stream): the same block
boundaries, each block inflating to htslib's bytes (the DEFLATE stream itself is zlib-ng's, so the
compressed bytes differ), readable by htslib; the compressed block sizes it reports are the file's."""

from __future__ import annotations

import errno
import gzip
import random
import struct

import pysam
import pytest

from raygen.io.bgzf import BLOCK_SIZE, EOF_BLOCK, BgzfWriter


def _blocks(raw: bytes) -> list[bytes]:
    """The uncompressed contents of each BGZF block of ``raw`` (BSIZE read from each block's extra field)."""
    out, off = [], 0
    while off < len(raw):
        assert raw[off:off + 4] == b"\x1f\x8b\x08\x04" and raw[off + 12:off + 14] == b"BC"
        bsize = struct.unpack("<H", raw[off + 16:off + 18])[0] + 1
        out.append(gzip.decompress(raw[off:off + bsize]))
        off += bsize
    return out


def test_same_blocks_as_htslib_any_threads_and_write_sizes(tmp_path):
    rng = random.Random(7)
    lines = "".join(f"chr{rng.randint(1, 22)}\t{rng.randint(1, 10**8)}\t.\tA\tC\t.\tPASS\tDP={rng.randint(0, 99)}\n"
                    for _ in range(12_000))
    data = lines.encode() + rng.randbytes(3 * BLOCK_SIZE)  # some incompressible blocks
    ref = tmp_path / "ref.gz"
    with pysam.BGZFile(str(ref), "wb") as fh:
        fh.write(data)
    want = _blocks(ref.read_bytes())
    first = None
    # process_min_bytes: None = never a worker process here (small data); else where the worker takes over
    for threads, step, pmb in [(0, 1000, None), (1, len(data), None), (2, 1000, 3 * BLOCK_SIZE + 5),
                               (3, BLOCK_SIZE, None), (2, 7 * BLOCK_SIZE + 13, None)]:
        out = tmp_path / f"t{threads}-{step}-{pmb}.gz"
        with BgzfWriter(out, threads=threads, process_min_bytes=pmb) as fh:
            for i in range(0, len(data), step):
                fh.write(data[i : i + step])
        got = out.read_bytes()
        assert _blocks(got) == want, (threads, step, pmb)
        assert got == (first := first or got)  # the same bytes wherever the blocks were deflated
        assert sum(fh.block_csize) + len(EOF_BLOCK) == len(got) and len(fh.block_csize) == len(want) - 1
        assert got.endswith(EOF_BLOCK)
        assert gzip.decompress(got) == data
        with pysam.BGZFile(str(out), "rb") as fh:  # htslib reads it back
            assert fh.read() == data


def test_empty_file_is_valid_bgzf(tmp_path):
    out = tmp_path / "e.gz"
    with BgzfWriter(out):
        pass
    assert out.read_bytes() == EOF_BLOCK
    assert gzip.decompress(out.read_bytes()) == b""


def test_worker_process_write_error_is_the_oserror(tmp_path):
    """A failing write in the worker process (here ENOSPC: /dev/full) reaches the caller as that OSError, so
    raygen.io.vcf reports a full disk as it does for the in-process writer."""
    with pytest.raises(OSError) as err:
        with BgzfWriter("/dev/full", threads=1, process_min_bytes=0) as fh:
            fh.write(b"x" * (3 * BLOCK_SIZE))
    assert err.value.errno == errno.ENOSPC
