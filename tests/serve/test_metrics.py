"""``GET /metrics`` scraped over real HTTP from a real Serve app and parsed with prometheus_client's own text
parser; the drift gauge against a baseline profile of the served model's scores."""

from __future__ import annotations

import json
import math

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from raygen.errors import UsageError
from raygen.eval.profile import build_profile
from raygen.scoring import Scorer
from raygen.serve.metrics import ServeMetrics, load_baseline
from raygen.variant import Variant

from .conftest import running_app, snvs

pytestmark = pytest.mark.timeout(240)
BASE_POS = list(range(100, 700, 3))  # 200 SNVs for the baseline


def _scores(model, ref, variants) -> list[dict]:
    """What a Scorer replica answers per variant (``as_dict()``: llr, prob, skip_reason)."""
    return [r.as_dict() for r in Scorer(model, ref, window=32).score_variants(variants)]


def _variants(seqs, positions):
    return [Variant(v["chrom"], v["pos"], v["ref"], v["alt"]) for v in snvs(seqs, positions)]


@pytest.fixture(scope="module")
def baseline(serve_assets, tmp_path_factory):
    """A drift profile of the served model's scores on 200 SNVs (model named as the service names it)."""
    model, ref, seqs = serve_assets
    llr = np.array([r["llr"] for r in _scores(model, ref, _variants(seqs, BASE_POS))])
    prof = build_profile({"RAYGEN_LLR | all": llr}, [model], {"file": "test"})
    path = tmp_path_factory.mktemp("profile") / "p.json"
    path.write_text(json.dumps(prof))
    return path, llr


@pytest.fixture(scope="module")
def app(serve_port, serve_assets, baseline):
    model, ref, seqs = serve_assets
    with running_app(serve_port, "raygen_metrics_test", model=model, reference=ref, token_env=None, ui=False,
                     scorer_cpus=0.25, window=32, drift_profile=str(baseline[0])) as url:
        yield url, seqs


def _scrape(url) -> dict[str, list]:
    r = httpx.get(url + "/metrics", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def _value(samples, name, **labels) -> float:
    hits = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(hits) == 1, (name, labels, samples)
    return hits[0]


def test_metrics_scraped_and_parsed(app):
    url, seqs = app
    with httpx.Client(base_url=url, timeout=60) as c:
        for chunk in (BASE_POS[:10], BASE_POS[10:30], BASE_POS[30:32]):
            assert c.post("/v1/score", json={"variants": snvs(seqs, chunk)}).status_code == 200
        bad = c.post("/v1/score", json={"variants": [{"chrom": "chrZ", "pos": 1, "ref": "A", "alt": "G"}]})
        assert bad.status_code == 422
        assert c.get("/healthz").status_code == 200
    m = _scrape(url)
    req = m["raygen_http_requests"]
    assert _value(req, "raygen_http_requests_total", route="/v1/score", method="POST", status="200") == 3
    assert _value(req, "raygen_http_requests_total", route="/v1/score", method="POST", status="422") == 1
    assert _value(req, "raygen_http_requests_total", route="/healthz", method="GET", status="200") >= 1
    lat = m["raygen_http_request_duration_seconds"]
    assert _value(lat, "raygen_http_request_duration_seconds_count", route="/v1/score") == 4
    assert _value(lat, "raygen_http_request_duration_seconds_sum", route="/v1/score") > 0
    sizes = m["raygen_request_variants"]
    assert _value(sizes, "raygen_request_variants_sum", route="/v1/score") == 32
    assert _value(sizes, "raygen_request_variants_bucket", route="/v1/score", le="10.0") == 2  # 10 and 2
    assert _value(m["raygen_variants_scored"], "raygen_variants_scored_total", model="model") == 32
    assert _value(m["raygen_score_llr"], "raygen_score_llr_count", model="model") == 32
    assert _value(m["raygen_drift_threshold_psi"], "raygen_drift_threshold_psi") == 0.25
    # 32 scores are fewer than min_drift_values: the gauge says NaN, not a number
    assert math.isnan(_value(m["raygen_drift_psi"], "raygen_drift_psi", model="model", feature="RAYGEN_LLR | all"))


def test_answers_carry_model_and_reference_provenance(app, serve_assets):
    from raygen.provenance import file_sha256

    url, seqs = app
    model, ref, _ = serve_assets
    with httpx.Client(base_url=url, timeout=60) as c:
        ok = c.post("/v1/score", json={"variants": snvs(seqs, [50])})
        bad = c.post("/v1/score", json={"variants": []})
    for r in (ok, bad):
        assert r.headers["x-raygen-model"].startswith("model sha256:") and "licence:" in r.headers["x-raygen-model"]
        assert r.headers["x-raygen-reference"] == f"ref.fa sha256:{file_sha256(ref)}"
    assert "/" not in r.headers["x-raygen-model"].split()[0]  # never the server path


def test_drift_gauge_quiet_on_a_resample_of_the_baseline(app):
    url, seqs = app
    rng = np.random.default_rng(0)
    pick = sorted(rng.choice(BASE_POS[32:], 60, replace=False).tolist())
    with httpx.Client(base_url=url, timeout=60) as c:
        assert c.post("/v1/score", json={"variants": snvs(seqs, pick)}).status_code == 200
    m = _scrape(url)
    assert _value(m["raygen_drift_values"], "raygen_drift_values", model="model", feature="RAYGEN_LLR | all") == 93
    assert _value(m["raygen_drift_psi"], "raygen_drift_psi", model="model", feature="RAYGEN_LLR | all") < 0.25


def test_drift_gauge_fires_on_shifted_scores(serve_assets, baseline):
    """The same registry code outside Serve: the served model's scores on other sequence (chr2) against a
    baseline shifted by +2 nats (what a changed input population or a miscalibrated model looks like)."""
    model, ref, seqs = serve_assets
    path, llr = baseline
    shifted = build_profile({"RAYGEN_LLR | all": llr + 2.0}, [model], {"file": "shifted"})
    m = ServeMetrics({"RAYGEN_LLR": shifted["features"]["RAYGEN_LLR | all"]})
    m.observe_scores("/v1/score", "model", _scores(model, ref, _variants(seqs, list(range(60, 1400, 7)))))
    text = m.exposition()[0].decode()
    fam = {f.name: f.samples for f in text_string_to_metric_families(text)}
    assert _value(fam["raygen_drift_psi"], "raygen_drift_psi", model="model", feature="RAYGEN_LLR | all") > 0.25
    q = ServeMetrics(load_baseline(str(path), model))
    q.observe_scores("/v1/score", "model", _scores(model, ref, _variants(seqs, BASE_POS)))
    fam = {f.name: f.samples for f in text_string_to_metric_families(q.exposition()[0].decode())}
    assert _value(fam["raygen_drift_psi"], "raygen_drift_psi", model="model", feature="RAYGEN_LLR | all") < 0.01


def test_profile_of_another_model_is_refused(baseline, tmp_path):
    path, _ = baseline
    with pytest.raises(UsageError, match="made for model\\(s\\) model but the service runs other"):
        load_baseline(str(path), "/srv/models/other")
