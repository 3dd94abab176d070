"""Truth variants for a simulated genome: placement, normalization, genotypes.

Every variant is first drawn as a *pure* event in 0-based reference coordinates (substitution of
bases, deletion of ``ref[p:p+d]``, or insertion of bases before ``ref[p]``). Indels are then moved to
their leftmost equivalent position and written with one anchor base, which is exactly the
representation ``bcftools norm -f`` produces (left-aligned and parsimonious). The span between the
leftmost and the rightmost equivalent position (plus padding) must not touch any other variant or an
N, so each haplotype has one unambiguous description.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from raygen.config import SimulateConfig
from raygen.simulate.reference import BASES, N_ASCII, Contig

#: Bases kept free around every variant's shift span; also the most padding ``--denormalize`` adds.
PAD = 3


@dataclass
class TruthVariant:
    """One truth record. ``pos0`` is the 0-based start of ``ref`` (VCF POS - 1)."""

    chrom: str
    pos0: int
    ref: str
    alts: list[str]
    kinds: list[str]  # per ALT: SNV, MNP, INS or DEL
    repeat: bool = False  # indel whose equivalent positions span more than one place (in a repeat)
    gt: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int8))  # (samples, 2) allele indices
    denorm: tuple[int, str, list[str]] | None = None  # (pos0, ref, alts) non-normalized form, if any

    @property
    def pos(self) -> int:
        """1-based VCF POS."""
        return self.pos0 + 1


def shift_left(seq: bytes, p: int, dlen: int, ins: bytes) -> tuple[int, bytes]:
    """Leftmost equivalent position of a deletion of ``seq[p:p+dlen]`` or an insertion of ``ins``
    before ``seq[p]`` (exactly one of ``dlen``/``ins`` is set); returns (p, rotated ins)."""
    if dlen:
        while p > 0 and seq[p - 1] == seq[p + dlen - 1]:
            p -= 1
    else:
        while p > 0 and seq[p - 1] == ins[-1]:
            ins = ins[-1:] + ins[:-1]
            p -= 1
    return p, ins


def shift_right(seq: bytes, p: int, dlen: int, ins: bytes) -> tuple[int, bytes]:
    """Rightmost equivalent position of the same pure indel (see :func:`shift_left`)."""
    n = len(seq)
    if dlen:
        while p + dlen < n and seq[p] == seq[p + dlen]:
            p += 1
    else:
        while p < n and seq[p] == ins[0]:
            ins = ins[1:] + ins[:1]
            p += 1
    return p, ins


def indel_record(seq: bytes, p: int, dlen: int, ins: bytes) -> tuple[int, str, str]:
    """VCF (pos0, REF, ALT) of a pure indel at ``p`` with the base before it as anchor."""
    anchor = seq[p - 1: p].decode()
    if dlen:
        return p - 1, seq[p - 1: p + dlen].decode(), anchor
    return p - 1, anchor, anchor + ins.decode()


@dataclass
class _Candidate:
    lo: int  # span [lo, hi) that no other variant may touch
    hi: int
    order: int
    make: tuple  # what to build if accepted


def _indel_candidate(seq: bytes, p: int, dlen: int, ins: bytes, n: int) -> tuple[int, int, tuple] | None:
    if p < 1 or p + dlen > n:
        return None
    pl, insl = shift_left(seq, p, dlen, ins)
    pr, _ = shift_right(seq, pl, dlen, insl)
    lo, hi = pl - 1 - PAD, pr + dlen + PAD
    if lo < 0 or hi > n or N_ASCII in seq[lo:hi]:
        return None
    return lo, hi, (pl, pr, dlen, insl)


def simulate_variants(contig: Contig, cfg: SimulateConfig, rng: np.random.Generator) -> list[TruthVariant]:
    """Place non-overlapping SNVs, MNPs, indels (many inside repeats) and multiallelic sites on one
    contig, normalized, with genotypes for ``cfg.samples`` samples; sorted by position."""
    seq = contig.seq.tobytes()
    cands: list[_Candidate] = []
    # The draws happen in this order (SNVs, MNPs, indels, then per accepted indel, then genotypes): the same
    # seed gives the same variants.
    for lo, hi, make in [*_snv_sites(len(seq), cfg, rng), *_mnp_sites(len(seq), cfg, rng),
                         *_indel_sites(contig, seq, cfg, rng)]:
        cands.append(_Candidate(lo, hi, len(cands), make))
    out = [_truth_variant(c, contig.name, seq, rng) for c in _accepted(cands, seq)]
    _genotype(out, cfg.samples, rng)
    return out


def _snv_sites(n: int, cfg: SimulateConfig, rng: np.random.Generator) -> list[tuple[int, int, tuple]]:
    """SNVs (some multiallelic): ALT codes differ from REF by a random non-zero offset mod 4."""
    n_snv = rng.poisson(cfg.snv_rate * n)
    pos = rng.integers(PAD + 1, max(PAD + 2, n - PAD - 1), n_snv)
    off1 = rng.integers(1, 4, n_snv)
    off2 = (off1 + rng.integers(1, 3, n_snv) - 1) % 3 + 1  # a second, different non-zero offset
    multi = rng.random(n_snv) < cfg.multiallelic_fraction
    return [(p - PAD, p + 1 + PAD, ("SNV", p, (o1, o2) if m else (o1,)))
            for p, o1, o2, m in zip(pos.tolist(), off1.tolist(), off2.tolist(), multi.tolist())]


def _mnp_sites(n: int, cfg: SimulateConfig, rng: np.random.Generator) -> list[tuple[int, int, tuple]]:
    """MNPs: 2-3 adjacent substitutions, every base changed so the record is already parsimonious."""
    n_mnp = rng.poisson(cfg.mnp_rate * n)
    pos = rng.integers(PAD + 1, max(PAD + 2, n - PAD - 4), n_mnp)
    mlen = rng.integers(2, 4, n_mnp)
    moff = rng.integers(1, 4, (n_mnp, 3))
    return [(p - PAD, p + m + PAD, ("MNP", p, tuple(o[:m]))) for p, m, o in zip(pos.tolist(), mlen.tolist(), moff.tolist())]


def _indel_sites(contig: Contig, seq: bytes, cfg: SimulateConfig, rng: np.random.Generator
                 ) -> list[tuple[int, int, tuple]]:
    """Indels: a fraction in tandem repeats (whole units, so equivalent positions span the repeat)."""
    n = len(seq)
    n_indel = rng.poisson(cfg.indel_rate * n)
    in_repeat = rng.random(n_indel) < cfg.repeat_indel_fraction
    if contig.tracts.shape[0] == 0:
        in_repeat[:] = False
    is_del = rng.random(n_indel) < 0.5
    tract_pick = rng.integers(0, max(1, contig.tracts.shape[0]), n_indel)
    units = rng.integers(1, 3, n_indel)  # 1-2 repeat units
    frac = rng.random(n_indel)  # where in the repeat the event is first drawn
    rlen = np.minimum(rng.geometric(0.45, n_indel), cfg.max_indel_len)
    rpos = rng.integers(PAD + 2, max(PAD + 3, n - PAD - cfg.max_indel_len - 2), n_indel)
    rins = rng.integers(0, 4, (n_indel, cfg.max_indel_len))
    multi = rng.random(n_indel) < cfg.multiallelic_fraction
    out = []
    for i in range(n_indel):
        if in_repeat[i]:
            start, unit, copies = (int(x) for x in contig.tracts[tract_pick[i]])
            k = int(units[i])
            if is_del[i]:
                k = min(k, copies - 1) if copies > 1 else 1
                j = int(frac[i] * (copies - k + 1))
                p, dlen, ins = start + j * unit, k * unit, b""
            else:
                j = int(frac[i] * (copies + 1))
                p, dlen, ins = start + j * unit, 0, seq[start: start + unit] * k
            if N_ASCII in ins or len(ins) > 4 * cfg.max_indel_len:
                continue
        elif is_del[i]:
            p, dlen, ins = int(rpos[i]), int(rlen[i]), b""
        else:
            p, dlen, ins = int(rpos[i]), 0, BASES[rins[i, : rlen[i]]].tobytes()
        got = _indel_candidate(seq, p, dlen, ins, n)
        if got is not None:
            lo, hi, (pl, pr, dlen, insl) = got
            second = _second_alt(seq, pl, pr, dlen, insl, cfg) if multi[i] and in_repeat[i] else None
            out.append((lo, hi, ("INDEL", pl, pr, dlen, insl, second)))
    return out


def _second_alt(seq: bytes, pl: int, pr: int, dlen: int, insl: bytes, cfg: SimulateConfig) -> tuple | None:
    """A second ALT at a repeat indel: one unit more (deletion) or one more copy (insertion), where it fits."""
    if pr <= pl:
        return None
    if dlen and pl + 2 * dlen <= pr + dlen and seq[pl: pl + dlen] == seq[pl + dlen: pl + 2 * dlen]:
        return ("DEL2", 2 * dlen)
    if not dlen and 2 * len(insl) <= 4 * cfg.max_indel_len:
        return ("INS2", insl * 2)
    return None


def _accepted(cands: list[_Candidate], seq: bytes) -> list[_Candidate]:
    """Greedy, position-ordered acceptance: a span must start at least one base after the last ends."""
    cands = sorted(cands, key=lambda c: (c.lo, c.order))
    accepted: list[_Candidate] = []
    last_hi = -1
    for c in cands:
        if c.lo > last_hi and N_ASCII not in seq[c.lo: c.hi]:
            accepted.append(c)
            last_hi = c.hi
    return accepted


def _truth_variant(c: _Candidate, chrom: str, seq: bytes, rng: np.random.Generator) -> TruthVariant:
    kind = c.make[0]
    if kind == "SNV":
        _, p, offs = c.make
        rc = int(np.flatnonzero(BASES == seq[p])[0])
        alts = [chr(BASES[(rc + o) % 4]) for o in offs]
        return TruthVariant(chrom, p, chr(seq[p]), alts, ["SNV"] * len(alts))
    if kind == "MNP":
        _, p, offs = c.make
        ref = seq[p: p + len(offs)]
        alt = "".join(chr(BASES[(int(np.flatnonzero(BASES == b)[0]) + o) % 4]) for b, o in zip(ref, offs))
        return TruthVariant(chrom, p, ref.decode(), [alt], ["MNP"])
    _, pl, pr, dlen, insl, second = c.make
    pos0, ref, alt = indel_record(seq, pl, dlen, insl)
    v = TruthVariant(chrom, pos0, ref, [alt], ["DEL" if dlen else "INS"], repeat=pr > pl)
    if second is not None:
        if second[0] == "DEL2":
            _, ref2, alt2 = indel_record(seq, pl, second[1], b"")
            v.ref, v.alts, v.kinds = ref2, [ref2[0] + ref2[1 + dlen:], alt2], ["DEL", "DEL"]
        else:
            _, _, alt2 = indel_record(seq, pl, 0, second[1])
            v.alts, v.kinds = [alt, alt2], ["INS", "INS"]
    v.denorm = _denormalize(seq, pl, pr, dlen, insl, rng) if len(v.alts) == 1 else None
    return v


def _denormalize(seq: bytes, pl: int, pr: int, dlen: int, ins: bytes, rng: np.random.Generator):
    """A non-normalized but equivalent (pos0, REF, ALTs) of a pure indel: right-shifted inside its
    repeat, or padded with 1..PAD shared bases on the left and/or right (which ``bcftools norm``
    trims). Draws from ``rng`` unconditionally so the stream does not depend on the branch taken."""
    r_shift, r_left, r_right, r_where = rng.random(), int(rng.integers(0, PAD + 1)), int(rng.integers(0, PAD + 1)), rng.random()
    if pr > pl and r_shift < 0.7:
        p = pl + 1 + int(r_where * (pr - pl))  # strictly right of the normalized position
        pos0, ref, alt = indel_record(seq, p, dlen, _rotate(ins, p - pl))
        return pos0, ref, [alt]
    if r_left + r_right == 0:
        r_left = 1
    pos0, ref, alt = indel_record(seq, pl, dlen, ins)
    end = pos0 + len(ref)
    left = seq[pos0 - r_left: pos0].decode()
    right = seq[end: end + r_right].decode()
    return pos0 - r_left, left + ref + right, [left + alt + right]


def _rotate(ins: bytes, k: int) -> bytes:
    """Insertion sequence after moving the insertion ``k`` bases right (inside its repeat)."""
    if not ins:
        return ins
    k %= len(ins)
    return ins[k:] + ins[:k]


def _genotype(variants: list[TruthVariant], samples: int, rng: np.random.Generator) -> None:
    """Diploid genotypes: each haplotype of each sample carries an ALT with probability 0.5 (the ALT
    picked uniformly at multiallelic sites); a site nobody carries goes to SAMPLE1 as het; half of the
    multiallelic sites give SAMPLE1 both ALTs (1|2)."""
    nv = len(variants)
    carry = rng.random((nv, samples, 2)) < 0.5
    which = rng.integers(1, 3, (nv, samples, 2))
    force_hap = rng.integers(0, 2, nv)
    both = rng.random(nv) < 0.5
    for i, v in enumerate(variants):
        n_alt = len(v.alts)
        gt = np.where(carry[i], np.minimum(which[i], n_alt), 0).astype(np.int8)
        if not gt.any():
            gt[0, force_hap[i]] = 1
        if n_alt == 2 and both[i]:
            gt[0] = (1, 2) if force_hap[i] == 0 else (2, 1)
        v.gt = gt
