"""bcftools-norm-exact variant normalization: pure functions first, the Ray job in ``pipeline``.

Public API (1-based VCF positions everywhere):

- :func:`normalize_variant` ``(chrom, pos, ref, alts, fasta) -> (pos, ref, alts)``: left-align + trim one
  variant as ``bcftools norm -f`` does.
- :func:`realign` ``(pos, ref, alts, fetch, ...) -> (status, pos, ref, alts, new_end)``: the same on a
  ``fetch(start0, end0)`` callable, with bcftools' status codes (:class:`Status`).
- :func:`normalize_allele` ``(chrom, pos, ref, alt, reference=None) -> (pos, ref, alt)``: one biallelic pair
  for matching call sets (``raygen evaluate``, ``raygen call``): realigned, or only trimmed where the
  reference cannot be used.
- :func:`split_record` / :func:`fix_ref`: ``-m -`` and ``-c s`` on VCF text columns.
- :class:`NormalizeOptions`, :class:`Counts`: flags and counters. The job (``normalize_tables`` in-process,
  ``run_normalize`` for the whole command, Ray when it pays off) is :mod:`raygen.normalize.pipeline`, the one
  module of this package that reaches Ray (imported on its own, so these pure functions stay light).
"""

from raygen.normalize.checkref import fix_ref
from raygen.normalize.leftalign import Status, normalize_allele, normalize_variant, realign, trim_and_shift
from raygen.normalize.multiallelic import split_record
from raygen.normalize.options import Counts, NormalizeOptions, parse_multiallelics

__all__ = ["normalize_variant", "normalize_allele", "realign", "trim_and_shift", "Status", "split_record", "fix_ref",
           "NormalizeOptions", "Counts", "parse_multiallelics"]

