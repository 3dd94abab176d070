"""Annotation sources of ``raygen annotate``: parse ``NAME=FILE[:FIELDS]``, normalize the source once into
cached contig-partitioned Parquet, and read back the slice of one contig a query shard needs.

A source is a VCF/BCF (ClinVar, gnomAD, a truth set, SpliceAI output) or a raygen Parquet dataset. It is
normalized exactly as the query is (:data:`SOURCE_OPTIONS` with the same reference: left-aligned, multi-
allelics split, REF checked), so both sides meet on the normalized allele key (CHROM, POS, REF, ALT) however
an indel was written. The normalized records are written once with :func:`raygen.io.parquet.write_parquet`
to ``$RAYGEN_CACHE/annotate/<key>/records`` (``key``: SHA-256 over the source's and the reference's SHA-256,
raygen's version and the normalization options), with the source's rejects (``rejects.tsv``) and counts
(``meta.json``) beside it; a later run with the same bytes reuses them.

A source whose records are mostly rejected (REF differing from the reference, contigs the reference lacks)
is on another build: :func:`prepare_source` stops with a message naming the difference when more than
``AnnotateConfig.max_source_rejected`` of its records are rejected.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from raygen import __version__
from raygen.config import DEFAULTS, AnnotateConfig, NormalizeConfig
from raygen.errors import InputError, UsageError
from raygen.io.atomic import atomic_dir
from raygen.io.blocks import as_block, is_indexed, plan_shards, read_shard
from raygen.io.fasta import Reference
from raygen.io.header import VcfHeader
from raygen.io.parquet import hive_partitioning, is_parquet_dataset, iter_parquet_text, read_parquet_header, write_parquet
from raygen.io.vcf import read_header, write_rejects
from raygen.normalize.options import Counts, NormalizeOptions
from raygen.normalize.pipeline import NormalizeResult, normalize_tables
from raygen.provenance import cache_dir, file_sha256, path_sha256, source_record
from raygen.regions import Shard
from raygen.schema import REJECTS_SCHEMA

log = logging.getLogger("raygen.annotate")

#: How both sides of the join are normalized (with the run's ``-f``): split every multi-allelic record,
#: left-align, and exclude records whose REF differs from the reference (into the rejects).
SOURCE_OPTIONS = NormalizeOptions(check_ref="x", multiallelics=("-", "any"))
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SourceSpec:
    """``--source NAME=FILE[:FIELDS]``: the source's name (prefix of its INFO keys), file and INFO fields
    (``None``: every INFO field its header declares)."""

    name: str
    path: str
    fields: tuple[str, ...] | None = None

    def out_key(self, field_: str) -> str:
        """The INFO key ``field_`` of this source gets in the output: ``NAME_FIELD``."""
        return f"{self.name}_{field_}"


def parse_source(text: str) -> SourceSpec:
    """Parse ``NAME=FILE[:F1,F2,...]`` (a FILE that exists as written may itself contain ':')."""
    name, eq, rest = text.partition("=")
    if not eq or not rest:
        raise UsageError(f"--source {text!r}: want NAME=FILE[:FIELD,...] (e.g. clinvar=clinvar.vcf.gz:CLNSIG,CLNREVSTAT)")
    if not _NAME_RE.match(name):
        raise UsageError(f"--source {text!r}: NAME must be letters, digits and '_' (it prefixes INFO keys), not {name!r}")
    path, fields = rest, None
    if not Path(rest).exists() and ":" in rest:
        path, _, listed = rest.rpartition(":")
        fields = tuple(f.strip().removeprefix("INFO/") for f in listed.split(",") if f.strip())
        if not fields:
            raise UsageError(f"--source {text!r}: empty field list after ':'")
    if not Path(path).exists():
        raise InputError(f"--source {name}: {path} does not exist")
    return SourceSpec(name, path, fields)


@dataclass
class PreparedSource:
    """A source converted to normalized Parquet: where it lies, its header, the fields taken, its counts and
    its provenance record (:func:`raygen.provenance.source_record`)."""

    spec: SourceSpec
    records_dir: str
    header: VcfHeader
    fields: list[str]
    counts: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict)

    def out_keys(self) -> list[str]:
        return [self.spec.out_key(f) for f in self.fields]


def _file_date(header: VcfHeader) -> str | None:
    for line in header.meta:
        if line.startswith("##fileDate="):
            return line.split("=", 1)[1].strip() or None
    return None


def _read_source_header(path: Path) -> VcfHeader:
    return read_parquet_header(path) if is_parquet_dataset(path) else read_header(path)


def _check_fields(spec: SourceSpec, header: VcfHeader) -> list[str]:
    declared = list(header.info)
    if spec.fields is None:
        return declared
    missing = [f for f in spec.fields if f not in header.info]
    if missing:
        raise UsageError(f"--source {spec.name}: {spec.path} declares no INFO field {', '.join(missing)} "
                         f"(its INFO fields: {', '.join(declared) or 'none'})")
    return list(spec.fields)


def _normalized_parts(path: Path, header: VcfHeader, opts: NormalizeOptions, ncfg: NormalizeConfig
                      ) -> Iterator[NormalizeResult]:
    """The source normalized in this process, one part at a time so memory holds one contig: each contig of an
    indexed VCF/BCF (a record moves only within its contig), each file of a Parquet dataset; an unindexed
    file is one part."""
    src = str(path)
    if is_parquet_dataset(path):
        for i, t in enumerate(iter_parquet_text(path, header=header)):
            yield normalize_tables([as_block(t, shard=i)], header, opts, source=src)
    elif is_indexed(path):
        for shard in plan_shards(path, shard_bp=1 << 62, header=header):  # one shard per indexed contig
            yield normalize_tables(read_shard(src, header, shard, ncfg.batch_rows), header, opts, source=src)
    else:
        yield normalize_tables(read_shard(src, header, Shard(None), ncfg.batch_rows), header, opts, source=src)


def _convert(path: Path, header: VcfHeader, opts: NormalizeOptions, dest: Path, ncfg: NormalizeConfig) -> None:
    counts, rejects = Counts(), []

    def records() -> Iterator[pa.Table]:  # streamed into the Parquet writer part by part
        for part in _normalized_parts(path, header, opts, ncfg):
            counts.add(part.counts)
            rejects.append(part.rejects)
            recs = part.records.drop_columns(["KEY"])
            yield recs.append_column("LINE", pa.nulls(recs.num_rows, pa.int64()))

    with atomic_dir(dest) as tmp:
        write_parquet(records(), header, tmp / "records")
        rej = pa.concat_tables(rejects) if rejects else REJECTS_SCHEMA.empty_table()
        write_rejects(rej, tmp / "rejects.tsv")
        meta = {"total": counts.total, "written": counts.written, "rejected": rej.num_rows, "split": counts.split,
                "realigned": counts.realigned,
                "first_rejects": [f"line {r['LINE']}: {r['REASON']}" for r in rej.slice(0, 3).to_pylist()]}
        (tmp / "meta.json").write_text(json.dumps(meta))


def _check_build(spec: SourceSpec, counts: dict, reference: Reference, cfg: AnnotateConfig, rejects: Path) -> None:
    # rejects are counted after multi-allelic records are split: compare with the split records
    rejected = counts["rejected"]
    total = max(counts["total"], counts["written"] + rejected)
    if total and rejected / total > cfg.max_source_rejected:
        names = reference.contigs
        raise InputError(
            f"--source {spec.name}: {rejected} of {total} records of {spec.path} were rejected against the "
            f"reference ({100 * rejected / total:.0f}% > {100 * cfg.max_source_rejected:g}%; first: "
            f"{'; '.join(counts['first_rejects'])}): the source looks like another reference build than "
            f"{reference.path} (contigs {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}). "
            "Use a source for the reference's build.")
    if rejected:
        log.warning("source %s: %d of %d records rejected (first: %s; all in %s)", spec.name, rejected, total,
                    "; ".join(counts["first_rejects"]), rejects)


def prepare_source(spec: SourceSpec, fasta: str, cfg: AnnotateConfig = DEFAULTS.annotate,
                   ncfg: NormalizeConfig = DEFAULTS.normalize) -> PreparedSource:
    """Normalize ``spec``'s source against ``fasta`` into the cache (once per source and reference bytes)."""
    reference = Reference(fasta)  # a missing or unreadable FASTA stops here, with its own message
    path = Path(spec.path)
    header = _read_source_header(path)
    fields = _check_fields(spec, header)
    opts = replace(SOURCE_OPTIONS, fasta=fasta).validate()
    digest = path_sha256(path)
    # the reference enters by its bytes, not its path (``opts`` names the path: a relative and an absolute
    # spelling of one file must share the cache)
    key = hashlib.sha256(f"{digest}|{file_sha256(fasta)}|{__version__}|{replace(opts, fasta=None)}".encode()).hexdigest()[:32]
    dest = cache_dir() / "annotate" / key
    if not (dest / "meta.json").is_file():
        log.info("source %s: normalizing %s into %s (once; later runs reuse it)", spec.name, path, dest)
        _convert(path, header, opts, dest, ncfg)
    counts = json.loads((dest / "meta.json").read_text())
    _check_build(spec, counts, reference, cfg, dest / "rejects.tsv")
    record = source_record(spec.name, path, fields, date=_file_date(header))
    return PreparedSource(spec, str(dest / "records"), header, fields, counts, record)


