"""raygen.schema: the one declaration of the Arrow columns, and the code that builds them agrees with it."""

from __future__ import annotations

import dataclasses

from raygen.io.header import VcfHeader
from raygen.io.typed import typed_schema
from raygen.normalize.options import Counts
from raygen.schema import (
    BLOCK_SCHEMA,
    COUNT_FIELDS,
    GLOW_FIXED_FIELDS,
    NORMALIZED_BLOCK_SCHEMA,
    NORMALIZED_SCHEMA,
    TEXT_COLUMNS,
    TEXT_SCHEMA,
)


def test_counts_struct_lists_every_counter():
    assert COUNT_FIELDS == tuple(f.name for f in dataclasses.fields(Counts) if f.name != "extra")
    assert list(Counts().as_dict()) == list(COUNT_FIELDS)


def test_derived_schemas_share_the_text_columns():
    assert TEXT_COLUMNS == tuple(TEXT_SCHEMA.names[:-1]) and TEXT_SCHEMA.names[-1] == "LINE"
    assert BLOCK_SCHEMA.names == [*TEXT_SCHEMA.names, "SHARD", "SHARD_ROW", "REJECT_REASON", "REJECT_TEXT"]
    assert NORMALIZED_SCHEMA.names == [*TEXT_COLUMNS, "KEY"]
    assert NORMALIZED_BLOCK_SCHEMA.names[: len(NORMALIZED_SCHEMA)] == NORMALIZED_SCHEMA.names
    header = VcfHeader.from_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    assert list(typed_schema(header)) == list(GLOW_FIXED_FIELDS)
