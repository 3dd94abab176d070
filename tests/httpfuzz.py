"""HTTP fuzzing of a running raygen service from its own ``/openapi.json`` (schemathesis), shared by the suite
(tests/serve/test_api.py, a few cases per route) and the long campaign (benchmarks/reliability.py --http N)."""

from __future__ import annotations

import hypothesis
import schemathesis
from schemathesis.generation import GenerationMode

#: What must never reach a client: a Python traceback, an exception class path, a server filesystem path.
LEAKS = ("Traceback", "raygen.errors", 'File "/', "site-packages", "/tmp/", "/work/", "/home/", "/root/")


def fuzz_operations(url: str, examples: int, check) -> dict[str, int]:
    """Run ``check(name, case)`` on ``examples`` schemathesis cases (valid and invalid: both generation modes) of
    every operation of ``url``/openapi.json; returns cases tried per operation (``"POST /v1/score"``). Seeded
    (derandomize). Driven through hypothesis directly: schemathesis' pytest loader does not run on pytest 9."""
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        name = f"{op.method.upper()} {op.path}"
        strategy = hypothesis.strategies.one_of(op.as_strategy(GenerationMode.POSITIVE),
                                                op.as_strategy(GenerationMode.NEGATIVE))
        _runner(name, strategy, examples, check, tried)()
    return tried


def _runner(name: str, strategy, examples: int, check, tried: dict[str, int]):
    @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(hypothesis.HealthCheck), phases=[hypothesis.Phase.generate])
    @hypothesis.given(case=strategy)
    def run(case):
        tried[name] = tried.get(name, 0) + 1
        check(name, case)

    return run


def problems(response) -> list[str]:
    """What is wrong with one answer: a 5xx other than an overload 503, a leak, an error not in the documented
    shape (``error``, ``detail``)."""
    out = []
    if response.status_code >= 500 and response.status_code != 503:
        out.append(f"status {response.status_code}")
    out += [f"leaks {leak!r}" for leak in LEAKS if leak in response.text]
    if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not {"error", "detail"} <= set(body):
            out.append("error not in the documented shape")
    return out
