"""``SpliceAIScorer``: the SpliceAI ensemble + reference + gene table, scoring variants as the release does.

Score definitions: :mod:`raygen.scoring.spliceai`; track computation and REF sharing:
:mod:`raygen.scoring.spliceai_tracks`. Implements :class:`raygen.scoring.base.VariantScorer`, so Ray Data
actors and Serve replicas hold it exactly like the language-model scorer.

torch (through ``spliceai_tracks``) is imported where the scorer is built, not at module top: the driver of
a Ray job only checks the settings here (:func:`check_config`, the header lines) and never needs torch's
start-up (about 2.6 CPU s), and the in-process path sets ``OMP_WAIT_POLICY`` before torch's OpenMP loads.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from raygen.config import SpliceAIConfig
from raygen.errors import InputError, UsageError
from raygen.scoring.spliceai import (
    INFO_DESCRIPTION,
    INFO_KEY,
    SKIP_REASONS,
    GeneScore,
    SpliceResult,
    align_alt,
    allele_skip,
    delta_scores,
    record_skip,
)
from raygen.variant import Variant

if TYPE_CHECKING:
    from raygen.scoring.spliceai_tracks import TrackItem

log = logging.getLogger("raygen.spliceai")

SCORE_DEFINITION = ("SpliceAI 1.3.1 delta scores: ensemble mean of the five SpliceAI-10k networks, REF vs ALT over "
                    "+-D bases, sequence outside the transcript as N, minus strand on the reverse complement")


def load_genes(annotation: str, reference):
    """The gene table ``grch37``/``grch38`` (the wheel's) or a file, contigs matched to ``reference``'s names."""
    from raygen.io.gene_table import GeneTable, match_contig_names, read_gene_table
    from raygen.models.spliceai_weights import ANNOTATIONS, annotation_path

    path = annotation_path(annotation) if annotation in ANNOTATIONS else annotation
    table = GeneTable(read_gene_table(path), source=str(annotation))
    mapping = match_contig_names(table.contigs, reference.contigs)
    if mapping:
        log.info("gene table %s: contigs renamed to the FASTA's names (%s)", annotation,
                 ", ".join(f"{a}->{b}" for a, b in list(mapping.items())[:3]) + (" ..." if len(mapping) > 3 else ""))
    return table.renamed(mapping)


def check_annotation(annotation: str, reference_path: str) -> None:
    """Read the gene table in the driver, before any actor starts: a malformed table is one InputError
    (FILE:LINE: reason) instead of one per actor, and a table none of whose contigs is in the FASTA
    (another build or naming) is refused rather than scoring every variant as outside genes."""
    from raygen.io.fasta import Reference, ensure_fasta_index

    ensure_fasta_index(reference_path)
    with Reference(reference_path) as ref:
        table = load_genes(annotation, ref)
        if not set(table.contigs) & set(ref.contigs):
            raise InputError(f"gene table {annotation!r}: none of its contigs ({', '.join(table.contigs[:5])}) is in "
                             f"the FASTA {reference_path!r} ({', '.join(ref.contigs[:5])}): another build or naming?")


def pick_device(device: str) -> str:
    """"auto" -> cuda when torch sees a GPU; on CUDA, TF32 is switched off (it changes SpliceAI scores)."""
    import torch

    from raygen.models.load import resolve_device

    dev = resolve_device(device)
    if dev.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = False  # a per-shape algorithm search would make results vary by batch
        torch.backends.cudnn.deterministic = True
    return dev


@dataclass
class _Job:
    """Where one ALT x gene result goes: variant ``v``, gene row, and its track item (None: dotted)."""

    v: int
    row: int
    item: TrackItem | None
    same_as_ref: bool = False


class SpliceAIScorer:
    """Load the five networks, a reference and a gene table once; score variants in batches.

    ``reference``: indexed FASTA path; ``cfg``: :class:`raygen.config.SpliceAIConfig` (annotation, distance,
    mask, tile_bp, batch_size, precision); ``device``: "auto", "cpu", "cuda", ...; ``threads``: torch CPU threads.
    """

    kind = "spliceai"

    def __init__(self, reference: str, cfg: SpliceAIConfig = SpliceAIConfig(), *, device: str = "auto",
                 threads: int | None = None):
        import torch

        from raygen.io.fasta import Reference
        from raygen.models.spliceai import load_ensemble
        from raygen.scoring.spliceai_tracks import TrackEngine

        check_config(cfg)
        if threads:
            torch.set_num_threads(threads)
        self.cfg = cfg
        self.reference = Reference(reference)
        self.genes = load_genes(cfg.annotation, self.reference)
        self.device = pick_device(device)
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[cfg.precision]
        self.nets = [n.to(self.device).eval() for n in load_ensemble(dtype)]
        self.engine = TrackEngine(self.nets, self.reference, cfg, self.device)

    @property
    def info(self) -> dict:
        return spliceai_info(self.cfg) | {"device": self.device}

    def attributions(self, variant: Variant) -> dict:
        """None, and why: gradient x input needs a language model's token embeddings."""
        return {"attributions": None, "attributions_first_pos": None, "attributions_target": None,
                "attributions_method": None,
                "attributions_note": "SpliceAI is a convolutional network on one-hot bases, not a language "
                "model: it has no input token embeddings, so no gradient x input attributions are computed; "
                "its REF/ALT splice-site tracks (detail) are its explanation"}

    # -- scoring ---------------------------------------------------------------------------------------
    def _plan(self, variants: Sequence[Variant]) -> tuple[list[list[str | None]], list[_Job]]:
        """Per variant: its skip reason (or None); and the ALT x gene jobs to compute."""
        from raygen.scoring.spliceai_tracks import GeneKey, TrackItem  # torch: here, not at module top (below)

        skips: list[list[str | None]] = []
        jobs: list[_Job] = []
        d = self.cfg.distance
        for i, v in enumerate(variants):
            why, rows = record_skip(v, self.reference, self.genes, d)
            why = why or allele_skip(v.ref, v.alt)
            skips.append([why])
            if why not in (None, "complex"):
                continue
            for row in rows:
                if why == "complex":
                    jobs.append(_Job(i, row, None))
                    continue
                g = self.genes.rows[row]
                key = GeneKey(g.chrom, g.tx_start, g.tx_end, g.strand)
                same = len(v.ref) == len(v.alt) == 1 and v.ref.upper() == v.alt.upper()
                jobs.append(_Job(i, row, TrackItem(key, v.pos - 1, len(v.ref), v.alt), same))
        return skips, jobs

    def score_variants(self, variants: Sequence[Variant]) -> list[SpliceResult]:
        """One :class:`SpliceResult` per input variant (one REF/ALT pair each), in input order."""
        return self.score_masked(variants, (self.cfg.mask,))[0]

    def score_masked(self, variants: Sequence[Variant], masks: Sequence[bool]) -> list[list[SpliceResult]]:
        """:meth:`score_variants` once per ``masks`` entry (``--mask`` off/on) from one computation of the
        tracks, as the shared expected files were made (the release's predictions, both mask settings)."""
        import torch

        skips, jobs = self._plan(variants)
        todo = [j for j in jobs if j.item is not None]
        with torch.inference_mode():
            tracks = self.engine.tracks([j.item for j in todo])  # type: ignore[misc]
        by_job = {id(j): t for j, t in zip(todo, tracks)}
        cov = 2 * self.cfg.distance + 1
        out = []
        for mask in masks:
            scores: list[list[GeneScore]] = [[] for _ in variants]
            for j in jobs:
                scores[j.v].append(self._entry(variants[j.v], j, by_job.get(id(j)), cov, mask))
            out.append([SpliceResult(tuple(s), k[0]) for s, k in zip(scores, skips)])
        return out

    def detail(self, v: Variant) -> dict:
        """What a page draws for one variant (JSON-ready): ``{"kind": "splice_tracks", "positions": [pos - D ..
        pos + D] (1-based), "distance": D, "mask", "skip_reason", "genes": [...]}``, one gene per scored ALT x
        gene entry in table order (none when the variant is skipped): ``SYMBOL``, ``strand``, the typed
        ``DS_*``/``DP_*`` and ``info`` of :meth:`SpliceResult.as_dict`, and the REF and ALT ensemble
        probabilities ``ref_acceptor``, ``ref_donor``, ``alt_acceptor``, ``alt_donor`` aligned to
        ``positions`` as the scores see them (a deletion's deleted bases are 0 in ALT, an insertion's
        inserted bases their maximum).
        """
        import torch

        skips, jobs = self._plan([v])
        todo = [j for j in jobs if j.item is not None]
        with torch.inference_mode():
            tracks = self.engine.tracks([j.item for j in todo]) if todo else []  # type: ignore[misc]
        cov, d = 2 * self.cfg.distance + 1, self.cfg.distance
        genes = []
        for j, (y_ref, y_alt) in zip(todo, tracks):
            g = self.genes.rows[j.row]
            entry = SpliceResult((self._entry(v, j, (y_ref, y_alt), cov, self.cfg.mask),), None).as_dict()
            y_alt = align_alt(y_ref if j.same_as_ref else y_alt, len(v.ref), len(v.alt), cov)
            genes.append({**entry["spliceai"][0], "strand": g.strand,
                          "ref_acceptor": y_ref[:, 1].tolist(), "ref_donor": y_ref[:, 2].tolist(),
                          "alt_acceptor": y_alt[:, 1].tolist(), "alt_donor": y_alt[:, 2].tolist()})
        return {"kind": "splice_tracks", "positions": list(range(v.pos - d, v.pos + d + 1)), "distance": d,
                "mask": self.cfg.mask, "skip_reason": skips[0][0], "genes": genes}

    def _entry(self, v: Variant, job: _Job, tracks, cov: int, mask: bool) -> GeneScore:
        name = self.genes.rows[job.row].name
        if tracks is None:
            return GeneScore(v.alt, name, None, None)
        y_ref, y_alt = tracks
        if job.same_as_ref:  # the release runs the identical window twice: exactly equal tracks
            y_alt = y_ref
        y_alt = align_alt(y_alt, len(v.ref), len(v.alt), cov)
        ds, dp = delta_scores(y_ref, y_alt, cov, self.genes.boundary_distance(job.row, v.pos), mask)
        return GeneScore(v.alt, name, ds, dp)

    def annotate(self, table: pa.Table, score_fn=None) -> pa.Table:
        """INFO ``SpliceAI`` (and ``RAYGEN_SKIP``) for every record of a VCF text table; rows unchanged.
        ``score_fn``: default :meth:`score_variants`."""
        from raygen.scoring.annotate import annotate_info, skip_item

        def items(results: list[SpliceResult]) -> list[str]:
            texts = [g.text() for r in results for g in r.scores]
            return ([f"{INFO_KEY}=" + ",".join(texts)] if texts else []) + skip_item(results)

        return annotate_info(table, score_fn or self.score_variants, items, ours=(INFO_KEY,))

    __call__ = annotate


def check_config(cfg: SpliceAIConfig) -> None:
    """Fail fast on impossible SpliceAI settings (the release allows D in [0, 5000))."""
    if not 0 <= cfg.distance < 5000:
        raise UsageError(f"--distance must be in [0, 4999] (the release's range), not {cfg.distance}")
    if min(cfg.tile_bp, cfg.batch_size, cfg.max_span_bp) < 1 or cfg.merge_bp < 0:
        raise UsageError("SpliceAI tile/span sizes and batch size must be at least 1")
    if cfg.ref_spans not in ("auto", "cluster", "grid"):
        raise UsageError(f"SpliceAI REF spans must be auto, cluster or grid, not {cfg.ref_spans!r}")
    if cfg.precision not in ("fp32", "bf16"):
        raise UsageError(f"--precision must be fp32 or bf16, not {cfg.precision!r}")
    if not cfg.annotation:
        raise UsageError("--model spliceai needs --annotation grch37, grch38 or a gene table file "
                         "(`raygen genes` converts a GTF/GFF3)")


def spliceai_info(cfg: SpliceAIConfig) -> dict:
    """Provenance of SpliceAI scores (the ``##raygen_score`` header line and the model card)."""
    from raygen.models.spliceai_weights import LICENCE, VERSION

    return {
        "model": "spliceai", "kind": "spliceai", "revision": VERSION, "annotation": cfg.annotation,
        "distance": cfg.distance, "mask": cfg.mask, "precision": cfg.precision,
        "licence": LICENCE, "definition": SCORE_DEFINITION,
        "weights": f"spliceai {VERSION} wheel (PyPI, installed --no-deps): spliceai/models/spliceai1..5.h5, "
                   "sha256 checked against the wheel's RECORD; networks rebuilt in PyTorch",
    }


def add_spliceai_header(header, info: dict) -> None:
    """The release's ``##INFO=<ID=SpliceAI,...>`` line, ``RAYGEN_SKIP`` with the SpliceAI reasons, and a
    ``##raygen_score=<...>`` line with the provenance (model, version, annotation, D, mask, licence)."""
    header.add_info(INFO_KEY, ".", "String", INFO_DESCRIPTION)
    header.add_info("RAYGEN_SKIP", ".", "String", "Why an ALT has no SpliceAI scores, one entry per ALT ('.' = "
                    "scored): " + ", ".join(SKIP_REASONS))
    header.meta = [m for m in header.meta if not m.startswith("##raygen_score=")]
    keys = ("model", "revision", "annotation", "distance", "mask", "precision", "licence", "definition")
    body = ",".join(f'{k}="{info[k]}"' if k in ("licence", "definition") else f"{k}={info[k]}" for k in keys)
    header.add_meta(f"##raygen_score=<{body}>")
