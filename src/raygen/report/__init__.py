"""Pages people read: the assessment page of ``raygen assess``, the per-sample variant report of ``raygen report``
(evidence codes, scores, annotations, pictures, provenance), their figures and the PDF through headless Chromium."""
