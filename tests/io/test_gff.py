"""GTF/GFF3 -> SpliceAI gene table: round trip of the release's own rows through both formats, the
transcript choice rules, gzip input and malformed lines."""

from __future__ import annotations

import gzip

import pytest

from raygen.errors import InputError
from raygen.io.gene_table import Transcript, read_gene_table
from raygen.io.gff import read_features, to_gene_table
from raygen.models.spliceai_weights import annotation_path


@pytest.fixture(scope="module")
def release_rows() -> list[Transcript]:
    rows = read_gene_table(annotation_path("grch38"))
    return [r for r in rows if r.chrom == "20"][:25] + [r for r in rows if r.chrom == "X"][:5]


def decoy(r: Transcript) -> Transcript:
    """A shorter second transcript of the same gene (its first exon only)."""
    return Transcript(r.name, r.chrom, r.strand, r.exon_starts[0], r.exon_ends[0], r.exon_starts[:1], r.exon_ends[:1])


def write_gtf(path, rows, tag_first="MANE_Select"):
    with open(path, "w") as fh:
        fh.write("#!genome-build GRCh38\n")
        for i, r in enumerate(rows):
            gid = f"ENSG{i:011d}"
            common = f'gene_id "{gid}"; gene_name "{r.name}"; gene_type "protein_coding";'
            fh.write(f"{r.chrom}\tt\tgene\t{r.tx_start + 1}\t{r.tx_end}\t.\t{r.strand}\t.\t{common}\n")
            for k, t in enumerate((decoy(r), r)):  # the decoy comes first in the file
                tid = f"ENST{i:09d}{k}"
                tags = f' tag "basic"; tag "{tag_first}";' if t is r and tag_first else ' tag "basic";'
                attrs = f'{common} transcript_id "{tid}";{tags}'
                fh.write(f"{r.chrom}\tt\ttranscript\t{t.tx_start + 1}\t{t.tx_end}\t.\t{r.strand}\t.\t{attrs}\n")
                for s, e in zip(t.exon_starts, t.exon_ends):
                    fh.write(f"{r.chrom}\tt\texon\t{s + 1}\t{e}\t.\t{r.strand}\t.\t{attrs}\n")


def write_gff3(path, rows):
    with gzip.open(path, "wt") as fh:
        fh.write("##gff-version 3\n")
        for i, r in enumerate(rows):
            gid = f"gene:ENSG{i:011d}"
            fh.write(f"{r.chrom}\te\tgene\t{r.tx_start + 1}\t{r.tx_end}\t.\t{r.strand}\t.\tID={gid};Name={r.name}\n")
            for k, t in enumerate((decoy(r), r)):
                tid = f"transcript:ENST{i:09d}{k}"
                tag = ";tag=basic,Ensembl_canonical" if t is r else ";tag=basic"
                fh.write(f"{r.chrom}\te\tmRNA\t{t.tx_start + 1}\t{t.tx_end}\t.\t{r.strand}\t.\t"
                         f"ID={tid};Parent={gid};transcript_id=ENST{i:09d}{k}{tag}\n")
                for s, e in zip(t.exon_starts, t.exon_ends):
                    fh.write(f"{r.chrom}\te\texon\t{s + 1}\t{e}\t.\t{r.strand}\t.\tParent={tid};Name=x%3By\n")


def ordered(rows):
    order = {c: i for i, c in enumerate(dict.fromkeys(r.chrom for r in rows))}
    return sorted(rows, key=lambda r: (order[r.chrom], r.tx_start, r.tx_end, r.name))


def test_gtf_round_trip_picks_the_mane_transcript(tmp_path, release_rows):
    write_gtf(tmp_path / "a.gtf", release_rows)
    assert to_gene_table(tmp_path / "a.gtf") == ordered(release_rows)
    assert to_gene_table(tmp_path / "a.gtf", "mane") == ordered(release_rows)
    assert len(to_gene_table(tmp_path / "a.gtf", "all")) == 2 * len(release_rows)


def test_gff3_gz_round_trip_picks_the_canonical_transcript(tmp_path, release_rows):
    write_gff3(tmp_path / "a.gff3.gz", release_rows)
    assert to_gene_table(tmp_path / "a.gff3.gz") == ordered(release_rows)
    assert to_gene_table(tmp_path / "a.gff3.gz", "mane") == []  # no MANE tags in this file
    exon = next(f for f in read_features(tmp_path / "a.gff3.gz") if f.type == "exon")
    assert exon.attrs["Name"] == ["x;y"]  # percent-decoded


def test_without_tags_the_transcript_with_most_exonic_bases_wins(tmp_path, release_rows):
    multi = [r for r in release_rows if len(r.exon_starts) > 1]
    write_gtf(tmp_path / "b.gtf", multi, tag_first=None)
    assert to_gene_table(tmp_path / "b.gtf") == ordered(multi)


@pytest.mark.parametrize("text,what", [
    ("1\tt\texon\t10\n", "9 tab-separated"),
    ("1\tt\texon\tten\t20\t.\t+\t.\tgene_id \"g\";\n", "integers"),
    ("1\tt\texon\t30\t20\t.\t+\t.\tgene_id \"g\";\n", "bad interval"),
])
def test_malformed_lines_name_file_and_line(tmp_path, text, what):
    p = tmp_path / "bad.gtf"
    p.write_text("# comment\n" + text)
    with pytest.raises(InputError, match=rf"bad.gtf:2: .*{what}"):
        list(read_features(p))
