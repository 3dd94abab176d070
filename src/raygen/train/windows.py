"""Training windows from a reference: regions, a block-wise validation split, random windows, masking.

Pure numpy over ASCII byte arrays (no Ray, no torch), so each training worker builds its own sampler from
the FASTA path. Coordinates are 0-based half-open, like BED.
"""

from __future__ import annotations

import os

import numpy as np

from raygen.errors import InputError
from raygen.io.fasta import Reference
from raygen.models.tokenizer import CLS_ID, MASK_ID, N_ID, SEP_ID, BASE_OFFSET, encode_bases
from raygen.regions import Region
from raygen.regions import read_bed as bed_regions

#: Complement of ASCII bases (N and anything else map to N).
_COMP = np.full(256, ord("N"), dtype=np.uint8)
for _a, _b in zip(b"ACGTacgt", b"TGCATGCA"):
    _COMP[_a] = _b


def read_bed(path: str | os.PathLike[str], ref: Reference) -> list[Region]:
    """Regions of a BED file (:func:`raygen.regions.read_bed`: 0-based half-open, ends clipped to the contig),
    checked against ``ref``; zero-length intervals hold no window and are left out. Raises
    :class:`InputError` naming file, line and reason for a malformed line or a contig ``ref`` lacks, and for a
    BED without intervals."""
    regions = [r for r in bed_regions(path, ref.lengths, against=f"the FASTA {ref.path!r}") if r.end > r.start]
    if not regions:
        raise InputError(f"BED {str(path)!r} has no intervals")
    return regions


def whole_genome(ref: Reference, contigs: list[str] | None = None) -> list[Region]:
    """One region per contig of ``ref`` (or of ``contigs``, checked to exist)."""
    names = contigs or ref.contigs
    for c in names:
        ref.length(c)  # raises InputError naming the contig
    return [Region(c, 0, ref.length(c)) for c in names]


def split_blocks(regions: list[Region], block_bp: int, val_fraction: float, seed: int
                 ) -> tuple[list[Region], list[Region]]:
    """Cut regions into blocks of ``block_bp`` and hold out a seeded ``val_fraction`` of whole blocks.

    Returns (train, validation). Adjacent blocks with the same role are merged, so training windows may
    span them; a window never crosses a train/validation boundary. At least one block goes to validation
    when ``val_fraction`` > 0.
    """
    blocks = [Region(r.chrom, s, min(s + block_bp, r.end)) for r in regions for s in range(r.start, r.end, block_bp)]
    rng = np.random.default_rng(seed)
    n_val = int(round(len(blocks) * val_fraction))
    if val_fraction > 0:
        n_val = max(1, min(n_val, len(blocks) - 1))
    is_val = np.zeros(len(blocks), dtype=bool)
    is_val[rng.choice(len(blocks), size=n_val, replace=False)] = True

    def merged(flag: bool) -> list[Region]:
        out: list[Region] = []
        for b, v in zip(blocks, is_val):
            if v != flag:
                continue
            if out and out[-1].chrom == b.chrom and out[-1].end == b.start:
                out[-1] = Region(b.chrom, out[-1].start, b.end)
            else:
                out.append(b)
        return out

    return merged(False), merged(True)


def load_sequences(ref_path: str, regions: list[Region]) -> list[np.ndarray]:
    """Upper-case ASCII bytes (uint8) of each region."""
    with Reference(ref_path) as ref:
        return [np.frombuffer(ref.fetch(r.chrom, r.start, r.end).encode("ascii"), dtype=np.uint8) for r in regions]


def _usable(bad_prefix: np.ndarray, length: int, max_n: int) -> bool:
    return bool(((bad_prefix[length:] - bad_prefix[:-length]) <= max_n).any())


def check_usable_window(ref_path: str, regions: list[Region], length: int, max_n_fraction: float,
                        chunk_bp: int = 1 << 20) -> None:
    """InputError unless some ``length``-bp window of ``regions`` (0-based half-open) has at most
    ``max_n_fraction`` non-ACGT bases, the rule :class:`WindowSampler` draws by. Checked in the driver so
    an all-N FASTA fails in one line before Ray Train starts (not in every worker, retried). Stops at the
    first usable window: on a real genome that is in its first megabase."""
    max_n = int(max_n_fraction * length)
    with Reference(ref_path) as ref:
        for r in regions:
            for start in range(r.start, max(r.end - length + 1, r.start), chunk_bp):
                seq = ref.fetch(r.chrom, start, min(start + chunk_bp + length - 1, r.end))
                ids = encode_bases(np.frombuffer(seq.encode("ascii"), dtype=np.uint8))
                bad = np.concatenate([[0], np.cumsum(ids >= N_ID, dtype=np.int32)])
                if len(seq) >= length and _usable(bad, length, max_n):
                    return
    raise InputError(f"{ref_path}: every {length}-bp window of the training regions has more than "
                     f"{max_n_fraction:.0%} N (or other non-ACGT bases): nothing to train on")


