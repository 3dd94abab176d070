"""Every Arrow column the pipelines pass around, declared once: name, type, meaning and who adds it.

Positions: ``POS`` is the 1-based VCF POS; Parquet ``start``/``end`` are 0-based half-open.

VCF text table (:data:`TEXT_SCHEMA`; added by the readers of :mod:`raygen.io.vcf`)
======== ======= =================================================================================
column   type    meaning
======== ======= =================================================================================
CHROM    string  exactly the VCF text
POS      int64   1-based VCF POS
ID, REF, ALT, QUAL, FILTER, INFO
         string  exactly the VCF text of each column (the writer turns null into ``.``)
FORMAT   string  the FORMAT column; null when the file has no FORMAT column
SAMPLES  string  the sample columns joined by ``'\\t'``; null when the file has no samples
LINE     int64   1-based line number in the (decompressed) source text; for BCF the line the record would
                 have in ``bcftools view`` output; null for records fetched by region, and for records a
                 pipeline made (normalized output)
======== ======= =================================================================================

Block columns (:data:`BLOCK_SCHEMA` = text table + these; added by :mod:`raygen.io.blocks` read tasks)
============= ====== ============================================================================
SHARD         int64  shard ordinal in genome (file) order (:class:`raygen.regions.Shard`)
SHARD_ROW     int64  row within the shard; (SHARD, SHARD_ROW) restores input order after any shuffle
REJECT_REASON string null for records. **Rejects travel in-band, one way, until the writer**: a line that
                     cannot be processed is a row with REJECT_REASON set (the reader sets it for malformed
                     lines, ``raygen normalize``'s stage for records it cannot normalize), REJECT_TEXT the
                     line (cut to 1000 characters), LINE when known, CHROM when the line parsed that far;
                     every other column null. :func:`raygen.io.blocks.split_rejects` turns them into a
                     :data:`REJECTS_SCHEMA` table for :func:`raygen.io.vcf.write_rejects`.
REJECT_TEXT   string see REJECT_REASON
============= ====== ============================================================================

Normalized block (:data:`NORMALIZED_BLOCK_SCHEMA`; added by :func:`raygen.normalize.pipeline.normalize_block`)
========= ====== ===============================================================================
CHROM .. SAMPLES the normalized record as VCF text (see the text table)
KEY       int64  output order within a contig and position: ``(SHARD << 40) + SHARD_ROW * 256 + i`` where
                 ``i`` numbers the records one input row became (split ALTs, atoms); sorting by (contig
                 rank, POS, KEY) gives bcftools norm's order. Reject rows carry their input row's KEY.
LINE, REJECT_REASON, REJECT_TEXT
                 as above (LINE is null on normalized records)
COUNTS    struct one non-null row per block under ``raygen normalize`` on Ray: that block's
                 :class:`raygen.normalize.options.Counts` (fields :data:`COUNT_FIELDS`, int64); every other
                 column of that row is null. Not present in the scoring pipeline.
========= ====== ===============================================================================
:data:`NORMALIZED_SCHEMA` is the same without LINE, REJECT_* and COUNTS: what
:func:`raygen.normalize.fast.normalize_batch` returns and the post-processing (sort, join, dedup) reads.

Scoring adds no column: :class:`raygen.scoring.scorer.Scorer` rewrites ``INFO`` of record rows (the
``RAYGEN_LLR``/``RAYGEN_SKIP``/``RAYGEN_PROB`` fields of :data:`raygen.scoring.annotate.INFO_LINES`) and
passes reject rows and every other column through. In Parquet they become ``INFO_RAYGEN_*`` columns.

Calls travel as :class:`raygen.calling.records.CallRecord` (plain dataclasses, 1-based ``pos``) and are
written as text-table rows (:func:`raygen.calling.records.calls_text_table`: FORMAT ``GT:GQ:DP:AD:VAF:PL``,
one sample in SAMPLES, ``LINE`` null).

Parquet (:mod:`raygen.io.parquet`): the Glow-named typed columns of :mod:`raygen.io.typed` (fixed ones in
:data:`GLOW_FIXED_FIELDS`, then one ``INFO_<KEY>`` per ``##INFO`` line and ``genotypes``, by header) plus
``vcfText`` (:data:`TEXT_STRUCT`: the exact text of ID, QUAL, FILTER, INFO, FORMAT, SAMPLES and LINE), so
Parquet -> VCF is lossless; ``contigName`` is the Hive partition.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "TEXT_SCHEMA",
    "TEXT_COLUMNS",
    "REJECTS_SCHEMA",
    "BLOCK_FIELDS",
    "BLOCK_SCHEMA",
    "NORMALIZED_SCHEMA",
    "NORMALIZED_BLOCK_SCHEMA",
    "COUNT_FIELDS",
    "COUNTS_TYPE",
    "COUNTS_FIELD",
    "TEXT_STRUCT",
    "GLOW_FIXED_FIELDS",
    "MAX_REJECT_TEXT",
]

TEXT_SCHEMA = pa.schema(
    [
        ("CHROM", pa.string()),
        ("POS", pa.int64()),
        ("ID", pa.string()),
        ("REF", pa.string()),
        ("ALT", pa.string()),
        ("QUAL", pa.string()),
        ("FILTER", pa.string()),
        ("INFO", pa.string()),
        ("FORMAT", pa.string()),
        ("SAMPLES", pa.string()),
        ("LINE", pa.int64()),
    ]
)
#: The VCF columns of a text table (everything but LINE), in file order.
TEXT_COLUMNS = tuple(TEXT_SCHEMA.names[:-1])

#: Rejected input lines, as the rejects file holds them (SOURCE is the input path).
REJECTS_SCHEMA = pa.schema(
    [("SOURCE", pa.string()), ("LINE", pa.int64()), ("REASON", pa.string()), ("TEXT", pa.string())]
)
#: Rejected line text is cut to this many characters.
MAX_REJECT_TEXT = 1000

BLOCK_FIELDS = (
    pa.field("SHARD", pa.int64()),
    pa.field("SHARD_ROW", pa.int64()),
    pa.field("REJECT_REASON", pa.string()),
    pa.field("REJECT_TEXT", pa.string()),
)
BLOCK_SCHEMA = pa.schema([*TEXT_SCHEMA, *BLOCK_FIELDS])

NORMALIZED_SCHEMA = pa.schema([*(TEXT_SCHEMA.field(c) for c in TEXT_COLUMNS), pa.field("KEY", pa.int64())])

#: Fields of the COUNTS struct: :class:`raygen.normalize.options.Counts` (a test keeps them equal).
COUNT_FIELDS = ("total", "split", "joined", "realigned", "mismatch_removed", "dup_removed", "skipped", "rejected",
                "ref_set", "ref_swapped", "written")
COUNTS_TYPE = pa.struct([(name, pa.int64()) for name in COUNT_FIELDS])
COUNTS_FIELD = pa.field("COUNTS", COUNTS_TYPE)

NORMALIZED_BLOCK_SCHEMA = pa.schema([
    *NORMALIZED_SCHEMA,
    TEXT_SCHEMA.field("LINE"),
    pa.field("REJECT_REASON", pa.string()),
    pa.field("REJECT_TEXT", pa.string()),
])

#: Parquet's ``vcfText``: the text columns a typed row does not hold losslessly, and the source LINE.
TEXT_STRUCT = pa.struct([TEXT_SCHEMA.field(c) for c in ("ID", "QUAL", "FILTER", "INFO", "FORMAT", "SAMPLES", "LINE")])

#: The typed columns every Parquet dataset starts with (Glow's names; see :mod:`raygen.io.typed`).
GLOW_FIXED_FIELDS = (
    pa.field("contigName", pa.string()),  # CHROM
    pa.field("start", pa.int64()),  # POS - 1 (0-based)
    pa.field("end", pa.int64()),  # start + len(REF) (0-based, exclusive)
    pa.field("names", pa.list_(pa.string())),  # ID split on ';' ('.' -> [])
    pa.field("referenceAllele", pa.string()),  # REF
    pa.field("alternateAlleles", pa.list_(pa.string())),  # ALT split on ',' ('.' -> [])
    pa.field("qual", pa.float64()),  # QUAL ('.' -> null)
    pa.field("filters", pa.list_(pa.string())),  # FILTER split on ';' ('.' -> [])
    pa.field("splitFromMultiAllelic", pa.bool_()),  # false
)
