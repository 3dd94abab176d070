"""Several models in one service: a DNA language model and SpliceAI behind one `raygen serve` process, over
real HTTP, and the UI's SpliceAI panel through gradio_client and a real headless Chromium. SpliceAI answers
must equal Illumina's release on the shared GRCh38 records (its INFO strings)."""

from __future__ import annotations

import httpx
import pytest

from .conftest import ServeProcess

pytestmark = [pytest.mark.timeout(420), pytest.mark.shared]
#: Shared records (chr20, GRCh38) the release scored: SNVs, a deletion, an insertion, two genes.
N_RECORDS = 12


def release_records(path, n: int) -> list[tuple[dict, str]]:
    """The first ``n`` scored records of a release VCF: ({chrom, pos, ref, alt}, its SpliceAI INFO value)."""
    out, kinds = [], set()
    for line in open(path):
        if line.startswith("#"):
            continue
        f = line.rstrip("\n").split("\t")
        info = next((x[9:] for x in f[7].split(";") if x.startswith("SpliceAI=")), None)
        kind = (len(f[3]) > 1, len(f[4]) > 1)
        if info is None or "," in f[4] or (len(out) >= n - 3 and kind in kinds):
            continue  # keep the last places for the indel kinds not yet seen
        kinds.add(kind)
        out.append(({"chrom": f[0], "pos": int(f[1]), "ref": f[3], "alt": f[4]}, info))
        if len(out) == n:
            break
    return out


@pytest.fixture(scope="module")
def service(ray_session, serve_port, serve_assets, shared_data):
    model, _, _ = serve_assets
    ref = shared_data / "spliceai" / "reference.fa.gz"
    proc = ServeProcess(ray_session.address, serve_port, model, str(ref), "--model", "spliceai",
                        "--spliceai", "annotation=grch38", "--scorer-cpus", "0.5", "--ingress-cpus", "0.1")
    try:
        proc.wait_serving(timeout_s=360)
        yield proc.url, model
    finally:
        try:
            proc.interrupt()
        finally:
            proc.kill()  # where Ctrl-C did not end it: free / on the shared Serve for the next module's app


def test_models_lists_both_with_spliceai_licence(service):
    url, model = service
    models = httpx.get(url + "/v1/models", timeout=30).json()["models"]
    names = [m["model"] for m in models]
    assert names[1] == "spliceai" and len(names) == 2 and names[0] != "spliceai"
    card = models[1]
    assert "CC BY-NC 4.0" in card["licence"] and card["revision"] == "1.3.1" and card["annotation"] == "grch38"


def test_spliceai_over_http_equals_the_release(service, shared_data):
    url, _ = service
    cases = release_records(shared_data / "spliceai" / "expected.D50.vcf", N_RECORDS)
    assert {(len(c["ref"]) > 1, len(c["alt"]) > 1) for c, _ in cases} >= {(False, False), (True, False), (False, True)}
    r = httpx.post(url + "/v1/score", json={"model": "spliceai", "variants": [c for c, _ in cases]}, timeout=300)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"]["model"] == "spliceai"
    for (case, want), res in zip(cases, body["results"]):
        assert res["skip_reason"] is None and res["llr"] is None
        assert ",".join(e["info"] for e in res["spliceai"]) == want, case
        first = res["spliceai"][0]
        assert f"{first['DS_AG']:.2f}" == want.split("|")[2]  # typed fields carry the unrounded value


def test_default_model_is_the_first_and_vcf_text_picks_by_query(service):
    url, _ = service
    v = {"chrom": "20", "pos": 87761, "ref": "A", "alt": "C"}
    lm = httpx.post(url + "/v1/score", json={"variants": [v]}, timeout=120).json()
    assert isinstance(lm["results"][0]["llr"], float) and lm["results"][0]["spliceai"] is None
    text = "20\t87761\t.\tA\tC\n"
    sp = httpx.post(url + "/v1/score?model=spliceai", content=text, headers={"content-type": "text/plain"},
                    timeout=120).json()
    assert sp["results"][0]["spliceai"][0]["info"] == "C|DEFB125|0.00|0.00|0.00|0.01|6|7|-21|6"


def test_unknown_model_and_no_gene_are_answered(service):
    url, _ = service
    r = httpx.post(url + "/v1/score", json={"model": "nope", "variants": [
        {"chrom": "20", "pos": 87761, "ref": "A", "alt": "C"}]}, timeout=60)
    assert r.status_code == 422 and "spliceai" in r.json()["error"] and r.json()["detail"][0]["loc"] == ["body", "model"]
    # a record of the shared input that lies in no grch38 transcript: kept, with the reason
    r = httpx.post(url + "/v1/score", json={"model": "spliceai", "variants": [
        {"chrom": "20", "pos": 316960, "ref": "G", "alt": "A"}]}, timeout=60)
    assert r.status_code == 200 and r.json()["results"][0]["skip_reason"] == "no_gene"
    assert r.json()["results"][0]["spliceai"] == []


