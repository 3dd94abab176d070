"""Vectorised normalization of one batch of a VCF text table (numpy/Arrow; Python only where needed).

Most records need nothing but a REF check: a biallelic SNV whose REF base equals the reference is left
exactly as it was. Such rows are found and checked in bulk (one array lookup into the contig's sequence);
every other row (indels, MNVs, multi-allelics to split, REF mismatches, symbolic alleles) goes through
:class:`~raygen.normalize.records.RecordNormalizer` one by one.

Output rows carry ``KEY`` (int64, :data:`raygen.schema.NORMALIZED_SCHEMA`): the input row's key (by default
``batch_key + row * 256``) ``+ sub`` where ``sub`` numbers the records one input row became. Sorting by (contig rank, POS, KEY) afterwards reproduces bcftools' output order: its
buffer inserts each new record after all records with a position not greater than its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from raygen.errors import InputError
from raygen.normalize.htsfmt import reprint_table
from raygen.normalize.multiallelic import split_gt
from raygen.normalize.records import RecordNormalizer, RecordRejected, RefCheckError
from raygen.normalize.vecalign import realign_biallelic
from raygen.schema import NORMALIZED_SCHEMA, TEXT_COLUMNS

#: Records one input row may become (split ALTs) before KEYs of neighbouring rows collide.
SUB_SLOTS = 256
#: Sub-slot of a row that -i/-e left out (never split or atomized, so no other part uses it).
FILTERED_SUB = SUB_SLOTS - 1
ROW_SLOTS = 1 << 24  # rows per batch

_BASES = np.zeros(256, dtype=bool)
_BASES[[ord(c) for c in "ACGT"]] = True


@dataclass
class BatchResult:
    """Normalized records of one batch and the input rows rejected while normalizing it."""

    records: pa.Table
    rejects: list[tuple[int, int | None, str, str]] = field(default_factory=list)  # (KEY, LINE, reason, text)


def _first_bytes(arr: pa.Array) -> np.ndarray:
    """First byte of every string (0 for empty strings) without a Python loop."""
    arr = arr.cast(pa.large_string()) if arr.type == pa.string() else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    if data is None or len(arr) == 0:
        return np.zeros(len(arr), dtype=np.uint8)
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = offsets[:-1]
    lens = offsets[1:] - starts
    out = np.zeros(len(arr), dtype=np.uint8)
    nz = lens > 0
    out[nz] = buf[starts[nz]]
    return out


def _as_array(col) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def fast_mask(table: pa.Table, normalizer: RecordNormalizer) -> np.ndarray:
    """Rows that provably stay unchanged apart from the REF check (which the caller does in bulk)."""
    opts = normalizer.opts
    n = table.num_rows
    alt = _as_array(table["ALT"])
    ref = _as_array(table["REF"])
    if normalizer.reference is None:
        if not opts.split:
            return np.ones(n, dtype=bool)
        return ~pc.match_substring(alt, ",").to_numpy(zero_copy_only=False)
    if not opts.realign and "s" not in opts.check_ref:
        return ~pc.match_substring(alt, ",").to_numpy(zero_copy_only=False) if opts.split else np.ones(n, bool)
    single = np.logical_and(pc.equal(pc.binary_length(ref), 1).to_numpy(zero_copy_only=False),
                            pc.equal(pc.binary_length(alt), 1).to_numpy(zero_copy_only=False))
    rb, ab = _first_bytes(ref), _first_bytes(alt)
    return single & _BASES[rb] & _BASES[ab] & (rb != ab)


def normalize_batch(table: pa.Table, normalizer: RecordNormalizer, batch_key: int = 0,
                    keys: np.ndarray | None = None) -> BatchResult:
    """Normalize one text-table batch (rows in input order); see the module docstring for ``KEY``.

    ``keys``: the KEY of each input row (increasing, multiples of :data:`SUB_SLOTS`); default
    ``batch_key + row * SUB_SLOTS``. With ``-i/-e`` (``normalizer.filter``), rows the expression does not
    keep are passed through untouched (as bcftools: not split, checked, realigned or atomized) with KEY
    ``+ FILTERED_SUB`` so that -m + and -d, later, leave them alone too.
    """
    n = table.num_rows
    if n >= ROW_SLOTS:
        raise ValueError(f"batches are limited to {ROW_SLOTS} rows")
    if keys is None:
        keys = batch_key + np.arange(n, dtype=np.int64) * SUB_SLOTS
    keys = np.asarray(keys, dtype=np.int64)
    passed = None
    if normalizer.filter is not None and n:
        keep = normalizer.filter.mask(table)
        if not keep.all():
            hdr = normalizer.hdr
            out = reprint_table(table.filter(pa.array(~keep)), hdr.info_type, hdr.format_type, len(hdr.samples))
            passed = out.select(list(TEXT_COLUMNS)).append_column("KEY", pa.array(keys[~keep] + FILTERED_SUB))
            normalizer.counts.skipped += int((~keep).sum())
            table, keys = table.filter(pa.array(keep)), keys[keep]
    res = _normalize_rows(table, normalizer, keys)
    if passed is not None:
        res.records = pa.concat_tables([res.records, passed.cast(NORMALIZED_SCHEMA)])
    return res


def is_filtered(keys: np.ndarray) -> np.ndarray:
    """Rows that ``-i/-e`` left out (see :func:`normalize_batch`)."""
    return keys % SUB_SLOTS == FILTERED_SUB


def _normalize_rows(table: pa.Table, normalizer: RecordNormalizer, keys: np.ndarray) -> BatchResult:
    """The rows of a batch that are normalized (``keys``: their KEYs).

    Stages: split multi-allelic rows (per record, text slicing); then, with a reference, bulk REF check of
    SNVs, vectorised left-alignment of biallelic sequence indels/MNVs, and the per-record path for the rest.
    """
    n = table.num_rows
    opts = normalizer.opts
    hdr = normalizer.hdr
    # records enter as htslib reads them (its number spelling, filled sample fields): bcftools prints that
    table = reprint_table(table, hdr.info_type, hdr.format_type, len(hdr.samples))
    rejects: list[tuple[int, int | None, str, str]] = []
    lines_col = table["LINE"] if "LINE" in table.column_names else pa.nulls(n, pa.int64())
    base = table.select(list(TEXT_COLUMNS)).append_column("KEY", pa.array(keys, pa.int64())).append_column("LINE", lines_col)
    if opts.atomize:  # per record: atomize needs every allele of a record together
        return _all_python(base, normalizer, rejects)
    base, split_keys = _split_stage(base, normalizer, rejects)
    if normalizer.reference is None:
        return BatchResult(base.drop_columns(["LINE"]).cast(NORMALIZED_SCHEMA), rejects)
    if not opts.realign and "s" not in opts.check_ref:
        return BatchResult(base.drop_columns(["LINE"]).cast(NORMALIZED_SCHEMA), rejects)
    return BatchResult(_reference_stage(base, normalizer, split_keys, rejects), rejects)


def _split_stage(base: pa.Table, normalizer: RecordNormalizer, rejects: list) -> tuple[pa.Table, np.ndarray]:
    """``-m -``: multi-allelic rows split (in bulk where :func:`vector_split` can, else per record); returns the
    rows and the KEYs of rows just split from a multi-allelic record (bcftools skips an ALT check there)."""
    opts = normalizer.opts
    split_keys: set[int] = set()  # of rows split in Python; the bulk split's are arrays in `bulk`
    bulk: list[np.ndarray] = []
    if not opts.split:
        return base, np.zeros(0, np.int64)
    to_split = pc.match_substring(_as_array(base["ALT"]), ",").to_numpy(zero_copy_only=False)
    if not to_split.any():
        return base, np.zeros(0, np.int64)
    parts = [base.filter(pa.array(~to_split))]
    py_split = base.filter(pa.array(to_split))
    if opts.split in ("both", "any") and not opts.old_rec_tag and not opts.keep_sum:
        done, py_split = vector_split(py_split, normalizer)
        parts.extend(done)
        for part in done:
            bulk.append(part["KEY"].to_numpy())
    rows, rkeys, rlines = [], [], []
    for f, key, line in _py_rows(py_split):
        try:
            recs = normalizer.split_only(f)
        except RecordRejected as exc:
            rejects.append((key, line, exc.reason, "\t".join(f)))
            continue
        for s_, rec in enumerate(recs):
            rows.append(rec)
            rkeys.append(key + s_)
            rlines.append(line)
            if len(recs) > 1:
                split_keys.add(key + s_)
    parts.append(_rows_to_table(rows, rkeys).append_column("LINE", pa.array(rlines, pa.int64())))
    return pa.concat_tables(parts), np.concatenate([np.fromiter(split_keys, np.int64, len(split_keys)), *bulk])


def _reference_stage(base: pa.Table, normalizer: RecordNormalizer, split_keys: np.ndarray, rejects: list) -> pa.Table:
    """With a reference: bulk REF check of SNVs, vectorised left-alignment of biallelic sequence rows, and the
    per-record path for the rest."""
    opts = normalizer.opts
    outside = _outside_contigs(base, normalizer)  # the per-record path rejects these, naming the contig
    mask = fast_mask(base, normalizer) & ~outside
    if mask.any():
        mask = _check_ref_bulk(base, mask, normalizer)
    out = [base.filter(pa.array(mask)).drop_columns(["LINE"])]
    rest = base.filter(pa.array(~mask & ~outside))
    if rest.num_rows and opts.realign and opts.max_indel_len is None and not opts.old_rec_tag and not opts.gff:
        vec_out, rest = _vector_realign(rest, normalizer)
        out.extend(vec_out)
    if outside.any():
        rest = pa.concat_tables([rest, base.filter(pa.array(outside))])
    if rest.num_rows:
        rows, rkeys = [], []
        from_split = np.isin(rest["KEY"].to_numpy(), split_keys).tolist()
        for (f, key, line), split in zip(_py_rows(rest), from_split):
            try:
                r = normalizer.normalize_line(f, from_split=split)
            except RecordRejected as exc:
                rejects.append((key, line, exc.reason, "\t".join(f)))
                continue
            except RefCheckError as exc:
                raise exc.at(normalizer.source, line) from None
            if r is not None:
                rows.append(r)
                rkeys.append(key)
        out.append(_rows_to_table(rows, rkeys))
    return pa.concat_tables([t.cast(NORMALIZED_SCHEMA) for t in out])


def vector_split(t: pa.Table, normalizer: RecordNormalizer) -> tuple[list[pa.Table], pa.Table]:
    """``-m -both/-any`` in bulk for the common shapes; returns (split tables, rows left for Python).

    Taken here: INFO whose Number=A/R tags are numeric with exactly the expected number of values, none
    missing (:func:`_info_ok`), FORMAT tags that are GT, fixed-count or Number=A/R with exactly the expected
    number of values in every sample. Anything else (G tags, missing or malformed vectors,
    ``--old-rec-tag``/``--keep-sum``) is left to :func:`~raygen.normalize.multiallelic.split_record`.
    """
    hdr = normalizer.hdr
    other = "." if normalizer.opts.multi_overlaps == "." else "0"
    info = _as_array(t["INFO"])
    elig = ~pc.match_substring_regex(info, "=(;|$)").to_numpy(zero_copy_only=False) & ~_repeated_key(info)
    info_tags = _info_split_tags(info, hdr)
    elig &= ~info_tags[1]
    n_alt = (pc.count_substring(_as_array(t["ALT"]), ",").to_numpy(zero_copy_only=False) + 1).astype(np.int64)
    fmt = _as_array(t["FORMAT"])
    nsamp = len(hdr.samples)
    done = []
    handled = np.zeros(t.num_rows, dtype=bool)
    for fv in pc.unique(fmt).to_pylist():
        keys = fv.split(":") if fv is not None else []
        plan = _format_plan(keys, hdr)
        if plan is None:
            continue
        in_fmt = pc.is_null(fmt).to_numpy(zero_copy_only=False) if fv is None else \
            pc.fill_null(pc.equal(fmt, fv), False).to_numpy(zero_copy_only=False)
        for m in np.unique(n_alt[elig & in_fmt]):
            rows = np.flatnonzero(elig & in_fmt & (n_alt == m))
            if len(rows) == 0:
                continue
            sub = t.take(pa.array(rows))
            if fv is not None and nsamp:
                ok, per_sample = _sample_fields(sub, len(keys), plan, int(m), nsamp)
            else:
                ok, per_sample = np.ones(len(rows), dtype=bool), []
            ok &= _info_ok(_as_array(sub["INFO"]), info_tags[0], int(m))
            if not ok.any():
                continue
            done.extend(_split_alts(sub, ok, int(m), per_sample, other, info_tags[0]))
            normalizer.counts.split += int(ok.sum())
            elig[rows[ok]] = False
            handled[rows[ok]] = True
    return done, t.filter(pa.array(~handled))


#: One value of a numeric INFO vector that is not missing (the bulk split slices those as text).
_PIECE = r"(?:[^;,.][^;,]*|\.[^;,]+)"


def _info_split_tags(info: pa.Array, hdr) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(numeric Number=A/R INFO tags present in ``info``, as ``(tag, number)``; rows holding a tag the bulk
    split leaves to Python: Number=G, or A/R of a type other than Integer/Float)."""
    tags, other = [], np.zeros(len(info), dtype=bool)
    for key, num in hdr.info_number.items():
        if num not in ("A", "R", "G"):
            continue
        has = pc.match_substring_regex(info, f"(^|;){re.escape(key)}(=|;|$)").to_numpy(zero_copy_only=False)
        if not has.any():
            continue
        if num == "G" or hdr.info_type.get(key) not in ("Integer", "Float"):
            other |= has
        else:
            tags.append((key, num))
    return tags, other


