"""Parallel BGZF compression for large VCF outputs (zlib releases the GIL, so threads use every core).

``raygen.io.vcf.write_vcf`` compresses through pysam on one thread; the normalize command writes its
(often large) output through :func:`write_bgzf_vcf` instead, which cuts the text into 64 KiB BGZF blocks,
deflates them on a thread pool and then builds the tabix index with pysam. The bytes are standard BGZF
(readable by htslib, bgzip, gzip) with the usual empty EOF block.
"""

from __future__ import annotations

import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: Uncompressed bytes per BGZF block: htslib's limit leaves room for incompressible data in 64 KiB.
BLOCK = 65280
EOF_BLOCK = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def _block(data: bytes, level: int) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = c.compress(data) + c.flush()
    bsize = len(body) + 25
    head = struct.pack("<4BI2BH2BH", 0x1F, 0x8B, 8, 4, 0, 0, 0xFF, 6, 0x42, 0x43, 2) + struct.pack("<H", bsize)
    tail = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data))
    return head + body + tail


def compress_to(fh, data: memoryview | bytes, level: int = 6, threads: int | None = None) -> None:
    """Write ``data`` to the binary file ``fh`` as BGZF blocks (no EOF marker)."""
    mv = memoryview(data)
    chunks = [bytes(mv[i: i + BLOCK]) for i in range(0, len(mv), BLOCK)]
    workers = threads or os.cpu_count() or 1
    if workers > 1 and len(chunks) > 4:
        with ThreadPoolExecutor(workers) as pool:
            for blk in pool.map(lambda b: _block(b, level), chunks, chunksize=16):
                fh.write(blk)
    else:
        for b in chunks:
            fh.write(_block(b, level))


def write_bgzf_vcf(header_text: str, body: bytes | memoryview, out: str | os.PathLike[str], *, index: bool = True,
                   level: int = 6, csi: bool = False) -> Path:
    """Write header + record text as ``out`` (BGZF) and its tabix index, atomically (both appear together)."""
    import pysam

    from raygen.errors import RaygenError
    from raygen.io.atomic import atomic_paths

    out = Path(out)
    finals = [out] + ([Path(str(out) + (".csi" if csi else ".tbi"))] if index else [])
    with atomic_paths(*finals) as tmps:
        with open(tmps[0], "wb") as fh:
            compress_to(fh, header_text.encode(), level)
            compress_to(fh, body, level)
            fh.write(EOF_BLOCK)
        if index:
            try:
                made = pysam.tabix_index(str(tmps[0]), preset="vcf", force=True, csi=csi)
            except (OSError, ValueError) as exc:
                raise RaygenError(f"indexing {str(out)!r} failed: {exc}") from None
            os.replace(str(made) + (".csi" if csi else ".tbi"), tmps[1])
    return out
