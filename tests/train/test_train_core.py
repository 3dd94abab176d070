"""Pure-core tests of tokenizer, window sampling, validation split, BED checks, metrics and labels."""

from __future__ import annotations

import numpy as np
import pytest

from raygen.errors import InputError
from raygen.io.fasta import Reference
from raygen.train import windows as W


def test_tokenizer_round_trips_and_offsets(tmp_path):
    from transformers import AutoTokenizer

    from raygen.models.tokenizer import build_nucleotide_tokenizer, encode_bases

    tok = build_nucleotide_tokenizer()
    tok.save_pretrained(tmp_path)
    back = AutoTokenizer.from_pretrained(tmp_path)
    enc = back("ACGTNacgt", return_offsets_mapping=True)
    assert back.convert_ids_to_tokens(enc["input_ids"]) == ["[CLS]", "A", "C", "G", "T", "N", "A", "C", "G", "T", "[SEP]"]
    assert enc["offset_mapping"][1:-1] == [(i, i + 1) for i in range(9)]
    assert back.mask_token == "[MASK]" and back.pad_token == "[PAD]"
    # The numpy encoder used in training gives the same ids as the saved tokenizer.
    ids = encode_bases(np.frombuffer(b"ACGTNacgt", dtype=np.uint8))
    assert ids.tolist() == enc["input_ids"][1:-1]


def test_bed_with_unknown_contig_is_an_error(small_fasta, tmp_path):
    bed = tmp_path / "r.bed"
    bed.write_text("chrA\t0\t1000\nchr99\t5\t50\n")
    with Reference(small_fasta) as ref, pytest.raises(InputError, match=r"r\.bed:2: contig 'chr99' is not in the FASTA"):
        W.read_bed(bed, ref)
    assert (small_fasta.parent / "sim.fa.fai").exists()  # the unindexed FASTA was indexed


def test_split_blocks_holds_out_whole_blocks():
    regions = [W.Region("c1", 0, 1_000_000), W.Region("c2", 0, 500_000)]
    train, val = W.split_blocks(regions, 100_000, 0.2, seed=3)
    assert sum(r.length for r in val) == 300_000
    assert all(r.start % 100_000 == 0 and r.length % 100_000 == 0 for r in val)
    assert sum(r.length for r in train) + 300_000 == 1_500_000
    for v in val:  # no overlap with training
        assert not any(t.chrom == v.chrom and t.start < v.end and v.start < t.end for t in train)


def test_sampler_skips_n_rich_windows_and_reverse_complements():
    seq = np.frombuffer(b"N" * 500 + b"ACGTTGCA" * 50 + b"N" * 500, dtype=np.uint8)
    s = W.WindowSampler([seq], 64, max_n_fraction=0.05, seed=0)
    wins = s.sample(300)
    assert ((wins == ord("N")).sum(axis=1) <= 3).all()
    texts = {w.tobytes() for w in wins}
    fwd = seq.tobytes()
    rc = W.reverse_complement(seq).tobytes()
    assert all(t in fwd or t in rc for t in texts)
    assert any(t not in fwd for t in texts)  # some windows are reverse-complemented


def test_mlm_masking_only_touches_bases():
    from raygen.models.tokenizer import CLS_ID, MASK_ID, SEP_ID

    ids = W.to_token_ids(np.frombuffer(b"ACGTN" * 40, dtype=np.uint8).reshape(2, 100))
    inputs, labels = W.mask_for_mlm(ids, np.random.default_rng(0), 0.5)
    assert (inputs[:, 0] == CLS_ID).all() and (inputs[:, -1] == SEP_ID).all()
    chosen = labels != -100
    assert 0.3 < chosen[:, 1:-1].mean() / 0.8 < 0.7  # N (1 in 5) is never chosen
    assert (ids[chosen] < 9).all() and (inputs[chosen] == MASK_ID).mean() > 0.6


def test_metrics_match_hand_computed_values():
    from raygen.train.metrics import auprc, auroc, spearman

    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.9])
    assert auroc(y, s) == pytest.approx(7 / 9)
    assert auprc(y, s) == pytest.approx((1 + 1 + 3 / 5) / 3)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 25]) == pytest.approx(0.8)


def test_kmer_baseline_learns_structure(small_fasta):
    from raygen.train.evaluate import fit_kmer_counts, kmer_bits, make_eval_set

    seqs = W.load_sequences(str(small_fasta), [W.Region("chrA", 0, 30_000), W.Region("chrB", 0, 30_000)])
    ev = make_eval_set(seqs[1:], 64, stride=8)
    bits = kmer_bits(fit_kmer_counts(seqs[:1], 3, 3), ev, 3, 3)
    assert len(ev.rows) > 1000
    assert bits < 1.97  # base composition + repeated motif make chrB predictable from chrA counts