def _repeated_key(info: pa.Array) -> np.ndarray:
    """Rows whose INFO names a key twice (bcftools' split keeps the first copy only: per-record path)."""
    # the keys of each row as one string ("AC;DP"): few distinct ones in a real file, each tested once
    keys = pc.replace_substring_regex(info, pattern="=[^;]*", replacement="")
    uniq = pc.unique(keys)
    dup = pa.array([k is not None and len(set(k.split(";"))) != k.count(";") + 1 for k in uniq.to_pylist()])
    return pc.fill_null(pc.take(dup, pc.index_in(keys, value_set=uniq)), False).to_numpy(zero_copy_only=False)


def _info_ok(info: pa.Array, tags: list[tuple[str, str]], m: int) -> np.ndarray:
    """Rows whose numeric A/R INFO tags (``tags``) each occur at most once with exactly ``m`` (A) or ``m + 1``
    (R) values, none missing: bcftools takes value ``k`` (A) or values 0 and ``k`` (R) for ALT ``k`` there, so
    slicing htslib's text is exact (a missing value or a wrong count goes to the per-record split)."""
    ok = np.ones(len(info), dtype=bool)
    for key, num in tags:
        k = re.escape(key)
        n = m if num == "A" else m + 1
        count = pc.count_substring_regex(info, f"(^|;){k}(=|;|$)").to_numpy(zero_copy_only=False)
        full = pc.match_substring_regex(info, f"(^|;){k}={_PIECE}(?:,{_PIECE}){{{n - 1}}}(;|$)")
        ok &= (count == 0) | ((count == 1) & full.to_numpy(zero_copy_only=False))
    return ok


