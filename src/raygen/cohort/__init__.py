"""Cohort normalization: copy-number coverage, a panel-of-normals reference, copy ratios and segments in
CNVkit's file formats (``raygen cohort ...``). Pure numpy modules; Ray only in :mod:`.pipeline`."""
