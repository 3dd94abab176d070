"""Run Illumina's own ``spliceai`` 1.3.1 scoring on a list of cases (run with the oracle venv's Python).

Usage: ``python spliceai_oracle.py REF.fa ANNOTATION CASES.json OUT.json``. Each case is
``{"chrom", "pos", "ref", "alts", "distance", "mask"}``; the output is, per case, the list of INFO entries
the release's ``get_delta_scores`` returns (unmodified: its Annotator, its models, its formatting).
Used by the differential tests (tests/scoring/test_spliceai_oracle.py) and benchmarks/spliceai.py.
"""

import json
import os
import sys
from types import SimpleNamespace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from spliceai.utils import Annotator, get_delta_scores  # noqa: E402


def main() -> None:
    ref, annotation, cases_path, out_path = sys.argv[1:5]
    ann = Annotator(ref, annotation)
    cases = json.load(open(cases_path))
    out = []
    for c in cases:
        record = SimpleNamespace(chrom=c["chrom"], pos=c["pos"], ref=c["ref"], alts=tuple(c["alts"]))
        out.append(get_delta_scores(record, ann, c["distance"], c["mask"]))
    with open(out_path, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