def _slice_info(info: pa.Array, tags: list[tuple[str, str]], k: int) -> pa.Array:
    """INFO of ALT ``k`` (1-based) of rows :func:`_info_ok` accepted: each A tag keeps value ``k``, each R
    tag values 0 and ``k``; everything else stays as written."""
    for key, num in tags:
        skip = f"(?:[^;,]*,){{{k - 1}}}"
        if num == "A":
            pat, rep = f"(^|;)({re.escape(key)}=){skip}([^;,]*)(?:,[^;]*)?(;|$)", r"\1\2\3\4"
        else:
            pat, rep = f"(^|;)({re.escape(key)}=)([^;,]*),{skip}([^;,]*)(?:,[^;]*)?(;|$)", r"\1\2\3,\4\5"
        info = pc.replace_substring_regex(info, pattern=pat, replacement=rep)
    return info


def _format_plan(keys: list[str], hdr) -> list[str] | None:
    """How each FORMAT key splits: ``GT``, ``A``, ``R`` or ``1`` (copied); None when a key is Number=G."""
    plan = []
    for key in keys:
        num = hdr.format_number.get(key, ".")
        if key == "GT":
            plan.append("GT")
        elif num in ("A", "R"):
            plan.append(num)
        elif num == "G":
            return None
        else:
            plan.append("1")
    return plan


