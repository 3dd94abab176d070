"""One sample's file-to-file steps (read, compute, write atomically), the unit that the CLI runs in
process and ``raygen.cohort.pipeline.map_samples`` runs as a Ray task per sample."""

from __future__ import annotations

from collections import Counter

from raygen.cohort.calls import CallOptions, call_sample
from raygen.cohort.cnvfiles import read_cnvkit, write_cnvkit
from raygen.cohort.fix import FixOptions, fix_sample
from raygen.cohort.segment import SegmentOptions, segment_sample


def fix_file(target: str, antitarget: str | None, reference: str, out: str, sample_id: str | None = None,
             opts: FixOptions | None = None) -> str:
    """``.cnn`` target (+ antitarget) and reference -> ``.cnr`` at ``out``; returns ``out``."""
    cnr = fix_sample(read_cnvkit(target, sample_id), read_cnvkit(antitarget, sample_id) if antitarget else None,
                     read_cnvkit(reference), opts)
    write_cnvkit(cnr, out)
    return out


def segment_file(path: str, out: str, opts: SegmentOptions | None = None) -> tuple[str, int]:
    """``.cnr`` -> ``.cns`` at ``out``; returns (out, number of segments)."""
    cns = segment_sample(read_cnvkit(path), opts)
    write_cnvkit(cns, out)
    return out, len(cns)


def call_file(path: str, out: str, opts: CallOptions | None = None) -> tuple[str, dict[int, int]]:
    """``.cns`` -> ``.call.cns`` at ``out``; returns (out, segments per copy number)."""
    called = call_sample(read_cnvkit(path), opts)
    write_cnvkit(called, out)
    return out, dict(Counter(called["cn"].tolist())) if "cn" in called else {}
