"""Mixing metrics behave as their definitions say, and `raygen cohort assess` prints, draws and gates drift."""

from __future__ import annotations

import numpy as np
import pytest

from raygen.cohort.mixing import auroc, classifier_auroc, kbet_acceptance, lisi, pca_embedding, silhouette
from raygen.simulate.cohort import simulate_cohort


def _embeddings(seed=0, n=300):
    rng = np.random.default_rng(seed)
    b, lab = rng.integers(0, 3, n), rng.integers(0, 2, n)
    mixed = rng.normal(size=(n, 6)) + 4 * np.eye(6)[lab]
    split = mixed + 6 * np.eye(6)[b + 2]
    return b, lab, mixed, split


def test_metrics_rank_mixed_above_separated():
    b, lab, mixed, split = _embeddings()
    assert kbet_acceptance(mixed, b) > 0.8 > 0.1 > kbet_acceptance(split, b)
    assert lisi(mixed, b) > 2.5 and lisi(split, b) < 1.2
    assert silhouette(mixed, b) < 0.05 < 0.3 < silhouette(split, b)
    assert 0.4 < classifier_auroc(mixed, b) < 0.6 and classifier_auroc(split, b) > 0.99
    assert classifier_auroc(mixed, lab) > 0.99 and lisi(mixed, lab) < 1.2


def test_silhouette_matches_brute_force():
    rng = np.random.default_rng(3)
    x, lab = rng.normal(size=(25, 3)), rng.integers(0, 3, 25)
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    s = []
    for i in range(25):
        own = (lab == lab[i]) & (np.arange(25) != i)
        if not own.any():
            s.append(0.0)
            continue
        a = d[i, own].mean()
        bb = min(d[i, lab == k].mean() for k in set(lab) - {lab[i]})
        s.append((bb - a) / max(a, bb))
    assert np.isclose(silhouette(x, lab), np.mean(s))


def test_auroc_and_pca():
    assert auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    y = np.outer(np.arange(10.0), np.ones(5)).T  # 5 features x 10 samples, one direction of variation
    emb = pca_embedding(y, 3)
    assert emb.shape == (10, 3) and np.allclose(emb[:, 1:], 0, atol=1e-9)


def _write(path, y, samples):
    with open(path, "w") as fh:
        fh.write("gene\t" + "\t".join(samples) + "\n")
        for i, row in enumerate(y):
            fh.write(f"g{i}\t" + "\t".join(f"{v:.6f}" for v in row) + "\n")


@pytest.mark.timeout(180)
def test_assess_table_picture_and_drift_gate(tmp_path, run_cli):
    c = simulate_cohort("linear", 7, n_samples=600, n_features=120)
    sh = c.sheet()
    train, new = slice(0, 400), slice(400, 600)
    _write(tmp_path / "train.tsv", c.y[:, train], sh["sample"][train])
    with open(tmp_path / "s.tsv", "w") as fh:
        fh.write("sample\tbatch\tlabel\n")
        fh.writelines(f"{s}\t{b}\t{lab}\n" for s, b, lab in zip(sh["sample"], sh["batch"], sh["label"]))
    rc, _, err = run_cli("cohort", "combat", tmp_path / "train.tsv", "--samples", tmp_path / "s.tsv", "--batch", "batch",
                         "-o", tmp_path / "cb.tsv", "--save-params", tmp_path / "p.parquet")
    assert rc == 0, err
    rc, out, err = run_cli("cohort", "assess", tmp_path / "train.tsv", "--samples", tmp_path / "s.tsv", "--batch", "batch",
                           "--label", "label", "--corrected", f"ComBat={tmp_path / 'cb.tsv'}",
                           "--picture", tmp_path / "pca.png", "--json", tmp_path / "a.json")
    assert rc == 0, err
    lines = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.startswith(("uncorrected", "ComBat"))}
    assert float(lines["ComBat"][2]) > float(lines["uncorrected"][2])  # iLISI up after ComBat
    png = (tmp_path / "pca.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and 10_000 < len(png) < 200_000
    _write(tmp_path / "new.tsv", c.y[:, new], sh["sample"][new])
    rc, out, err = run_cli("cohort", "assess", tmp_path / "new.tsv", "--samples", tmp_path / "s.tsv", "--batch", "batch",
                           "--against", tmp_path / "p.parquet")
    assert rc == 0 and "PASSED" in out, out + err
    shifted = c.y[:, new].copy()
    shifted[:50] += 1.5 * np.sqrt(np.var(c.y[:50], axis=1, keepdims=True))
    _write(tmp_path / "shifted.tsv", shifted, sh["sample"][new])
    rc, out, err = run_cli("cohort", "assess", tmp_path / "shifted.tsv", "--samples", tmp_path / "s.tsv", "--batch",
                           "batch", "--against", tmp_path / "p.parquet")
    assert rc == 3 and "DRIFT" in out, out + err


def test_drift_gate_allows_for_small_batches(tmp_path):
    """Drift-free batches of 5 and 30 new samples must not fail the gate (a fixed PSI alert level flagged
    most features of such batches by chance alone); a 1.5 SD shift in 40% of features must still fail at 30."""
    from raygen.cohort.assess_job import drift_report, null_psi_cut
    from raygen.cohort.batch_pipeline import CombatJob, run_combat
    from raygen.cohort.design import match_batches
    from raygen.cohort.params import load_model

    c = simulate_cohort("linear", 5, n_samples=1200, n_features=120)
    sh = c.sheet()
    _write(tmp_path / "train.tsv", c.y[:, :600], sh["sample"][:600])
    with open(tmp_path / "s.tsv", "w") as fh:
        fh.write("sample\tbatch\n")
        fh.writelines(f"{s}\t{b}\n" for s, b in zip(sh["sample"], sh["batch"]))
    run_combat(CombatJob(str(tmp_path / "train.tsv"), str(tmp_path / "s.tsv"), "batch", str(tmp_path / "o.tsv"),
                         params_out=str(tmp_path / "p.parquet"), engine="memory", quiet=True))
    model = load_model(tmp_path / "p.parquet")
    batch = np.asarray(sh["batch"])
    rng = np.random.default_rng(3)
    for n in (5, 30):
        pick = np.concatenate([rng.choice(np.flatnonzero(batch[600:] == lev) + 600, n, replace=False)
                               for lev in model.batches])
        bidx = match_batches(list(batch[pick]), model.batches, "batch")
        rows = drift_report(c.y[:, pick], bidx, np.zeros((pick.size, 0)), model, 0.25, 0.10)
        assert all(r["passed"] for r in rows), (n, rows)
        assert all(r["judged"] == (n == 30) for r in rows), (n, rows)
        assert all(r["psi_cut"] >= 0.25 for r in rows)
    shifted = c.y[:, pick].copy()
    shifted[:48] += 1.5 * np.std(c.y[:48, :600], axis=1, keepdims=True)
    rows = drift_report(shifted, bidx, np.zeros((pick.size, 0)), model, 0.25, 0.10)
    assert not any(r["passed"] for r in rows) and all(r["drifted_fraction"] > 0.2 for r in rows), rows
    assert null_psi_cut(30, 60) > null_psi_cut(30, 600) > null_psi_cut(200, 600)  # chance shrinks with either size
