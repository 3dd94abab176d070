"""Model building blocks: tokenizer, architectures, variant-effect head (TRAIN); loading, k-mer handling, tiny
test models (SCORE). Kept import-free so importing one submodule never pulls torch/transformers in.
"""
