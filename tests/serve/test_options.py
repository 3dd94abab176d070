"""The serve options: validated where they are built."""

from __future__ import annotations

import pytest


def test_app_args_reject_batches_that_cannot_fill():
    from pydantic import ValidationError

    from raygen.serve.options import AppArgs

    with pytest.raises(ValidationError, match="max_ongoing_requests"):
        AppArgs(model="m", reference="r.fa", max_batch_size=64, max_ongoing_requests=8)
