"""Call-set evaluation: normalization-aware SNP/INDEL concordance against a truth VCF."""