def _sample_fields(sub: pa.Table, n_keys: int, plan: list[str], m: int, nsamp: int) -> tuple[np.ndarray, list]:
    """(rows whose every sample has ``n_keys`` fields and the right A/R vector lengths, per sample the
    ``(kind, values)`` of each key: A/R values split on ',')."""
    ok = np.ones(sub.num_rows, dtype=bool)
    smp = pc.split_pattern(_as_array(sub["SAMPLES"]), "\t")
    ok &= pc.equal(pc.list_value_length(smp), nsamp).to_numpy(zero_copy_only=False)
    fields = []
    for si in range(nsamp):
        col = pc.list_element(pc.if_else(pa.array(ok), smp, pa.scalar([""] * nsamp, smp.type)), si)
        parts_ = pc.split_pattern(col, ":")
        ok &= pc.equal(pc.list_value_length(parts_), n_keys).to_numpy(zero_copy_only=False)
        fields.append(parts_)
    safe = pa.array(ok)
    per_sample = []
    for si in range(nsamp):
        cols_ = []
        parts_ = pc.if_else(safe, fields[si], pa.scalar([""] * n_keys, fields[si].type))
        for j, kind in enumerate(plan):
            v = pc.list_element(parts_, j)
            if kind in ("A", "R"):
                lst = pc.split_pattern(v, ",")
                want = m if kind == "A" else m + 1
                ok &= pc.equal(pc.list_value_length(lst), want).to_numpy(zero_copy_only=False)
                cols_.append((kind, lst))
            else:
                cols_.append((kind, v))
        per_sample.append(cols_)
    return ok, per_sample