def test_explain_attributes_the_lm(service):
    url, _ = service
    lm = httpx.post(url + "/v1/explain", json={"chrom": "20", "pos": 87761, "ref": "A", "alt": "C", "flank": 1},
                    timeout=120).json()
    window = lm["model"]["window"]
    assert len(lm["attributions"]) == window and lm["attributions_first_pos"] == 87761 - window // 2
    assert any(abs(x) > 0 for x in lm["attributions"]) and lm["attributions_note"] is None


#: A shared record with a strong donor loss: the release's INFO entry (expected.D50.vcf).
PANEL_VARIANT, PANEL_INFO = "20:87763 CAAAG>C", "C|DEFB125|0.00|0.00|0.10|0.93|-6|4|-23|4"


def test_ui_spliceai_panel_over_gradio_client(service):
    """The UI with model spliceai: the table carries the release's INFO entry, the card the four deltas with
    their positions per gene and strand, the picture the REF/ALT tracks (not the LM's heatmap)."""
    from gradio_client import Client
    from PIL import Image
    import numpy as np

    url, model = service
    client = Client(url + "/ui/", verbose=False)
    summary, table, window, image = client.predict(PANEL_VARIANT, None, 3, "spliceai", api_name="/score")
    assert table["headers"] == ["chrom", "pos", "ref", "alt", "normalized", "spliceai", "skip_reason"]
    assert table["data"][0][5] == PANEL_INFO and table["data"][0][6] == ""
    assert "| DEFB125 | + |" in summary and "**0.93** at +4 (87,767)" in summary and "**0.10** at -23 (87,740)" in summary
    assert "CC BY-NC 4.0" in summary and window == ""
    img = np.asarray(Image.open(image).convert("RGB")).astype(int)
    assert img.shape[0] > 400 and img.shape[1] > 800
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    assert ((r > 180) & (g < 90) & (b < 90)).sum() > 300  # the ALT line (red) is drawn
    # the same page, default model (the language model): LLR columns, no SpliceAI entries
    _, lm_table, _, _ = client.predict("20:87761 A>C", None, 2, api_name="/score")
    assert lm_table["headers"][5:] == ["llr", "prob", "skip_reason"] and isinstance(lm_table["data"][0][5], float)


def test_browser_shows_the_spliceai_panel(service, tmp_path):
    """Headless Chromium opens /ui/?variant=...&model=spliceai: the card and the track plot appear."""
    from PIL import Image
    import numpy as np

    from .browser import page_shot

    url, _ = service
    page = f"{url}/ui/?variant=20:87763+CAAAG%3EC&model=spliceai"
    ready = ("document.body && document.body.innerText.includes('donor loss') && "
             "Array.from(document.images).some(i => i.complete && i.naturalWidth > 800)")
    loaded, text, shot = page_shot(page, ready, tmp_path, timeout_s=120)
    assert loaded, f"the page never showed the SpliceAI panel; it shows: {text[:800]!r}"
    assert "DEFB125" in text and "0.93" in text and PANEL_INFO in text and "acceptor gain" in text
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    assert ((r > 180) & (g < 90) & (b < 90)).sum() > 200  # the plotted ALT track, not a blank panel


def test_explain_answers_with_the_spliceai_tracks(service):
    """POST /v1/explain with model spliceai: the panel's data (what the UI draws) as JSON."""
    url, _ = service
    v = {"chrom": "20", "pos": 87763, "ref": "CAAAG", "alt": "C"}
    r = httpx.post(url + "/v1/explain", json={**v, "model": "spliceai"}, timeout=300)
    assert r.status_code == 200, r.text
    body = r.json()
    [g] = body["detail"]["genes"]
    assert body["detail"]["kind"] == "splice_tracks" and body["model"]["model"] == "spliceai"
    assert g["info"] == PANEL_INFO and g["strand"] == "+" and len(g["ref_donor"]) == len(g["alt_donor"]) == 101
    assert max(a - b for a, b in zip(g["ref_donor"], g["alt_donor"])) == pytest.approx(g["DS_DL"], abs=1e-7)
    assert body["attributions"] is None and "not a language model" in body["attributions_note"]
    bad = httpx.post(url + "/v1/explain", json={**v, "model": "nope"}, timeout=60)
    assert bad.status_code == 422 and "spliceai" in bad.json()["error"]
