"""``POST /v1/explain`` over real HTTP: the in-silico mutagenesis map as JSON, equal to scoring each
substitution through ``/v1/score``."""

from __future__ import annotations

import httpx
import pytest

from .conftest import running_app, snvs

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def app(serve_port, serve_assets):
    model, ref, seqs = serve_assets
    with running_app(serve_port, "raygen_explain_test", model=model, reference=ref, token_env=None, ui=False,
                     scorer_cpus=0.25, window=32, ism_flank=3, ism_max_flank=5) as url:
        yield url, seqs


def test_explain_is_the_ism_map(app):
    url, seqs = app
    v = snvs(seqs, [200])[0]
    with httpx.Client(base_url=url, timeout=60) as c:
        r = c.post("/v1/explain", json={**v, "flank": 2})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["first_pos"] == 198 and body["ref_bases"] == seqs["chr1"][197:202] and body["rows"] == list("ACGT")
        grid = body["llr"]
        assert len(grid) == 4 and all(len(row) == 5 for row in grid)
        subs = [{"chrom": "chr1", "pos": 198 + col, "ref": b, "alt": alt}
                for col, b in enumerate(body["ref_bases"]) for alt in "ACGT" if alt != b]
        direct = {(s["pos"], s["alt"]): s["llr"] for s in c.post("/v1/score", json={"variants": subs}).json()["results"]}
        for col, b in enumerate(body["ref_bases"]):
            for row, alt in enumerate("ACGT"):
                if alt == b:
                    assert grid[row][col] is None  # the reference base itself
                else:
                    assert grid[row][col] == pytest.approx(direct[(198 + col, alt)], abs=1e-5)
        assert body["variant"]["llr"] == pytest.approx(grid["ACGT".index(v["alt"])][2], abs=1e-5)
        attr = body["attributions"]  # the tiny masked LM's gradient x input over its 32-base window
        assert len(attr) == 32 and body["attributions_first_pos"] == 200 - 16 and any(abs(x) > 0 for x in attr)
        assert "masked" in body["attributions_target"] and body["attributions_note"] is None
        assert c.post("/v1/explain", json=v).json()["first_pos"] == 197  # the server's default flank, 3
        too_far = c.post("/v1/explain", json={**v, "flank": 6})
        assert too_far.status_code == 422 and "ism_max_flank" in too_far.text
        wrong = c.post("/v1/explain", json={**v, "ref": "ACGT"[("ACGT".index(v["ref"]) + 2) % 4]})
        assert wrong.status_code == 422
