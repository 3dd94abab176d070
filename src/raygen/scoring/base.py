"""One scorer interface for every kind of model, and the factory that builds one from a model name.

A **VariantScorer** (the DNA language-model :class:`raygen.scoring.scorer.Scorer`, the
:class:`raygen.scoring.spliceai_scorer.SpliceAIScorer`) has:

- ``score_variants(variants) -> list[result]``: one result per REF/ALT pair, in order; every result has a
  ``skip_reason`` (None when scored) and ``as_dict()`` (JSON-ready fields);
- ``annotate(table) -> table``: a VCF text table with the scores written into INFO (Ray Data's entry);
- ``attributions(variant) -> dict``: per-position attributions of one variant's score (``POST /v1/explain``),
  or ``"attributions": None`` with ``"attributions_note"`` saying why;
- ``info``: provenance (model, revision, definition, licence where one applies);
- ``detail(variant) -> dict | None``: what a page draws for one variant beyond its score, JSON-ready, with
  a ``kind`` naming its shape (SpliceAI: ``splice_tracks``, the REF/ALT probabilities around it); None
  where the scorer has nothing more (the language model: the UI draws its in-silico mutagenesis from
  ``score_variants``).

A :class:`ScorerSpec` is what the driver knows before any actor starts: it checks the model at once (a bad
model directory, or SpliceAI weights that are not installed, fail in a second), carries the provenance
and the VCF header lines the scorer writes, and is small and picklable; ``make_scorer(spec)`` builds the
scorer inside an actor or replica. The pipeline, Serve and the UI only ever see these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from raygen.config import ScoreConfig, SpliceAIConfig
from raygen.regions import rename_map
from raygen.variant import Variant

#: Environment of every scorer process (Ray Data actors, Serve replicas), set through their ``runtime_env``:
#: libgomp (torch's OpenMP) reads it when it loads, so it cannot be set from inside. OpenMP threads that
#: busy-wait between parallel regions burn the cores they wait for on a shared or oversubscribed host:
#: measured on 2 cores at load 20 (benchmarks/spliceai.py --cpu-time), 20 SpliceAI records took 59 CPU s
#: with 2 spinning torch threads, 8.7 with PASSIVE and 6.6 with one thread.
SCORER_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}

#: ``--model`` values that select SpliceAI (the release's five networks from the installed wheel).
SPLICEAI_NAMES = ("spliceai",)


class VariantScorer(Protocol):
    """What Ray Data actors, Serve replicas and the UI hold (see module docstring)."""

    @property
    def info(self) -> dict: ...

    def score_variants(self, variants: Sequence[Variant]) -> list[Any]: ...

    def annotate(self, table: pa.Table) -> pa.Table: ...

    def attributions(self, variant: Variant) -> dict: ...

    def detail(self, variant: Variant) -> dict | None: ...


def is_spliceai(model: str) -> bool:
    return model.strip().lower() in SPLICEAI_NAMES


@dataclass(frozen=True)
class ScorerSpec:
    """A checked model choice: ``kind`` ("lm" or "spliceai"), its ``info`` and what builds the scorer."""

    kind: str
    model: str
    reference: str
    info: dict
    score: ScoreConfig = field(default_factory=ScoreConfig)
    spliceai: SpliceAIConfig = field(default_factory=SpliceAIConfig)
    device: str = "auto"
    threads: int | None = None
    revision: str | None = None
    trust_remote_code: bool = False
    rename_contigs: str | None = None  # add-chr | strip-chr | TSV file: VCF contig -> FASTA contig

    def with_runtime(self, *, device: str, threads: int | None) -> ScorerSpec:
        return replace(self, device=device, threads=threads)

    def add_header_lines(self, header) -> None:
        """Declare the INFO fields this scorer writes and its ``##raygen_score`` line."""
        if self.kind == "spliceai":
            from raygen.scoring.spliceai_scorer import add_spliceai_header

            add_spliceai_header(header, self.info)
        else:
            from raygen.scoring.annotate import add_header_lines

            add_header_lines(header, self.info)


