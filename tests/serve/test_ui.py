"""The Gradio UI at /ui, in the same Serve app as the API: through gradio_client and a real headless Chromium."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from .browser import chromium, page_shot
from .conftest import running_app, snvs

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def ui_app(serve_port, serve_assets):
    model, ref, seqs = serve_assets
    with running_app(serve_port, "raygen_ui_test", model=model, reference=ref, token_env=None, ism_flank=10,
                     scorer_cpus=0.5) as url:
        yield url, seqs


def api_llr(url: str, variant: dict) -> float:
    r = httpx.post(url + "/v1/score", json={"variants": [variant]}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["results"][0]["llr"]


def test_ui_and_docs_answer(ui_app):
    url, _ = ui_app
    ui = httpx.get(url + "/ui/", timeout=30)
    assert ui.status_code == 200 and "<html" in ui.text.lower()
    assert httpx.get(url + "/docs", timeout=30).status_code == 200


def test_gradio_client_scores_like_the_api(ui_app):
    from gradio_client import Client

    url, seqs = ui_app
    v = snvs(seqs, [1200])[0]
    client = Client(url + "/ui/", verbose=False)
    summary, table, window, image = client.predict(f"{v['chrom']}:{v['pos']} {v['ref']}>{v['alt']}", None, 6,
                                                   api_name="/score")
    row = table["data"][0]
    assert row[:4] == [v["chrom"], v["pos"], v["ref"], v["alt"]]
    assert row[5] == pytest.approx(api_llr(url, v), abs=1e-6)  # same backend, same number
    assert "LLR =" in summary and "already normalized" in summary
    assert f">{v['ref']}</span>" in window and f"&rarr;{v['alt']}" in window
    attr = httpx.post(url + "/v1/explain", json={**v, "flank": 1}, timeout=60).json()  # the strip: the API's values
    first, vals = attr["attributions_first_pos"], attr["attributions"]
    assert "Attributions: gradient x input" in window and window.count("title='") == len(vals) + 2  # + REF, ALT
    assert f"title='{first + len(vals) // 2}: {vals[len(vals) // 2]:+.3g}'" in window
    from PIL import Image

    img = np.asarray(Image.open(image).convert("RGB"))
    assert img.shape[0] > 150 and img.shape[1] > 400 and img.std() > 20  # a real picture, not a blank


def test_gradio_client_vcf_upload_and_normalization(ui_app, tmp_path):
    from gradio_client import Client, handle_file

    from .conftest import REPEAT, REPEAT_POS

    url, seqs = ui_app
    pos = REPEAT_POS + len(REPEAT) - 3  # delete the last "CA" of the repeat, written right-shifted
    anchor = seqs["chr1"][pos - 1]
    vcf = tmp_path / "small.vcf"
    v = snvs(seqs, [800])[0]
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n"
                   f"chr1\t{pos}\t.\t{anchor}CA\t{anchor}\n"
                   f"{v['chrom']}\t{v['pos']}\t.\t{v['ref']}\t{v['alt']}\n")
    client = Client(url + "/ui/", verbose=False)
    summary, table, window, image = client.predict("", handle_file(str(vcf)), 3, api_name="/score")
    rows = table["data"]
    assert len(rows) == 2
    assert rows[0][4].startswith("chr1:") and int(rows[0][4].split(":")[1]) < pos  # left-aligned
    assert rows[0][5] is not None and rows[1][5] == pytest.approx(api_llr(url, v), abs=1e-6)
    assert "left-aligned" in summary


def test_ui_calls_a_ref_facing_n_a_mismatch(ui_app):
    """The one REF rule in the UI: chr2 starts with 50 N, so REF A at chr2:10 is a mismatch (one line)."""
    from gradio_client import Client

    url, _ = ui_app
    client = Client(url + "/ui/", verbose=False)
    with pytest.raises(Exception) as exc:
        client.predict("chr2:10 A>G", None, 2, api_name="/score")
    assert "mismatch" in str(exc.value) and "chr2:10" in str(exc.value)


def test_browser_renders_a_scored_variant(ui_app, tmp_path):
    """Real headless Chromium opens /ui/?variant=...; the page scores it on load; the screenshot shows it."""
    from PIL import Image

    url, seqs = ui_app
    v = snvs(seqs, [1500])[0]
    page = f"{url}/ui/?variant={v['chrom']}:{v['pos']}+{v['ref']}%3E{v['alt']}"
    ready = ("document.body && document.body.innerText.includes('LLR =') && "
             "Array.from(document.images).some(i => i.complete && i.naturalWidth > 400)")
    loaded, text, shot = page_shot(page, ready, tmp_path)
    assert loaded, f"the page never showed a scored variant; it shows: {text[:500]!r}"
    assert f"{v['chrom']}:{v['pos']}:{v['ref']}>{v['alt']}" in text and "In-silico mutagenesis" in text
    assert "Attributions: gradient x input" in text  # the strip under the sequence
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert img.shape[:2] == (1600, 1280)
    colours = len(np.unique(img.reshape(-1, 3) // 8, axis=0))
    assert img.std() > 15 and colours > 200, (img.std(), colours)  # text, widgets and a heatmap, not blank
    # The heatmap's diverging colours (strong reds and blues) only exist once the variant was scored.
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    red = ((r > 150) & (g < 90) & (b < 90)).sum()
    blue = ((b > 120) & (r < 80) & (g < 120)).sum()
    assert red > 500 and blue > 500, (red, blue)


def test_docs_render_offline(ui_app, tmp_path):
    """/docs in headless Chromium that can reach nothing but loopback: Swagger UI loads and lists the routes."""
    from .browser import Chromium

    exe = chromium()
    url, _ = ui_app
    (tmp_path / "profile").mkdir()
    browser = Chromium(exe, tmp_path / "profile", offline=True)
    try:
        cdn = browser.open_and_wait("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css",
                                    "document.readyState === 'complete'", timeout_s=30)
        cdn_text = browser.evaluate("document.body ? document.body.innerText : ''")
        loaded = browser.open_and_wait(url + "/docs", "document.querySelectorAll('.opblock').length >= 4",
                                       timeout_s=60)
        ops = browser.evaluate("Array.from(document.querySelectorAll('.opblock-summary-path')).map(e => e.innerText)")
        shot = browser.screenshot(tmp_path / "docs.png")
    finally:
        browser.close()
    assert not (cdn and "swagger" in cdn_text.lower())  # the CDN is out of reach in this browser
    assert loaded, f"Swagger UI never listed the operations offline: {ops}"
    assert {"/v1/score", "/v1/normalize", "/v1/models", "/healthz"} <= {o.replace("\u200b", "") for o in ops}, ops
    assert shot.stat().st_size > 20_000


def test_ui_names_the_model_not_where_it_lives(ui_app, serve_assets):
    from pathlib import Path

    from gradio_client import Client

    url, seqs = ui_app
    model, _, _ = serve_assets
    v = snvs(seqs, [1300])[0]
    summary = Client(url + "/ui/", verbose=False).predict(f"{v['chrom']}:{v['pos']} {v['ref']}>{v['alt']}", None, 2,
                                                          api_name="/score")[0]
    assert f"model: `{Path(model).name}`" in summary and str(Path(model).resolve().parent) not in summary


def test_ui_input_errors_are_one_log_line(serve_assets, caplog, capfd):
    """A typo in the UI is the user's: one log line saying what, no Gradio traceback in the server's log."""
    import logging

    from gradio_client import Client

    from raygen.config import ServeConfig
    from raygen.io.fasta import Reference
    from raygen.serve.ui import build_ui

    from .conftest import free_port

    model, ref, _ = serve_assets
    # The error comes before any scoring: the UI runs here without a model behind it.
    demo = build_ui(None, Reference(ref), ServeConfig(model=model, reference=ref))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with caplog.at_level(logging.INFO, logger="raygen.serve.ui"):
            with pytest.raises(Exception, match="CHROM:POS REF>ALT"):
                Client(f"http://127.0.0.1:{port}/", verbose=False).predict("not a variant", None, 2, api_name="/score")
        err = capfd.readouterr().err
    finally:
        demo.close()
    lines = [r for r in caplog.records if r.name == "raygen.serve.ui"]
    assert len(lines) == 1 and lines[0].msg["event"] == "ui_input_error" and "not a variant" in lines[0].msg["msg"]
    assert "Traceback" not in err, err[-2000:]