def _split_alts(sub: pa.Table, ok: np.ndarray, m: int, per_sample: list, other: str,
                info_tags: list[tuple[str, str]]) -> list[pa.Table]:
    """One table per ALT ``k`` (1..m) of the rows ``ok``: ALT k alone, KEY + k - 1, INFO and samples subset
    to it."""
    keep = pa.array(ok)
    sub = sub.filter(keep)
    alts = pc.split_pattern(_as_array(sub["ALT"]), ",")
    base_key = sub["KEY"].to_numpy()
    info = _as_array(sub["INFO"])
    # each sample value filtered once (not once per ALT); a GT's text per ALT from its distinct values
    per_sample = [[(kind, v.filter(keep)) for kind, v in cols_] for cols_ in per_sample]
    gt_codes = {}
    for cols_ in per_sample:
        for kind, v in cols_:
            if kind == "GT":
                uniq = pc.unique(v)
                gt_codes[id(v)] = (uniq.to_pylist(), pc.index_in(v, value_set=uniq))
    out_tables = []
    for k in range(1, m + 1):
        out = sub.set_column(sub.schema.get_field_index("ALT"), "ALT", pc.list_element(alts, k - 1))
        if info_tags:
            out = out.set_column(out.schema.get_field_index("INFO"), "INFO", _slice_info(info, info_tags, k))
        out = out.set_column(out.schema.get_field_index("KEY"), "KEY", pa.array(base_key + (k - 1)))
        if per_sample:
            smp_cols = []
            for cols_ in per_sample:
                vals = []
                for kind, v in cols_:
                    if kind == "GT":
                        uniq, codes = gt_codes[id(v)]
                        vals.append(pc.take(pa.array([split_gt(g, k, other) for g in uniq], pa.string()), codes))
                    elif kind == "A":
                        vals.append(pc.list_element(v, k - 1))
                    elif kind == "R":
                        vals.append(pc.binary_join_element_wise(pc.list_element(v, 0), pc.list_element(v, k), ","))
                    else:
                        vals.append(v)
                smp_cols.append(pc.binary_join_element_wise(*vals, ":"))
            joined = smp_cols[0] if len(smp_cols) == 1 else pc.binary_join_element_wise(*smp_cols, "\t")
            out = out.set_column(out.schema.get_field_index("SAMPLES"), "SAMPLES", joined)
        out_tables.append(out)
    return out_tables


