"""Readers and writers: VCF/BCF <-> Arrow, FASTA windows, Parquet, region-sharded Ray Data sources."""
