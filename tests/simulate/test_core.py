"""Pure core of the simulator (no Ray, no files): indel shifting, haplotype placement and CIGARs."""

from __future__ import annotations

import random

import numpy as np

from raygen.simulate.haplotype import build_haplotype
from raygen.simulate.variants import indel_record, shift_left, shift_right


def apply(seq: bytes, p: int, dlen: int, ins: bytes) -> bytes:
    return seq[:p] + ins + seq[p + dlen:]


def test_shift_left_right_find_every_equivalent_position_brute_force():
    rnd = random.Random(0)
    checked = 0
    for _ in range(3000):
        seq = bytes(rnd.choice(b"AC") for _ in range(rnd.randint(4, 14)))  # 2 letters: many repeats
        n = len(seq)
        if rnd.random() < 0.5:
            dlen, ins = rnd.randint(1, 3), b""
            p = rnd.randint(1, n - dlen)
        else:
            dlen, ins = 0, bytes(rnd.choice(b"AC") for _ in range(rnd.randint(1, 3)))
            p = rnd.randint(1, n)
        hap = apply(seq, p, dlen, ins)
        pl, insl = shift_left(seq, p, dlen, ins)
        pr, insr = shift_right(seq, p, dlen, ins)
        assert apply(seq, pl, dlen, insl) == hap and apply(seq, pr, dlen, insr) == hap
        # brute force: the positions giving the same haplotype with a same-length event are exactly [pl, pr]
        same = [q for q in range(0, n - dlen + 1)
                if (dlen and apply(seq, q, dlen, b"") == hap)
                or (not dlen and any(apply(seq, q, 0, seq_ins) == hap for seq_ins in
                                     {hap[q: q + len(ins)]}))]
        assert same[0] == pl and same[-1] == pr and same == list(range(pl, pr + 1))
        checked += 1
    assert checked == 3000


def test_indel_record_uses_left_anchor():
    seq = b"GTAAAAC"
    p, _ = shift_left(seq, 5, 1, b"")  # delete one A of the homopolymer
    assert p == 2 and indel_record(seq, p, 1, b"") == (1, "TA", "T")
    p, ins = shift_left(seq, 6, 0, b"A")  # insert an A at the end of the homopolymer
    assert indel_record(seq, p, 0, ins) == (1, "T", "TA")


def test_haplotype_placement_and_cigars():
    ref = np.frombuffer(b"ACGTACGTAC" * 10, np.uint8).copy()  # 100 bp
    # SNV at 5, deletion of ref[21:24] (anchor 20), insertion of GGGG after ref 40 (anchor 40)
    alleles = [(5, "C", "T"), (20, "ACGT", "A"), (40, "A", "AGGGG")]
    h = build_haplotype(ref, 0, 100, alleles)
    assert h.length == 100 - 3 + 4
    assert h.seq[5] == ord("T")
    # haplotype: hap 0-20 = ref 0-20, ref 21-23 deleted, hap 21-37 = ref 24-40, hap 38-41 = GGGG, hap 42+ = ref 41+
    starts = np.array([0, 10, 22, 30, 38, 41, 42])
    pos, end, impure = h.place(starts, 20)
    assert pos.tolist() == [0, 10, 25, 33, 41, 41, 41]
    assert end.tolist() == [20, 33, 41, 49, 57, 60, 61]
    assert impure.tolist() == [False, True, True, True, True, True, False]
    cigars = [h.cigar(int(s), 20) for s in starts]
    assert cigars == ["20M", "11M3D9M", "16M4S", "8M4I8M", "4S16M", "1S19M", "20M"]
    hap_str = h.seq.tobytes().decode()
    assert hap_str[35:44] == "ACAGGGGCG"  # ref 38-40, the insertion, ref 41-42
