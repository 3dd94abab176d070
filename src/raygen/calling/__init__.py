"""Variant calling from BAM: region shards, pileup candidates, classical and CNN genotypers, VCF output."""
