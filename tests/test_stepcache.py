"""raygen.stepcache: a key changes with any input byte, flag or file name; a hit restores exactly what the run
left (and removes outputs the run did not write); a miss copies nothing."""

from __future__ import annotations

import shutil

from raygen import stepcache


def _outputs(d):
    d.mkdir()
    (d / "scored.vcf.gz").write_bytes(b"vcf bytes")
    (d / "scored.parquet").mkdir()
    (d / "scored.parquet" / "part-0.parquet").write_bytes(b"pq")
    return ["scored.vcf.gz", "scored.parquet", "score.rejects.tsv"]


def test_key_follows_inputs_and_flags(tmp_path):
    a = tmp_path / "in.vcf"
    a.write_bytes(b"chr1\t1\t.\tA\tG\n")
    key = stepcache.step_key([a], ["score", "--window", "128"])
    assert key == stepcache.step_key([a], ["score", "--window", "128"])
    assert key != stepcache.step_key([a], ["score", "--window", "64"])
    a.write_bytes(b"chr1\t1\t.\tA\tT\n")
    assert key != stepcache.step_key([a], ["score", "--window", "128"])


def test_store_then_restore_is_exact(tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    names = _outputs(out)
    assert not stepcache.restore(cache, "k", out, names)  # a miss touches nothing
    assert (out / "scored.vcf.gz").read_bytes() == b"vcf bytes"
    stepcache.store(cache, "k", out, names)  # no rejects file: it is not required
    shutil.rmtree(out / "scored.parquet")
    (out / "scored.vcf.gz").write_bytes(b"changed")
    (out / "score.rejects.tsv").write_text("stale rejects of another run")
    assert stepcache.restore(cache, "k", out, names)
    assert (out / "scored.vcf.gz").read_bytes() == b"vcf bytes"
    assert (out / "scored.parquet" / "part-0.parquet").read_bytes() == b"pq"
    assert not (out / "score.rejects.tsv").exists()


def test_an_incomplete_entry_is_a_miss(tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    names = _outputs(out)
    stepcache.store(cache, "k", out, names)
    (cache / "k" / "scored.vcf.gz").unlink()
    assert not stepcache.restore(cache, "k", out, names)