# --------------------------------------------------------------------------------------------------
# Reading a slice back
# --------------------------------------------------------------------------------------------------
class SourceSlices:
    """The normalized records of one source, read back by contig and position range (Parquet partition and
    row-group pruning): ``slice(chrom, lo, hi)`` -> ``POS, REF, ALT, INFO`` (1-based closed ``[lo, hi]`` on POS)."""

    def __init__(self, records_dir: str):
        self.dataset = pads.dataset(records_dir, format="parquet", partitioning=hive_partitioning())

    def slice(self, chrom: str, lo: int, hi: int) -> pa.Table:
        if "start" not in self.dataset.schema.names:  # a source without records (only its _empty.parquet)
            return pa.table({"POS": pa.array([], pa.int64()), "REF": pa.array([], pa.string()),
                             "ALT": pa.array([], pa.string()), "INFO": pa.array([], pa.string())})
        f = ((pc.field("contigName") == chrom) & (pc.field("start") >= lo - 1) & (pc.field("start") <= hi - 1))
        t = self.dataset.to_table(columns=["start", "referenceAllele", "alternateAlleles", "vcfText"], filter=f)
        alt = pc.binary_join(t["alternateAlleles"], ",")
        return pa.table({"POS": pc.add(t["start"], 1), "REF": t["referenceAllele"], "ALT": alt,
                         "INFO": pc.struct_field(t["vcfText"], "INFO")})


__all__ = ["SourceSpec", "PreparedSource", "SourceSlices", "parse_source", "prepare_source", "SOURCE_OPTIONS"]
