"""Every case of bcftools' own test.pl (``../shared/data/bcftools_norm/CASES.tsv``) through ``raygen normalize``.

Each case: the input is bgzipped + tabix-indexed into tmp_path (the small FASTA is copied there too so its
.fai is made outside ../shared), raygen runs in-process with the case's options (multi-stage cases pipe
stage outputs through files) and the records, CHROM to the last sample column, must equal bcftools'
expected output (``{PATH}`` in an option is the case's folder, as in test.pl). Where CASES.tsv records that
pysam's bcftools 1.24 differs from the expected file (version drift), raygen must equal pysam's bcftools.
"""

from __future__ import annotations

import csv
import re
import shlex
import shutil
from pathlib import Path

import pysam
import pytest

import os

# Same location as the ``shared_data`` fixture; read at collection time to parametrize over the cases.
SHARED_DATA = Path(os.environ.get("RAYGEN_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
CASES_TSV = SHARED_DATA / "bcftools_norm" / "CASES.tsv"


def _cases() -> list[dict]:
    if not CASES_TSV.exists():
        return []
    with open(CASES_TSV, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


CASES = _cases()


def records(text: str) -> list[str]:
    """Record lines with test.pl's exponent normalisation (e-05 and e-5 compare equal)."""
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            out.append(re.sub(r"e([+-])0(\d\d)", r"e\1\2", line))
    return out


def _prepare(case: dict, data: Path, tmp: Path) -> tuple[Path, Path | None]:
    src = tmp / case["input"]
    shutil.copy(data / case["input"], src)
    gz = Path(pysam.tabix_index(str(src), preset="vcf", force=True, keep_original=True))
    fasta = None
    if case["reference"]:
        fasta = tmp / case["reference"]
        shutil.copy(data / case["reference"], fasta)
    for aux in filter(None, case["aux_files"].split(",")):
        shutil.copy(data / aux, tmp / aux)
    return gz, fasta


#: Cases whose expected file comes from an older bcftools (CASES.tsv's last column says pysam's bcftools 1.24
#: differs from it too): raygen must equal pysam's bcftools 1.24 there, which is what these tests check.
VERSION_DRIFT = {
    "testpl_L336": "expected output from a bcftools whose two-stage atomize/split filled absent FORMAT fields of a "
                   "GT-only sample with values left in its buffers",
    "testpl_L337": "as L336",
    "testpl_L338": "as L336",
    "testpl_L316": "expected output from an older bcftools that read -Nc s as -N -c s; 1.24 reads -Nc as -N with "
                   "the argument 'c' and refuses it, and so does raygen",
}


def _run_raygen(case: dict, gz: Path, fasta: Path | None, tmp: Path, run_cli) -> tuple[int, Path, str]:
    current = gz
    stages = [s.strip() for s in case["options"].replace("{PATH}", str(tmp)).split("|")]
    for i, stage in enumerate(stages):
        out = tmp / f"stage{i}.vcf"
        args = ["normalize", str(current), "-o", str(out), "--no-ray", *shlex.split(stage)]
        if fasta is not None and i == 0:
            args += ["-f", str(fasta)]
        try:
            rc, _, err = run_cli(*args)
        except SystemExit as exc:  # argparse refused the options (exit 2, message on stderr)
            rc, err = exc.code, "argparse: " + str(exc)
        if rc != 0:
            return rc, out, err
        assert "Lines   total/split/joined/realigned" in err
        current = out
    return 0, current, ""


def _run_pysam(case: dict, gz: Path, fasta: Path | None, tmp: Path) -> list[str] | None:
    """The case through pysam's bundled bcftools 1.24 (None when it refuses the options)."""
    import pysam.bcftools

    current = gz
    for i, stage in enumerate(s.strip() for s in case["options"].replace("{PATH}", str(tmp)).split("|")):
        out = tmp / f"bcf{i}.vcf"
        extra = ["-f", str(fasta)] if fasta is not None and i == 0 else []
        try:
            pysam.bcftools.norm("--no-version", "-o", str(out), *shlex.split(stage), *extra, str(current),
                                catch_stdout=False)
        except pysam.utils.SamtoolsError:
            return None
        current = out
    return records(current.read_text())


@pytest.mark.parametrize("case", [pytest.param(c, id=c["case_id"]) for c in CASES if c["case_id"] not in VERSION_DRIFT])
def test_case_matches_bcftools(case, shared_data, tmp_path, run_cli):
    data = shared_data / "bcftools_norm"
    gz, fasta = _prepare(case, data, tmp_path)
    rc, out, err = _run_raygen(case, gz, fasta, tmp_path, run_cli)
    assert rc == 0, err
    assert records(out.read_text()) == records((data / case["expected_output"]).read_text())


@pytest.mark.parametrize("case", [pytest.param(c, id=c["case_id"]) for c in CASES if c["case_id"] in VERSION_DRIFT])
def test_version_drift_cases_match_bcftools_1_24(case, shared_data, tmp_path, run_cli):
    """Where the expected file is an older bcftools', raygen equals pysam's bcftools 1.24 (and both differ
    from the file, or both refuse the options)."""
    data = shared_data / "bcftools_norm"
    gz, fasta = _prepare(case, data, tmp_path)
    want = _run_pysam(case, gz, fasta, tmp_path)
    rc, out, err = _run_raygen(case, gz, fasta, tmp_path, run_cli)
    expected = records((data / case["expected_output"]).read_text())
    if want is None:
        assert rc == 2, err
        return
    assert rc == 0, err
    got = records(out.read_text())
    assert got == want
    assert got != expected  # the drift is real: 1.24 no longer writes the file's records
