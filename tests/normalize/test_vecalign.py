"""The vectorised left-aligner (``normalize/vecalign``) decides exactly what the per-record one
(``normalize/leftalign.realign``, bcftools-exact) decides, on generated inputs.

Seeded contigs full of homopolymers and short tandem repeats, runs of N, and both contig ends; indels
(and MNV/complex rows) placed inside repeats, right-shifted, padded with shared bases, next to N runs and
at the first and last bases of a contig. Every row the vectorised path accepts (``ok``) must come out
as the per-record path writes it; the rows it declines must be a minority (or the test proves nothing).
"""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from raygen.normalize.leftalign import Status, realign
from raygen.normalize.vecalign import MAX_ALLELE, realign_biallelic


def _contig(rng: random.Random, n: int) -> str:
    s: list[str] = []
    while len(s) < n:
        r = rng.random()
        if r < 0.2:
            s.extend(rng.choice("ACGT") * rng.randint(2, 14))
        elif r < 0.35:
            s.extend("".join(rng.choice("ACGT") for _ in range(rng.randint(2, 5))) * rng.randint(2, 8))
        elif r < 0.37:
            s.extend("N" * rng.randint(1, 30))
        else:
            s.append(rng.choice("ACGT"))
    return "".join(s[:n])


def _rows(rng: random.Random, seq: str, n: int) -> list[tuple[int, str, str]]:
    """(pos0, REF, ALT) rows whose REF matches ``seq`` (mostly; a few mismatch on purpose)."""
    rows = []
    L = len(seq)
    ends = [0, 1, 2, L - 3, L - 2] + [i for i in range(1, L) if seq[i - 1] == "N" and seq[i] != "N"][:20]
    while len(rows) < n:
        p = rng.choice(ends) if rng.random() < 0.1 else rng.randrange(0, L - 2)
        kind = rng.random()
        span = rng.randint(1, 8)
        if p + span + 2 > L:
            continue
        ref = seq[p: p + span + 1]
        if "N" in ref:
            continue
        if kind < 0.35:  # deletion, anchored or not, maybe with trailing shared bases
            d = rng.randint(1, span)
            alt = ref[0] + ref[1 + d:] if rng.random() < 0.7 else ref[d:]
        elif kind < 0.7:  # insertion of a copy of nearby sequence (a repeat unit) or random bases
            unit = seq[p + 1: p + 1 + rng.randint(1, 4)] if rng.random() < 0.7 else \
                "".join(rng.choice("ACGT") for _ in range(rng.randint(1, 6)))
            if not unit or "N" in unit:
                continue
            cut = rng.randint(1, len(ref))
            alt = ref[:cut] + unit * rng.randint(1, 3) + ref[cut:]
        elif kind < 0.85:  # MNV / complex
            alt = "".join(rng.choice("ACGT") for _ in range(rng.randint(1, span + 2)))
        elif kind < 0.95:  # long alleles beyond what the vector path takes
            ref = seq[p: p + min(L - p - 1, MAX_ALLELE + 5)]
            if "N" in ref:
                continue
            alt = ref[0]
        else:  # REF that disagrees with the reference
            alt = ref
            ref = "".join("ACGT"[("ACGT".index(b) + 1) % 4] for b in ref)
        if alt == ref or not alt:
            continue
        rows.append((p, ref, alt))
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_vector_path_equals_per_record_path(seed):
    rng = random.Random(seed)
    seq = _contig(rng, 3000)
    rows = _rows(rng, seq, 1500)
    pos0 = np.array([r[0] for r in rows], dtype=np.int64)
    ref = pa.array([r[1] for r in rows], pa.string())
    alt = pa.array([r[2] for r in rows], pa.string())
    arr = np.frombuffer(seq.encode(), dtype=np.uint8)
    ok, changed, npos0, nref, nalt = realign_biallelic(pos0, ref, alt, arr, seq)
    nref, nalt = nref.to_pylist(), nalt.to_pylist()

    def fetch(a: int, b: int) -> str:
        lo, hi = max(0, a), min(len(seq), b)
        return "N" * (lo - a) + seq[lo:hi] + "N" * (b - max(hi, lo, a))

    decided = moved = 0
    for i, (p, r, a) in enumerate(rows):
        status, want_pos, want_ref, want_alts, _ = realign(p + 1, r, [a], fetch)
        if not ok[i]:
            continue
        decided += 1
        assert status == Status.OK, (p, r, a, status)
        got = (int(npos0[i]) + 1, nref[i], nalt[i]) if changed[i] else (p + 1, r, a)
        assert got == (want_pos, want_ref, want_alts[0]), (p, r, a)
        moved += int(changed[i] and npos0[i] != p)
    # mismatching REFs, long alleles and contig-start anchors go per record; everything else is decided here
    assert decided > 0.6 * len(rows) and moved > 100
