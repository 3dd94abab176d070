"""``raygen genes``: a GTF/GFF3 annotation -> SpliceAI's gene table (``raygen score --annotation FILE``)."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Convert a GTF or GFF3 gene annotation (GENCODE, Ensembl, RefSeq, MANE Select; plain or gzipped) into the
gene table Illumina's SpliceAI reads (`spliceai -A FILE`, `raygen score --model spliceai --annotation FILE`):
tab-separated #NAME CHROM STRAND TX_START TX_END EXON_START EXON_END, starts 0-based, ends 1-based,
one transcript per gene.

--transcripts canonical (default): the MANE Select transcript, else Ensembl_canonical, else the one with
the most exonic bases; mane: MANE Select transcripts only; all: every transcript (one SpliceAI entry each).
Example:
  raygen genes MANE.GRCh38.v1.3.ensembl_genomic.gtf.gz -o mane.genes.txt"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("genes", parents=[common], help="convert a GTF/GFF3 into SpliceAI's gene table",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="GFF", help="GTF or GFF3 file (.gz allowed)")
    p.add_argument("-o", "--output", required=True, metavar="TXT", help="gene table to write (atomically)")
    p.add_argument("--transcripts", choices=("canonical", "mane", "all"), default="canonical",
                   help="which transcripts to keep (default canonical: one per gene)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raygen.io.gene_table import write_gene_table
    from raygen.io.gff import to_gene_table

    rows = to_gene_table(args.input, args.transcripts)
    write_gene_table(rows, args.output)
    print(f"wrote {len(rows)} transcripts on {len({r.chrom for r in rows})} contigs to {args.output}")
    return 0
