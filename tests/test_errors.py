"""Our errors raised inside Ray come back as themselves, with their own message."""

from __future__ import annotations

import pytest

from raygen.errors import InputError, raygen_cause


def test_raygen_cause_is_the_original_error(ray_session):
    """Ray's wrapper of an InputError is an InputError too, whose text carries Ray's traceback and the class
    name ("raygen.errors.InputError: ..."); raygen_cause gives the original, whose text is the message."""
    import ray

    @ray.remote(num_cpus=0)
    def fails():
        raise InputError("BAM 'x.bam' is truncated")

    with pytest.raises(Exception) as exc:
        ray.get(fails.remote())
    cause = raygen_cause(exc.value)
    assert type(cause) is InputError and str(cause) == "BAM 'x.bam' is truncated"
    assert raygen_cause(ValueError("not ours")) is None