def _all_python(base: pa.Table, normalizer: RecordNormalizer, rejects: list) -> BatchResult:
    rows, rkeys = [], []
    for f, key, line in _py_rows(base):
        try:
            recs = normalizer.process(f, validated=True)
        except RecordRejected as exc:
            rejects.append((key, line, exc.reason, "\t".join(f)))
            continue
        except RefCheckError as exc:
            raise exc.at(normalizer.source, line) from None
        except InputError as exc:  # a bad record where bcftools stops (-a's out-of-bounds genotypes): a reject
            rejects.append((key, line, str(exc), "\t".join(f)))
            continue
        for rec, reason in normalizer.partial_rejects:
            rejects.append((key, line, reason, "\t".join(rec)))
        normalizer.partial_rejects.clear()
        for s_, rec in enumerate(recs):
            rows.append(rec)
            rkeys.append(key + s_)
    return BatchResult(_rows_to_table(rows, rkeys), rejects)


def _py_rows(t: pa.Table):
    """``(columns, KEY, LINE)`` per row of a text table, for the per-record path."""
    d = {c: t[c].to_pylist() for c in ("CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                                       "SAMPLES", "KEY", "LINE")}
    for j in range(t.num_rows):
        f = [d["CHROM"][j], str(d["POS"][j]), d["ID"][j], d["REF"][j], d["ALT"][j], d["QUAL"][j],
             d["FILTER"][j], d["INFO"][j]]
        fmt, smp = d["FORMAT"][j], d["SAMPLES"][j]
        if fmt is not None:
            f.append(fmt)
            if smp is not None:
                f.extend(smp.split("\t"))
        yield f, d["KEY"][j], d["LINE"][j]


_SEQ_ALLELE = r"^[ACGT]+$"


def _vector_realign(rest: pa.Table, normalizer: RecordNormalizer) -> tuple[list[pa.Table], pa.Table]:
    """Left-align the biallelic ``[ACGT]+`` rows of ``rest`` in bulk; returns (done tables, still-to-do rows)."""
    ref, alt, info = _as_array(rest["REF"]), _as_array(rest["ALT"]), _as_array(rest["INFO"])
    elig = pc.and_(pc.and_(pc.match_substring_regex(ref, _SEQ_ALLELE), pc.match_substring_regex(alt, _SEQ_ALLELE)),
                   pc.invert(pc.match_substring(info, "END="))).to_numpy(zero_copy_only=False)
    if not elig.any():
        return [], rest
    chrom = _as_array(rest["CHROM"])
    done, todo = [], [rest.filter(pa.array(~elig))]
    for c in pc.unique(chrom.filter(pa.array(elig))).to_pylist():
        sel = elig & pc.equal(chrom, c).to_numpy(zero_copy_only=False)
        sub = rest.filter(pa.array(sel))
        try:
            seq = normalizer.reference.array(c)
        except KeyError:
            todo.append(sub)
            continue
        pos0 = sub["POS"].to_numpy() - 1
        ok, changed, npos0, nref, nalt = realign_biallelic(
            pos0, _as_array(sub["REF"]), _as_array(sub["ALT"]), seq, normalizer.reference.seq)
        if normalizer.reference.has_lower:
            # bases copied from a soft-masked reference keep their case in bcftools: per-record path there
            span = pc.max_element_wise(pc.binary_length(_as_array(sub["REF"])), pc.binary_length(_as_array(sub["ALT"])))
            moved = changed & (npos0 != pos0)
            soft = normalizer.reference.lower_count(np.minimum(npos0, pos0), pos0 + span.to_numpy() + 1) > 0
            ok &= ~(moved & soft)
            changed &= ok
        todo.append(sub.filter(pa.array(~ok)))
        keep = sub.filter(pa.array(ok & ~changed)).drop_columns(["LINE"])
        done.append(keep)
        if changed.any():
            idx = np.flatnonzero(changed)
            ch = sub.take(pa.array(idx)).drop_columns(["LINE"])
            ch = ch.set_column(ch.schema.get_field_index("POS"), "POS", pa.array(npos0[idx] + 1, pa.int64()))
            ch = ch.set_column(ch.schema.get_field_index("REF"), "REF", nref.take(pa.array(idx)))
            ch = ch.set_column(ch.schema.get_field_index("ALT"), "ALT", nalt.take(pa.array(idx)))
            normalizer.counts.realigned += len(idx)
            done.append(ch)
    return done, pa.concat_tables(todo)


def _rows_to_table(rows: list[list], keys: list[int]) -> pa.Table:
    def col(i):
        return [r[i] for r in rows]

    fmt = [r[8] if len(r) > 8 else None for r in rows]
    smp = ["\t".join(r[9:]) if len(r) > 9 else None for r in rows]
    return pa.Table.from_arrays([
        pa.array(col(0), pa.string()), pa.array([int(r[1]) for r in rows], pa.int64()),
        *(pa.array(col(i), pa.string()) for i in range(2, 8)),
        pa.array(fmt, pa.string()), pa.array(smp, pa.string()), pa.array(keys, pa.int64()),
    ], schema=NORMALIZED_SCHEMA)


def _outside_contigs(table: pa.Table, normalizer: RecordNormalizer) -> np.ndarray:
    """Rows whose REF reaches past the end of their contig in the reference (contigs it has)."""
    chrom = _as_array(table["CHROM"])
    end = table["POS"].to_numpy() - 1 + np.maximum(pc.binary_length(_as_array(table["REF"])).to_numpy(), 1)
    outside = np.zeros(table.num_rows, dtype=bool)
    for c in pc.unique(chrom).to_pylist():
        if c in normalizer.reference:
            rows = pc.equal(chrom, c).to_numpy(zero_copy_only=False)
            outside |= rows & (end > normalizer.reference.length(c))
    return outside


def _check_ref_bulk(table: pa.Table, mask: np.ndarray, normalizer: RecordNormalizer) -> np.ndarray:
    """Clear ``mask`` for rows whose 1-base REF differs from the reference (they take the slow path)."""
    chrom = _as_array(table["CHROM"])
    pos = table["POS"].to_numpy()
    refb = _first_bytes(_as_array(table["REF"]))
    mask = mask.copy()
    uniq = pc.unique(chrom).to_pylist()
    for c in uniq:
        rows = np.flatnonzero(pc.equal(chrom, c).to_numpy(zero_copy_only=False)) if len(uniq) > 1 else np.arange(len(mask))
        rows = rows[mask[rows]]
        if len(rows) == 0:
            continue
        try:
            seq = normalizer.reference.array(c)
        except KeyError:
            mask[rows] = False  # missing contig: the slow path rejects them with the reason
            continue
        p0 = pos[rows] - 1
        inside = (p0 >= 0) & (p0 < len(seq))
        ok = np.zeros(len(rows), dtype=bool)
        ok[inside] = seq[p0[inside]] == refb[rows[inside]]
        mask[rows[~ok]] = False
    return mask
