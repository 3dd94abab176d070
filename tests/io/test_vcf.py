"""VCF text tables: round trips over every shared VCF, every input/output format, and bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pysam
import pytest

from raygen.errors import InputError, UsageError
from raygen.io.header import PASS_LINE
from raygen.io.vcf import (
    iter_text_batches,
    read_header,
    read_text_table,
    write_rejects,
    write_vcf,
)
from raygen.schema import REJECTS_SCHEMA, TEXT_SCHEMA


def _record_lines(path: Path) -> list[str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        return [line.rstrip("\n") for line in fh if not line.startswith("#")]


def _header_lines(path: Path) -> list[str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        return [line.rstrip("\n") for line in fh if line.startswith("#")]


def _shared_vcfs(shared: Path) -> list[Path]:
    return sorted((shared / "bcftools_norm").glob("*.vcf")) + sorted((shared / "giab_chr20").glob("*.vcf.gz"))


def test_round_trip_every_shared_vcf(shared_data, tmp_path):
    files = _shared_vcfs(shared_data)
    assert len(files) >= 20
    for src in files:
        header, records, rejects = read_text_table(src)
        assert records.schema == TEXT_SCHEMA
        assert rejects.num_rows == 0, (src, rejects.to_pylist())
        want = _record_lines(src)
        assert records.num_rows == len(want), src
        out = tmp_path / (src.name.replace(".vcf.gz", "").replace(".vcf", "") + ".vcf")
        write_vcf(header, records, out)
        assert _record_lines(out) == want, src
        # The source's header, with PASS declared second as htslib writes it (its own PASS line dropped).
        src_head = _header_lines(src)
        assert _header_lines(out) == [src_head[0], PASS_LINE, *(x for x in src_head[1:] if not x.startswith(
            ("##FILTER=<ID=PASS,", "##FILTER=<ID=PASS>")))], src
        # LINE is the 1-based line number in the source file
        first = records.slice(0, 1).to_pylist()[0]
        assert first["LINE"] == len(_header_lines(src)) + 1


def test_header_parsed(shared_data):
    h = read_header(shared_data / "giab_chr20" / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz")
    assert h.samples == ["INTEGRATION"]
    assert h.format["GT"]["Number"] == "1"
    assert h.contigs["chr20"] == 63025520
    assert h.to_text().endswith("\tFORMAT\tINTEGRATION\n")
    h.add_info("RAYGEN_LLR", "A", "Float", 'Log-likelihood ratio "ALT vs REF"')
    assert h.info["RAYGEN_LLR"] == {"ID": "RAYGEN_LLR", "Number": "A", "Type": "Float",
                                    "Description": 'Log-likelihood ratio "ALT vs REF"'}
    h.add_info("RAYGEN_LLR", "A", "Float", "replaced")
    assert sum(m.startswith("##INFO=<ID=RAYGEN_LLR,") for m in h.meta) == 1
    # pysam (htslib) accepts our added line
    text = h.to_text()
    assert '##INFO=<ID=RAYGEN_LLR,Number=A,Type=Float,Description="replaced">' in text


@pytest.mark.parametrize("suffix", [".vcf", ".vcf.gz", ".bcf"])
def test_output_formats_indexed_and_fetchable(shared_data, tmp_path, suffix):
    src = shared_data / "giab_chr20" / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"
    header, records, _ = read_text_table(src)
    header.add_info("RAYGEN_TEST", "1", "Integer", "test field")
    out = tmp_path / f"out{suffix}"
    # stream: an iterable of batches
    write_vcf(header, (records.slice(i, 50) for i in range(0, records.num_rows, 50)), out)
    assert out.exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    with pysam.VariantFile(str(out)) as vf:
        assert "RAYGEN_TEST" in vf.header.info
        assert sum(1 for _ in vf) == records.num_rows
    if suffix == ".vcf.gz":
        assert Path(str(out) + ".tbi").exists()
    if suffix == ".bcf":
        assert Path(str(out) + ".csi").exists()
    if suffix != ".vcf":
        with pysam.VariantFile(str(out)) as vf:
            fetched = [r.pos for r in vf.fetch("chr20", 10_000_000, 10_010_000)]
        want = [p for p in records["POS"].to_pylist() if 10_000_000 < p <= 10_010_000]
        assert fetched == want and fetched
        # and our own region reader agrees (LINE null for region reads)
        _, reg, _ = read_text_table(out, region="chr20:10000001-10010000")
        assert reg["POS"].to_pylist() == want
        assert reg["LINE"].null_count == reg.num_rows
    # reading our output back gives the same records
    _, back, rej = read_text_table(out)
    assert rej.num_rows == 0
    cols = ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", "SAMPLES"]
    if suffix == ".bcf":  # htslib re-encodes; compare what pysam renders of the original
        with pysam.VariantFile(str(src)) as vf:
            want_lines = [str(r).rstrip("\n") for r in vf]
        assert ["\t".join(map(str, row.values())) for row in back.select(cols).to_pylist()] == want_lines
    else:
        assert back.select(cols).equals(records.select(cols))


def test_csi_for_long_contigs(tmp_path):
    from raygen.io.header import VcfHeader

    h = VcfHeader.from_lines(["##fileformat=VCFv4.2", "##contig=<ID=big,length=900000000>",
                              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"])
    src = tmp_path / "in.vcf"
    src.write_text(h.to_text() + "big\t5\t.\tA\tC\t.\t.\t.\nbig\t700000000\t.\tG\tT\t.\t.\t.\n")
    _, recs, _ = read_text_table(src)
    assert recs["FORMAT"].null_count == 2 and recs["SAMPLES"].null_count == 2
    out = tmp_path / "out.vcf.gz"
    write_vcf(h, recs, out)
    assert Path(str(out) + ".csi").exists() and not Path(str(out) + ".tbi").exists()
    with pysam.VariantFile(str(out)) as vf:
        assert [r.pos for r in vf.fetch("big", 600_000_000, 800_000_000)] == [700_000_000]
    # our region readers find the .csi too (pysam.TabixFile alone looks only for .tbi)
    _, reg, _ = read_text_table(out, region="big:600000000-800000000")
    assert reg["POS"].to_pylist() == [700_000_000]
    from raygen.io.blocks import plan_shards, read_shard

    shards = plan_shards(out, shard_bp=100_000_000)
    assert len(shards) == 9
    assert sorted(p for s in shards for b in read_shard(str(out), h, s) for p in b["POS"].to_pylist()) == [5, 700_000_000]


def test_inputs_plain_gzip_bgzip_bcf_agree(shared_data, tmp_path):
    src = shared_data / "bcftools_norm" / "norm.split.vcf"
    _, plain, _ = read_text_table(src)
    gz = tmp_path / "plain_gzip.vcf.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    bgz = tmp_path / "b.vcf.gz"
    pysam.tabix_compress(str(src), str(bgz))
    for other in (gz, bgz):
        _, t, rej = read_text_table(other)
        assert rej.num_rows == 0
        assert t.equals(plain)
    with pytest.raises(InputError, match="index"):
        read_text_table(gz, region="1:1-100")


MALFORMED = (
    "##fileformat=VCFv4.2\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
    "1\t10\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n"          # line 3 ok
    "1\t11\t.\tA\tC\t.\tPASS\t.\tGT\n"               # line 4 too few columns
    "1\tx12\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\n"         # line 5 non-numeric POS
    "1\t13\t.\tA1\tC\t.\tPASS\t.\tGT\t0/1\n"         # line 6 bad REF
    "1\t14\t.\tA\tC;G\t.\tPASS\t.\tGT\t0/1\n"        # line 7 bad ALT
    "\n"                                             # line 8 blank: skipped, not a record
    "1\t15\t.\tA\tC,<DEL>,*\t9.5\tPASS\t.\tGT\t0/1\n"  # line 9 ok
    "1\t16\t.\tA\tC\tabc\tPASS\t.\tGT\t0/1\textra\n"  # line 10 too many columns
    "1\t17\t.\tA\tC\tqq\tPASS\t.\tGT\t0/1\n"          # line 11 bad QUAL
    "1\t18\t.\tG\tT\t.\tPASS\t.\tGT\t1/1"             # line 12 ok, no final newline
)


def test_malformed_lines_rejected_with_file_line_reason(tmp_path):
    src = tmp_path / "bad.vcf"
    src.write_text(MALFORMED)
    _, recs, rej = read_text_table(src)
    assert rej.schema == REJECTS_SCHEMA
    assert recs["POS"].to_pylist() == [10, 15, 18]
    assert recs["LINE"].to_pylist() == [3, 9, 12]
    got = {r["LINE"]: r["REASON"] for r in rej.to_pylist()}
    assert sorted(got) == [4, 5, 6, 7, 10, 11]
    assert "number of columns" in got[4] and "number of columns" in got[10]
    assert "POS" in got[5] and "REF" in got[6] and "ALT" in got[7] and "QUAL" in got[11]
    assert set(rej["SOURCE"].to_pylist()) == {str(src)}
    assert rej.filter(pa.compute.equal(rej["LINE"], 5))["TEXT"][0].as_py() == "1\tx12\t.\tA\tC\t.\tPASS\t.\tGT\t0/1"
    n_records = sum(1 for line in MALFORMED.splitlines() if line and not line.startswith("#"))
    assert recs.num_rows + rej.num_rows == n_records
    out = tmp_path / "rej.tsv"
    assert write_rejects(rej, out) == 6
    lines = out.read_text().splitlines()
    assert lines[0] == "SOURCE\tLINE\tREASON\tTEXT" and len(lines) == 7
    assert lines[2].split("\t")[:2] == [str(src), "5"]


def test_truncated_bgzf_reports_break(tmp_path):
    body = "".join(f"1\t{i}\t.\tA\tC\t.\t.\tDP={i}\n" for i in range(1, 200_001))
    src = tmp_path / "full.vcf"
    src.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + body)
    bgz = tmp_path / "full.vcf.gz"
    pysam.tabix_compress(str(src), str(bgz))
    cut = tmp_path / "cut.vcf.gz"
    data = bgz.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    _, recs, rej = read_text_table(cut)
    assert 0 < recs.num_rows < 200_000
    assert rej.num_rows == 1
    r = rej.to_pylist()[0]
    assert r["SOURCE"] == str(cut) and "truncated" in r["REASON"]
    assert r["LINE"] == recs.num_rows + 3  # first missing line
    assert recs["POS"].to_pylist() == list(range(1, recs.num_rows + 1))


def test_batches_stream_in_order(tmp_path):
    body = "".join(f"1\t{i}\t.\tA\tC\t.\t.\t.\n" for i in range(1, 1001))
    src = tmp_path / "s.vcf"
    src.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + body)
    batches = list(iter_text_batches(src, batch_rows=300))
    assert [b.num_rows for b, _ in batches] == [300, 300, 300, 100]
    assert pa.concat_tables([b for b, _ in batches])["LINE"].to_pylist() == list(range(3, 1003))


def test_bad_inputs_and_outputs(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_header(tmp_path / "nope.vcf")
    txt = tmp_path / "x.vcf"
    txt.write_text("hello\n")
    with pytest.raises(InputError, match="#CHROM"):
        read_header(txt)
    h_src = tmp_path / "ok.vcf"
    h_src.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t1\t.\tA\tC\t.\t.\t.\n")
    h, recs, _ = read_text_table(h_src)
    with pytest.raises(UsageError, match="suffix|format"):
        write_vcf(h, recs, tmp_path / "out.txt")


_CHROM_LINE = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"


@pytest.mark.parametrize("data,message", [
    # issue 19 (a new tester's corpus): the first two exited 0 with an output htslib cannot read
    (f"##fileformat=VCFv4.2\n##INFO=<ID=X\x00,Number=1,Type=Integer>\n{_CHROM_LINE}\n".encode(),
     "line 2: header line holds the control character '\\\\x00'"),
    (f"##fileformat=VCFv4.2\n{_CHROM_LINE}\tFORMAT\n1\t1\t.\tA\tC\t.\t.\t.\tGT\n".encode(),
     "FORMAT column but no sample columns"),
    (f"\ufeff##fileformat=VCFv4.2\n{_CHROM_LINE}\n".encode(), "line 1 starts with a UTF-8 byte-order mark"),
], ids=["nul_in_header", "format_without_samples", "bom"])
def test_headers_htslib_cannot_read_are_refused(tmp_path, data, message):
    path = tmp_path / "h.vcf"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        read_header(path)


def test_unsorted_output_fails_cleanly_and_csi_from_positions(tmp_path):
    from raygen.errors import RaygenError
    from raygen.io.header import VcfHeader

    h = VcfHeader.from_lines(["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"])
    src = tmp_path / "u.vcf"
    src.write_text(h.to_text() + "1\t50\t.\tA\tC\t.\t.\t.\n1\t10\t.\tG\tT\t.\t.\t.\n")
    _, recs, _ = read_text_table(src)
    out = tmp_path / "u.vcf.gz"
    with pytest.raises(RaygenError, match="sorted"):
        write_vcf(h, recs, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u.vcf"]  # nothing half-written
    # no contig lengths in the header, but a record beyond 2^29: CSI chosen from the data; stale .tbi removed
    Path(str(out) + ".tbi").write_bytes(b"stale")
    src.write_text(h.to_text() + "1\t10\t.\tG\tT\t.\t.\t.\n1\t600000000\t.\tA\tC\t.\t.\t.\n")
    _, recs, _ = read_text_table(src)
    write_vcf(h, recs, out)
    assert Path(str(out) + ".csi").exists() and not Path(str(out) + ".tbi").exists()
    with pysam.VariantFile(str(out)) as vf:
        assert [r.pos for r in vf.fetch("1", 599_999_000, 600_000_100)] == [600_000_000]


def test_bgzf_cut_at_block_boundary_reported(tmp_path):
    body = "".join(f"1\t{i}\t.\tA\tC\t.\t.\tDP={i}\n" for i in range(1, 50_001))
    src = tmp_path / "full.vcf"
    src.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + body)
    bgz = tmp_path / "full.vcf.gz"
    pysam.tabix_compress(str(src), str(bgz))
    _, recs, rej = read_text_table(bgz)
    assert recs.num_rows == 50_000 and rej.num_rows == 0
    # cut at a BGZF block boundary: a clean gzip stream, only the EOF marker is gone
    data = bgz.read_bytes()
    bounds, off = [], 0
    while off < len(data):
        off += int.from_bytes(data[off + 16 : off + 18], "little") + 1
        bounds.append(off)
    assert len(bounds) > 3
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: bounds[1]])
    _, recs, rej = read_text_table(cut)
    assert 0 < recs.num_rows < 50_000
    assert rej.num_rows == 1 and "end-of-file marker is missing" in rej["REASON"][0].as_py()
    assert rej["LINE"][0].as_py() == recs.num_rows + 3


def test_truncated_bcf_reports_break(tmp_path):
    body = "".join(f"1\t{i}\t.\tA\tC\t.\t.\tDP={i}\n" for i in range(1, 100_001))
    src = tmp_path / "full.vcf"
    src.write_text("##fileformat=VCFv4.2\n##contig=<ID=1,length=1000000>\n"
                   '##INFO=<ID=DP,Number=1,Type=Integer,Description="d">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + body)
    h, recs, _ = read_text_table(src)
    bcf = write_vcf(h, recs, tmp_path / "full.bcf")
    cut = tmp_path / "cut.bcf"
    data = bcf.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    _, got, rej = read_text_table(cut)
    assert 0 < got.num_rows < 100_000
    assert rej.num_rows == 1 and "truncated" in rej["REASON"][0].as_py()
    assert rej["SOURCE"][0].as_py() == str(cut)
    assert rej["LINE"][0].as_py() == got["LINE"][-1].as_py() + 1
    assert got["POS"].to_pylist() == list(range(1, got.num_rows + 1))


def test_header_structured_lines_and_edits():
    from raygen.io.header import VcfHeader, parse_structured

    assert parse_structured('ID=X,Number=1,Type=String,Description="a, \\"b\\" c",Source=me') == {
        "ID": "X", "Number": "1", "Type": "String", "Description": 'a, "b" c', "Source": "me"}
    h = VcfHeader.from_lines([
        "##fileformat=VCFv4.3", "##contig=<ID=chr1,length=1000>", "##contig=<ID=chrX>",
        '##FILTER=<ID=q10,Description="Quality below 10">', '##INFO=<ID=DP,Number=1,Type=Integer,Description="d">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ])
    assert h.contigs == {"chr1": 1000, "chrX": None}
    assert h.filters == {"PASS": "All filters passed", "q10": "Quality below 10"}  # PASS: htslib's, always there
    assert h.samples == [] and not h.has_format_column and h.columns[-1] == "INFO"
    h.add_contig("chrX", 500)
    h.add_format("AD", "R", "Integer", "Allelic depths")
    h.add_meta("##raygen_command=raygen normalize in.vcf")
    assert h.contigs["chrX"] == 500 and sum("ID=chrX" in m for m in h.meta) == 1
    # new INFO lines go next to the other INFO lines, not at the end
    h.add_info("RAYGEN_LLR", "A", "Float", "score")
    assert h.meta.index('##INFO=<ID=RAYGEN_LLR,Number=A,Type=Float,Description="score">') == \
        h.meta.index('##INFO=<ID=DP,Number=1,Type=Integer,Description="d">') + 1
    assert h.to_text().splitlines()[-2] == "##raygen_command=raygen normalize in.vcf"
    with pytest.raises(InputError, match="CHROM"):
        VcfHeader.from_lines(["##fileformat=VCFv4.2", "#CHROM\tPOS\tID"])
