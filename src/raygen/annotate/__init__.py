"""Annotation joins (``raygen annotate``): variants joined to annotation sources on the normalized allele key.

:mod:`raygen.annotate.sources` (parse ``NAME=FILE[:FIELDS]``, normalize a source once into cached Parquet,
read slices back), :mod:`raygen.annotate.join` (the pure Arrow join), :mod:`raygen.annotate.pipeline` (the
command end to end, in-process or as a Ray Data job sharded by region).
"""
