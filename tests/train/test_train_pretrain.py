"""End-to-end pretraining through the CLI on a real local Ray: output loads with plain transformers,
time limit, resume after a killed worker and after a restarted job, bad BED."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from train_helpers import kill_worker_once

from raygen.train.trainer import hooks

pytestmark = pytest.mark.timeout(240)


def _events(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_pretrain_20_steps_loads_with_plain_transformers(ray_session, run_cli, small_fasta, tmp_path):
    out = tmp_path / "model"
    rc, stdout, err = run_cli("train", "pretrain", "-f", small_fasta, "--out", out, "--arch", "raygen-tiny",
                              "--steps", "20", "--checkpoint-every", "10", "--batch-size", "16", "--context", "64",
                              "--block-bp", "5000", "--val-fraction", "0.2", "-q")
    assert rc == 0, err
    assert "20 steps" in stdout
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = AutoModelForMaskedLM.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert model.config.model_type == "roformer"
    enc = tok("ACGTNA")
    assert tok.decode(enc["input_ids"], skip_special_tokens=True).replace(" ", "") == "ACGTNA"
    logits = model(**tok("ACG[MASK]TT", return_tensors="pt")).logits
    assert logits.shape[-1] == len(tok)
    steps = [e for e in _events(out) if "loss" in e]
    assert [e["step"] for e in steps] == list(range(1, 21))
    assert all(e["tokens_per_s"] > 0 and e["bits_per_base"] > 0 for e in steps)
    vals = [e for e in _events(out) if e.get("event") == "validation"]
    assert [v["step"] for v in vals] == [10, 20] and 1.0 < vals[-1]["val_bits_per_base"] < 2.5
    card = (out / "README.md").read_text()
    assert "Validation bits per base" in card and "chrA" in card and "git commit" in card
    assert str(Path(small_fasta).parent) not in card and f"`{Path(small_fasta).name}` (SHA-256" in card
    # The zero-shot scorer uses the directory as it is.
    from raygen.scoring.scorer import Scorer
    from raygen.variant import Variant

    seq = small_fasta.read_text().split("\n")[1]
    res = Scorer(str(out), str(small_fasta), window=32).score_variants(
        [Variant("chrA", 10, seq[9], "T" if seq[9] != "T" else "A")])
    assert res[0].skip_reason is None and res[0].llr is not None and res[0].prob is None


def test_time_limit_stops_cleanly_and_saves(ray_session, run_cli, small_fasta, tmp_path):
    out = tmp_path / "tl"
    rc, stdout, err = run_cli("train", "pretrain", "-f", small_fasta, "--out", out, "--arch", "raygen-tiny",
                              "--workers", "1", "--steps", "100000", "--time-limit", "0.03", "--batch-size", "8",
                              "--context", "64", "--block-bp", "5000", "-q")
    assert rc == 0, err
    final = [e for e in _events(out) if e.get("event") == "validation"][-1]
    assert final["final"] and 0 < final["step"] < 100000 and final["train_s"] >= 1.8
    assert (out / "model.safetensors").exists() and (out / "config.json").exists()


@pytest.mark.timeout(420)  # three Ray Train runs, one with a worker restart
def test_resume_after_killed_worker_and_restarted_job(ray_session, run_cli, small_fasta, tmp_path):
    out = tmp_path / "kill"
    args = ["train", "pretrain", "-f", small_fasta, "--out", out, "--arch", "raygen-tiny", "--batch-size", "8",
            "--context", "64", "--block-bp", "5000", "--checkpoint-every", "5", "-q"]
    with hooks(kill_worker_once(7, out / ".raygen-test-failed-at-7")):  # the last rank's process exits at step 7, once
        rc, _, err = run_cli(*args, "--steps", "10")
    assert rc == 0, err
    assert (out / ".raygen-test-failed-at-7").exists()
    ev = _events(out)
    resumed = [e for e in ev if e.get("event") == "resumed"]
    assert [e["step"] for e in resumed] == [5]  # from the step-5 checkpoint, not from 0
    assert [e["step"] for e in ev if "loss" in e].count(1) == 1  # step 1 ran once: no restart from scratch
    # Same DIR again: refused without --resume, continued from step 10 with it.
    rc, _, err = run_cli(*args, "--steps", "12")
    assert rc == 2 and "--resume" in err
    rc, stdout, err = run_cli(*args, "--steps", "12", "--resume")
    assert rc == 0, err
    assert [e["step"] for e in _events(out) if e.get("event") == "resumed"] == [5, 10]
    assert "12 steps" in stdout


def test_bed_with_unknown_contig_fails_before_training(run_cli, small_fasta, tmp_path):
    bed = tmp_path / "bad.bed"
    bed.write_text("chrA\t0\t5000\nchrZ\t0\t100\n")
    rc, _, err = run_cli("train", "pretrain", "-f", small_fasta, "--out", tmp_path / "m", "--regions", bed)
    assert rc == 2
    assert "bad.bed:2" in err and "'chrZ' is not in the FASTA" in err


def test_context_longer_than_every_region_fails_before_training(run_cli, small_fasta, tmp_path):
    rc, _, err = run_cli("train", "pretrain", "-f", small_fasta, "--out", tmp_path / "m", "--context", "40000",
                         "--block-bp", "5000")
    assert rc == 2 and "no region is at least 40000 bp long" in err
    assert not (tmp_path / "m").exists()  # refused before Ray Train started


@pytest.mark.parametrize("fasta,message", [
    # issue 19 (a new tester's corpus): an all-N FASTA failed inside every Ray Train worker (their tracebacks on
    # the terminal, a train_state left in --out); a tiny FASTA's message blamed only --val-fraction
    (">a\n" + "N" * 6000 + "\n", "every 64-bp window of the training regions has more than 5% N"),
    (">a\nACGTACGT\n", r"no training sequence left after holding out validation blocks \(8 bp in 1 region"),
], ids=["all_n", "tiny"])
def test_fasta_without_trainable_sequence_fails_before_training(run_cli, tmp_path, fasta, message):
    fa = tmp_path / "x.fa"
    fa.write_text(fasta)
    rc, _, err = run_cli("train", "pretrain", "-f", fa, "--out", tmp_path / "m", "--context", "64", "--block-bp", "500")
    assert rc == 2 and re.search(message, err), err
    assert "Traceback" not in err and not (tmp_path / "m").exists()  # refused before Ray started