def scorer_spec(model: str, reference: str, *, score: ScoreConfig = ScoreConfig(),
                spliceai: SpliceAIConfig = SpliceAIConfig(), revision: str | None = None,
                trust_remote_code: bool = False, rename_contigs: str | None = None) -> ScorerSpec:
    """Check ``model`` without loading it and describe it; raise the user-facing error now if it is unusable."""
    if rename_contigs:
        rename_map(rename_contigs, [])  # a bad spec fails here, in the driver
    if is_spliceai(model):
        from raygen.models.spliceai_weights import wheel_files
        from raygen.scoring.spliceai_scorer import check_config, spliceai_info

        check_config(spliceai)
        wheel_files()
        return ScorerSpec("spliceai", "spliceai", reference, spliceai_info(spliceai), score, spliceai,
                          revision=None, rename_contigs=rename_contigs)
    from raygen.models.load import describe_model
    from raygen.scoring.scorer import SCORE_DEFINITION

    local = Path(model).expanduser()
    if local.exists():  # actors run in their own working directories: give them the absolute path
        model = str(local.resolve())
    desc = describe_model(model, revision=revision, trust_remote_code=trust_remote_code)
    info = {"model": model, "revision": revision, "kind": desc["kind"], "scheme": desc["scheme"], "k": desc["k"],
            "window": score.window, "reverse_complement": score.reverse_complement,
            "definition": SCORE_DEFINITION, "head": desc["head"]}
    return ScorerSpec("lm", model, reference, info, score, spliceai, revision=revision,
                      trust_remote_code=trust_remote_code, rename_contigs=rename_contigs)


class _Renamed:
    """A scorer seen through ``--rename-contigs``: variants' contigs are renamed before scoring."""

    def __init__(self, scorer, spec: str):
        self.scorer, self.spec, self._maps = scorer, spec, {}

    @property
    def info(self) -> dict:
        return self.scorer.info

    def _name(self, chrom: str) -> str:
        if chrom not in self._maps:
            self._maps[chrom] = rename_map(self.spec, [chrom]).get(chrom, chrom)
        return self._maps[chrom]

    def score_variants(self, variants: Sequence[Variant]) -> list[Any]:
        return self.scorer.score_variants([Variant(self._name(v.chrom), v.pos, v.ref, v.alt) for v in variants])

    def annotate(self, table: pa.Table) -> pa.Table:
        return self.scorer.annotate(table, score_fn=self.score_variants)

    def attributions(self, v: Variant) -> dict:
        return self.scorer.attributions(Variant(self._name(v.chrom), v.pos, v.ref, v.alt))

    def detail(self, variant: Variant) -> dict | None:
        return self.scorer.detail(Variant(self._name(variant.chrom), variant.pos, variant.ref, variant.alt))


def make_scorer(spec: ScorerSpec) -> VariantScorer:
    """Build (load) the scorer ``spec`` describes, in this process."""
    if spec.kind == "spliceai":
        from raygen.scoring.spliceai_scorer import SpliceAIScorer

        scorer: Any = SpliceAIScorer(spec.reference, spec.spliceai, device=spec.device, threads=spec.threads)
    else:
        from raygen.scoring.scorer import Scorer

        s = spec.score
        scorer = Scorer(spec.model, spec.reference, window=s.window, revision=spec.revision,
                        trust_remote_code=spec.trust_remote_code, device=spec.device, batch_size=s.batch_size,
                        reverse_complement=s.reverse_complement, threads=spec.threads)
    return _Renamed(scorer, spec.rename_contigs) if spec.rename_contigs else scorer


class ScorerActor:
    """Ray Data ``map_batches`` class: loads the scorer once per actor, annotates VCF text tables."""

    def __init__(self, spec: ScorerSpec):
        self.scorer = make_scorer(spec)

    def __call__(self, batch: pa.Table) -> pa.Table:
        return self.scorer.annotate(batch)
