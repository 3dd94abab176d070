"""The one expression type commands use: compile once, test records or whole text tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from raygen.expr.compile import compile_expr
from raygen.expr.evaluate import GenotypeCache, evaluate
from raygen.expr.slots import ReaderSlots
from raygen.expr.vector import vector_mask
from raygen.io.header import VcfHeader
from raygen.normalize import bcfrec


class Expression:
    """A bcftools filtering expression compiled against ``header``; ``exclude`` inverts it (``-e``)."""

    def __init__(self, text: str, header: VcfHeader, *, exclude: bool = False, base_dir: Path | None = None):
        self.text, self.header, self.exclude = text, header, exclude
        self.compiled = compile_expr(text, header, base_dir)
        self.uses_gt_index = any(t.idx == -3 for t in self.compiled.rpn)
        self._slots = ReaderSlots()
        self._cache = GenotypeCache()

    def passes(self, rec: bcfrec.Rec, slot: int | None = None) -> bool:
        """Whether the record is kept (``-i``: the expression holds; ``-e``: it does not). ``slot``: the
        reader buffer bcftools would hold it in (:meth:`slots`), for its genotype cache."""
        return bool(evaluate(self.compiled, rec, self.header, slot, self._cache)) != self.exclude

    def slots(self, keys: list[tuple]) -> list[int | None]:
        """Reader buffers of consecutive records of the stream (``(CHROM, POS)`` keys, in file order)."""
        if not self.uses_gt_index:
            return [None] * len(keys)
        return self._slots.slots(keys)

    def passes_columns(self, cols: list[str], slot: int | None = None) -> bool:
        return self.passes(bcfrec.parse(cols, self.header), slot)

    def mask(self, table: pa.Table) -> np.ndarray:
        """Kept rows of a text table (bool per row), the rows being the next records of the stream."""
        got = vector_mask(self, table)
        if got is not None:
            return got
        rows = list(_rows(table))
        slots = self.slots([(r[0], r[1]) for r in rows])
        slots += [None] * (len(rows) - len(slots))
        return np.fromiter((self.passes_columns(row, s) for row, s in zip(rows, slots)), dtype=bool,
                           count=len(rows))


def _rows(table: pa.Table):
    cols = {c: table[c].to_pylist() for c in ("CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")}
    fmt = table["FORMAT"].to_pylist() if "FORMAT" in table.column_names else [None] * table.num_rows
    smp = table["SAMPLES"].to_pylist() if "SAMPLES" in table.column_names else [None] * table.num_rows
    for i in range(table.num_rows):
        row = [cols["CHROM"][i], str(cols["POS"][i]), cols["ID"][i], cols["REF"][i], cols["ALT"][i], cols["QUAL"][i],
               cols["FILTER"][i], cols["INFO"][i]]
        if fmt[i] is not None:
            row.append(fmt[i])
            if smp[i] is not None:
                row.extend(smp[i].split("\t"))
        yield row
