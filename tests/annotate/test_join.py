"""The pure join (:mod:`raygen.annotate.join`): lookups keep the first record per key, render typed items,
and the query's INFO gains them only where the key matches."""

from __future__ import annotations

import pyarrow as pa

from raygen.annotate.join import annotate_info, lookup_table
from raygen.io.header import VcfHeader

HEADER = VcfHeader.from_lines([
    "##fileformat=VCFv4.2",
    '##INFO=<ID=AF,Number=A,Type=Float,Description="af">',
    '##INFO=<ID=DB,Number=0,Type=Flag,Description="db">',
    '##INFO=<ID=SIG,Number=1,Type=String,Description="sig">',
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
])


def _rows(pos, ref, alt, info) -> pa.Table:
    return pa.table({"POS": pa.array(pos, pa.int64()), "REF": pa.array(ref, pa.string()),
                     "ALT": pa.array(alt, pa.string()), "INFO": pa.array(info, pa.string())})


def test_lookup_keeps_first_record_per_key_and_renders_items():
    src = _rows([10, 20, 20, 30], ["A", "C", "C", "G"], ["G", "T", "T", "A"],
                ["AF=0.1;DB;SIG=x", "AF=.;SIG=first", "AF=0.5;SIG=second", "DBX=1;SIG="])
    lk = lookup_table(src, "s", ["AF", "DB", "SIG"], HEADER).to_pylist()
    assert lk == [
        {"POS": 10, "REF": "A", "ALT": "G", "s_AF": "s_AF=0.1", "s_DB": "s_DB", "s_SIG": "s_SIG=x"},
        {"POS": 20, "REF": "C", "ALT": "T", "s_AF": None, "s_DB": None, "s_SIG": "s_SIG=first"},  # '.' not copied
        {"POS": 30, "REF": "G", "ALT": "A", "s_AF": None, "s_DB": None, "s_SIG": None},  # DBX is not DB
    ]


def test_annotate_info_adds_on_match_only_and_replaces_own_key():
    lk = lookup_table(_rows([10, 20], ["A", "C"], ["G", "T"], ["AF=0.1;DB", "AF=0.2"]), "s", ["AF", "DB"], HEADER)
    q = _rows([10, 20, 20, 30], ["A", "C", "C", "A"], ["G", "T", "G", "G"],
              [".", "X=1;s_AF=9;Y", "s_AF=7", "."])
    info, matched = annotate_info(q, [lk])
    assert info.to_pylist() == ["s_AF=0.1;s_DB", "X=1;Y;s_AF=0.2", "s_AF=7", "."]
    assert matched == [2]


def test_two_sources_and_empty_inputs():
    a = lookup_table(_rows([5], ["T"], ["C"], ["SIG=p"]), "a", ["SIG"], HEADER)
    b = lookup_table(_rows([], [], [], pa.array([], pa.string())), "b", ["AF"], HEADER)
    info, matched = annotate_info(_rows([5], ["T"], ["C"], ["DP=3"]), [a, b])
    assert info.to_pylist() == ["DP=3;a_SIG=p"] and matched == [1, 0]
    empty, m = annotate_info(_rows([], [], [], pa.array([], pa.string())), [a])
    assert len(empty) == 0 and m == [0]


def test_wanted_keys_filter_the_source_but_keep_the_first_record():
    src = _rows([20, 10, 20], ["C", "A", "C"], ["T", "G", "T"], ["SIG=first", "SIG=other", "SIG=second"])
    wanted = _rows([20, 20, 99], ["C", "C", "A"], ["T", "T", "G"], [".", ".", "."])
    lk = lookup_table(src, "s", ["SIG"], HEADER, wanted=wanted).to_pylist()
    assert lk == [{"POS": 20, "REF": "C", "ALT": "T", "s_SIG": "s_SIG=first"}]
