"""Fine-tuning a variant-effect head end to end (real Ray Train), and labels-table errors by row."""

from __future__ import annotations


import numpy as np
import pytest

from train_helpers import simulated_genome, write_fasta


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    """A random-weight raygen-tiny masked LM saved like a pretrained one."""
    from raygen.models.arch import build_model
    from raygen.models.tokenizer import build_nucleotide_tokenizer

    import torch

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("base")
    tok = build_nucleotide_tokenizer()
    build_model("raygen-tiny", "mlm", tok).save_pretrained(d)
    tok.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    d = tmp_path_factory.mktemp("ftgenome")
    seq = simulated_genome(20_000, 5)
    return write_fasta(d / "g.fa", {"chr1": seq}), seq


def _labels(path, seq, rows):
    path.write_text("chrom\tpos\tref\talt\tlabel\tscore\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


@pytest.mark.timeout(240)
def test_finetune_region_split_head_and_prob(ray_session, run_cli, base_model, genome, tmp_path):
    fasta, seq = genome
    rng = np.random.default_rng(0)
    rows = []
    for pos in rng.choice(np.arange(100, 9_900), size=240, replace=False):
        ref = seq[pos - 1]
        if ref == "N":
            continue
        alt = "ACGT"[("ACGT".index(ref) + 1 + int(rng.integers(0, 3))) % 4]
        label = int(ref in "CG")  # learnable from the features (log P(ref) and the hidden state)
        rows.append(("chr1", pos, ref, alt, label, round(float(label + rng.normal(0, 0.3)), 3)))
    rows.append(("chr1", 150, "AT", "A", 1, 0.5))  # an indel: skipped and counted
    labels = _labels(tmp_path / "labels.tsv", seq, rows)
    out = tmp_path / "ft"
    rc, stdout, err = run_cli("train", "finetune", "--base", base_model, "--labels", labels, "-f", fasta,
                              "--out", out, "--region-bp", "500", "--epochs", "15", "--window", "32", "-q")
    assert rc == 0, err
    from raygen.models.head import VariantHead

    head = VariantHead.load(out)
    assert head is not None and head.meta["metrics"]["rows"]["skipped"] == 1
    m = head.meta["metrics"]
    assert m["split"]["by"].startswith("genomic region")
    # A random-weight base still gives usable features (log P(ref) differs by base): well above chance.
    assert m["validation"]["auroc"] > 0.6 and "spearman_score" in m["validation"]
    assert 0.05 <= m["temperature"] <= 20
    assert (out / "finetune_history.jsonl").exists() and (out / "labels_rejects.tsv").exists()
    assert "Variant-effect head" in (out / "README.md").read_text()
    # Regions are whole: no 500-bp region has variants on both sides of the split.
    assert m["split"]["train_variants"] + m["split"]["val_variants"] == len(rows) - 1
    # The scorer finds the head and reports a calibrated probability beside the LLR.
    from raygen.scoring.scorer import Scorer
    from raygen.variant import Variant

    r = rows[0]
    res = Scorer(str(out), str(fasta), window=32).score_variants([Variant(r[0], int(r[1]), r[2], r[3])])[0]
    assert res.llr is not None and res.prob is not None and 0 < res.prob < 1


def test_region_split_never_splits_a_region():
    from raygen.train.labels import LabelTable, region_split

    pos = np.arange(1, 100_000, 997)
    t = LabelTable(np.array(["c"] * len(pos), dtype=object), pos, np.array(["A"] * len(pos)), np.array(["C"] * len(pos)),
                   np.zeros(len(pos), int), None, np.arange(len(pos)))
    tr, va = region_split(t, 10_000, 0.3, seed=1)
    assert len(va) and len(tr) and len(tr) + len(va) == len(pos)
    assert not set(pos[tr] // 10_000) & set(pos[va] // 10_000)


def test_labels_wrong_ref_is_reported_by_row(run_cli, base_model, genome, tmp_path):
    fasta, seq = genome
    wrong = "A" if seq[199] != "A" else "C"
    labels = _labels(tmp_path / "bad.tsv", seq, [("chr1", 100, seq[99], "T" if seq[99] != "T" else "G", 1, ""),
                                                  ("chr1", 200, wrong, "G" if wrong != "G" else "T", 0, "")])
    rc, _, err = run_cli("train", "finetune", "--base", base_model, "--labels", labels, "-f", fasta, "--out", tmp_path / "x")
    assert rc == 2
    assert "bad.tsv:3" in err and f"REF {wrong} disagrees with the reference base {seq[199]} at chr1:200" in err
    missing = tmp_path / "short.tsv"
    missing.write_text("chr1\t100\tA\tC\n")
    rc, _, err = run_cli("train", "finetune", "--base", base_model, "--labels", missing, "-f", fasta, "--out", tmp_path / "y")
    assert rc == 2 and "short.tsv:1" in err and "expected tab-separated" in err