class WindowSampler:
    """Random fixed-length windows from a set of sequences, skipping N-rich ones, with RC augmentation.

    Windows are drawn uniformly over all positions where a whole window fits; a window whose fraction of
    non-ACGT bases exceeds ``max_n_fraction`` is redrawn. Each window is reverse-complemented with
    probability 0.5 when ``reverse_complement`` is set.
    """

    def __init__(self, seqs: list[np.ndarray], length: int, *, max_n_fraction: float = 0.05,
                 reverse_complement: bool = True, seed: int = 0):
        self.seqs = [s for s in seqs if len(s) >= length]
        if not self.seqs:
            raise InputError(f"no region is at least {length} bp long: use a smaller --context or larger regions")
        self.length = length
        self.max_n = int(max_n_fraction * length)
        self.rc = reverse_complement
        self.rng = np.random.default_rng(seed)
        starts = np.array([len(s) - length + 1 for s in self.seqs], dtype=np.int64)
        self._cum = np.cumsum(starts)
        # Prefix counts of non-ACGT bases: a window's N count is one subtraction.
        self._bad = [np.concatenate([[0], np.cumsum(encode_bases(s) >= N_ID, dtype=np.int32)]) for s in self.seqs]
        if not any(_usable(b, length, self.max_n) for b in self._bad):
            raise InputError(f"every {length}-bp window has more than {max_n_fraction:.0%} N: nothing to train on")

    def sample(self, n: int) -> np.ndarray:
        """``n`` windows as uint8 ASCII, shape [n, length]."""
        out = np.empty((n, self.length), dtype=np.uint8)
        filled = 0
        while filled < n:
            k = 2 * (n - filled) + 8
            flat = self.rng.integers(0, self._cum[-1], size=k)
            which = np.searchsorted(self._cum, flat, side="right")
            offs = flat - np.concatenate([[0], self._cum[:-1]])[which]
            for w, o in zip(which, offs):
                bad = self._bad[w]
                if bad[o + self.length] - bad[o] > self.max_n:
                    continue
                out[filled] = self.seqs[w][o:o + self.length]
                filled += 1
                if filled == n:
                    break
        if self.rc:
            flip = self.rng.random(n) < 0.5
            out[flip] = _COMP[out[flip, ::-1]]
        return out


def reverse_complement(seqs: np.ndarray) -> np.ndarray:
    """Reverse complement of uint8 ASCII windows along the last axis."""
    return _COMP[seqs[..., ::-1]]


def to_token_ids(windows: np.ndarray) -> np.ndarray:
    """[CLS] + bases + [SEP] token ids (int64) for uint8 windows of shape [B, L]."""
    ids = encode_bases(windows)
    b = ids.shape[0]
    return np.concatenate([np.full((b, 1), CLS_ID), ids, np.full((b, 1), SEP_ID)], axis=1)


def mask_for_mlm(ids: np.ndarray, rng: np.random.Generator, mask_prob: float) -> tuple[np.ndarray, np.ndarray]:
    """BERT masking of base tokens: (input_ids, labels), labels -100 where not predicted.

    Only A/C/G/T tokens are chosen (never specials or N); of those chosen, 80% become [MASK], 10% a random
    base, 10% stay.
    """
    is_base = (ids >= BASE_OFFSET) & (ids < N_ID)
    chosen = (rng.random(ids.shape) < mask_prob) & is_base
    labels = np.where(chosen, ids, -100)
    r = rng.random(ids.shape)
    inputs = ids.copy()
    inputs[chosen & (r < 0.8)] = MASK_ID
    rand = chosen & (r >= 0.8) & (r < 0.9)
    inputs[rand] = rng.integers(BASE_OFFSET, BASE_OFFSET + 4, size=int(rand.sum()))
    return inputs, labels
