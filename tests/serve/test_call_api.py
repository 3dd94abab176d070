"""POST /v1/call and the UI's calling tab over real loopback HTTP, on the shared GIAB BAM."""

from __future__ import annotations

import os
import shutil

import httpx
import numpy as np
import pytest

from .conftest import running_app

pytestmark = pytest.mark.timeout(300)

BAM = "NA12878_S1.chr20.10_10p1mb.bam"
FA = "ucsc.hg19.chr20.unittest.fasta.gz"
REGION = "chr20:10000000-10020000"


def _header_only_bam(path, contigs: dict[str, int]) -> None:
    import pysam

    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": c, "LN": n} for c, n in contigs.items()]}
    with pysam.AlignmentFile(str(path), "wb", header=header):
        pass
    pysam.index(str(path))


@pytest.fixture(scope="module")
def call_app(serve_port, serve_assets, shared_data, tmp_path_factory):
    """The app with a data directory holding the GIAB BAM (a copy, in the test's temp dir) and, beside it,
    a directory the server must not read."""
    giab = shared_data / "giab_chr20"
    root = tmp_path_factory.mktemp("call_app")
    data, outside = root / "data", root / "outside"
    data.mkdir()
    outside.mkdir()
    for suffix in ("", ".bai"):
        shutil.copy(giab / (BAM + suffix), data / ("na12878.bam" + suffix))
        shutil.copy(giab / (BAM + suffix), outside / ("secret.bam" + suffix))
    os.symlink(outside / "secret.bam", data / "escape.bam")
    # What a real data directory may also hold: a *.bam that is no BAM (sorted first, so the UI tries it),
    # a BAM cut off halfway with its (valid) index, and a BAM of another assembly's contig names.
    (data / "broken.bam").write_bytes(b"this is not a BAM\n" * 64)
    (data / "broken.bam.bai").write_bytes(b"nor an index")
    whole = (giab / BAM).read_bytes()
    (data / "truncated.bam").write_bytes(whole[: len(whole) // 2])
    shutil.copy(giab / (BAM + ".bai"), data / "truncated.bam.bai")
    _header_only_bam(data / "other_contigs.bam", {"1": 63_025_520})
    model, _, _ = serve_assets
    with running_app(serve_port, "raygen_call_test", model=model, reference=str(giab / FA), token_env=None,
                     scorer_cpus=0.25, caller_cpus=0.25, data_dirs=[str(data)], max_call_bp=50_000, ism_flank=4) as url:
        yield url, data, outside, giab


def test_calls_over_http_match_the_pure_caller(call_app):
    from raygen.calling.shard import call_region

    url, data, _, giab = call_app
    r = httpx.post(url + "/v1/call", json={"bam": "na12878.bam", "region": REGION}, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = call_region(str(data / "na12878.bam"), str(giab / FA), REGION)
    assert [(c["pos"], c["ref"], c["alt"], c["gt"], c["filter"]) for c in body["calls"]] == \
        [(c.pos, c.ref, c.alt, f"{c.gt[0]}/{c.gt[1]}", c.filter) for c in expected]
    assert body["region"] == "chr20:10000000-10020000" and body["model"] == "classical"
    assert sum(body["counts"].values()) == len(body["calls"]) and body["counts"].get("PASS", 0) >= 5
    passed = httpx.post(url + "/v1/call", json={"bam": str(data / "na12878.bam"), "region": REGION,
                                                "pass_only": True}, timeout=120).json()
    assert len(passed["calls"]) == body["counts"]["PASS"]
    assert all(c["filter"] == "PASS" for c in passed["calls"])


def test_vcf_text_on_request_matches_json_and_giab_truth(call_app, tmp_path):
    """format=vcf gives VCF 4.2 text with the JSON's records; inside the GIAB confident BED it has no error."""
    import pysam

    from raygen.eval.concordance import evaluate_vcfs

    url, _, _, giab = call_app
    r = httpx.post(url + "/v1/call", json={"bam": "na12878.bam", "region": REGION, "format": "vcf"}, timeout=120)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("##fileformat=VCFv4.2")
    out = tmp_path / "calls.vcf"
    out.write_text(r.text)
    js = httpx.post(url + "/v1/call", json={"bam": "na12878.bam", "region": REGION}, timeout=120).json()
    with pysam.VariantFile(str(out)) as vf:
        assert list(vf.header.samples) == ["NA12878"]
        recs = [(x.pos, x.ref, x.alts[0], ";".join(x.filter.keys()), x.samples[0]["GT"]) for x in vf]
    assert recs == [(c["pos"], c["ref"], c["alt"], c["filter"], tuple(int(g) for g in c["gt"].split("/")))
                    for c in js["calls"]]
    rep = evaluate_vcfs(giab / "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz", out,
                        confident_bed=giab / "test_nist.b37_chr20_100kbp_at_10mb.bed", reference=giab / FA,
                        region=("chr20", 9_999_999, 10_020_000))
    c = rep.counts["ALL"]
    assert c.truth_total >= 40 and (c.fp, c.fn) == (0, 0), rep.as_dict()


@pytest.mark.parametrize("bam, status", [
    ("escape.bam", 403),                 # a symlink inside the data dir that leads out
    ("../outside/secret.bam", 403),      # `..` traversal
    ("OUTSIDE_ABS", 403),                # an absolute path outside
    ("/etc/passwd", 403),
    ("missing.bam", 404),
])
def test_paths_outside_the_data_dir_are_refused(call_app, bam, status):
    url, _, outside, _ = call_app
    bam = str(outside / "secret.bam") if bam == "OUTSIDE_ABS" else bam
    r = httpx.post(url + "/v1/call", json={"bam": bam, "region": REGION}, timeout=60)
    assert r.status_code == status, r.text
    assert "Traceback" not in r.text and r.json()["error"]
    assert httpx.get(url + "/healthz", timeout=30).status_code == 200  # still serving


def test_bad_call_requests(call_app):
    url, *_ = call_app
    too_big = httpx.post(url + "/v1/call", json={"bam": "na12878.bam", "region": "chr20:1-60000"}, timeout=60)
    assert too_big.status_code == 413 and "50000" in too_big.json()["error"]
    bad_region = httpx.post(url + "/v1/call", json={"bam": "na12878.bam", "region": "chr20:x-y"}, timeout=60)
    assert bad_region.status_code == 422 and bad_region.json()["detail"][0]["loc"] == ["body", "region"]
    unknown = httpx.post(url + "/v1/call", json={"bam": "na12878.bam", "region": "chr7:1-100"}, timeout=60)
    assert unknown.status_code == 422 and "chr7" in unknown.json()["error"]
    missing_field = httpx.post(url + "/v1/call", json={"region": REGION}, timeout=60)
    assert missing_field.status_code == 422 and missing_field.json()["detail"][0]["loc"] == ["body", "bam"]


def test_ui_calling_tab_shows_calls_and_a_pileup(call_app):
    from gradio_client import Client
    from PIL import Image

    url, data, _, _ = call_app
    api = httpx.post(url + "/v1/call", json={"bam": "na12878.bam", "region": REGION}, timeout=120).json()
    client = Client(url + "/ui/", verbose=False)
    bam = str((data / "na12878.bam").resolve())
    summary, table, choice, image = client.predict(bam, REGION, False, api_name="/call")
    assert len(table["data"]) == len(api["calls"]) and f"{len(api['calls'])} records" in summary
    first_pass = next(c for c in api["calls"] if c["filter"] == "PASS")
    assert table["data"][[r[1] for r in table["data"]].index(first_pass["pos"])][10] == "PASS"
    img = np.asarray(Image.open(image).convert("RGB"))
    assert img.shape[0] > 150 and img.shape[1] > 400 and img.std() > 20
    refused = None
    try:
        client.predict("../outside/secret.bam", REGION, False, api_name="/call")
    except Exception as exc:  # gradio_client raises AppError with the gr.Error text
        refused = str(exc)
    assert refused is not None and "not allowed" in refused


def test_an_unreadable_bam_in_the_data_dir_does_not_stop_the_service(call_app):
    """The fixture's data directory holds broken.bam: the service started, lists it, and calling it says why."""
    url, *_ = call_app
    assert httpx.get(url + "/readyz", timeout=30).status_code == 200
    assert httpx.get(url + "/ui/", timeout=30).status_code == 200
    r = httpx.post(url + "/v1/call", json={"bam": "broken.bam", "region": REGION}, timeout=60)
    assert r.status_code == 422 and "broken.bam" in r.json()["error"], r.text


@pytest.mark.parametrize("body, status, words", [
    ({"bam": "a" * 252 + ".bam", "region": REGION}, 404, "no BAM"),           # a name too long for the filesystem
    ({"bam": "truncated.bam", "region": "chr20:10090000-10099000"}, 422, "truncated.bam"),
    ({"bam": "broken.bam", "region": REGION}, 422, "broken.bam"),
    ({"bam": "other_contigs.bam", "region": REGION}, 422, "chr20"),           # contigs named otherwise
    ('{"bam": ' + "[" * 100_000 + "]" * 100_000 + "}", 400, "parsing"),     # nested past any parser's depth
    ("{not json", 422, "JSON"),
])
def test_every_call_failure_is_a_4xx_with_the_error_shape(call_app, body, status, words):
    url, data, _, _ = call_app
    if isinstance(body, str):
        r = httpx.post(url + "/v1/call", content=body, headers={"content-type": "application/json"}, timeout=60)
    else:
        r = httpx.post(url + "/v1/call", json=body, timeout=60)
    assert r.status_code == status, r.text[:500]
    j = r.json()
    assert set(j) == {"error", "detail", "request_id"} and words in j["error"], j
    assert "Traceback" not in r.text and "raygen.errors" not in r.text and str(data.resolve()) not in r.text
    assert httpx.get(url + "/healthz", timeout=30).status_code == 200


def test_mixed_normalize_and_score_load_leaves_the_service_healthy(call_app):
    """Concurrent /v1/normalize and /v1/score on the bgzipped chr20 FASTA: one FASTA handle read by several
    threads at once failed (BlockingIOError, [E::fai_retrieve]) and broke every later request."""
    import asyncio
    import random

    import pysam

    url, _, _, giab = call_app
    rng = random.Random(5)
    with pysam.FastaFile(str(giab / FA)) as fa:
        start, end = 10_000_100, 10_099_900  # the sequenced stretch of this unittest FASTA
        seq = fa.fetch("chr20", start, end).upper()
    spots = [i for i in range(len(seq) - 3) if set(seq[i:i + 3]) <= set("ACGT")]

    def body(kind: str) -> dict:
        out = []
        for i in rng.sample(spots, 150 if kind == "normalize" else 100):
            pos, s = start + i + 1, seq[i:i + 3]
            out.append({"chrom": "chr20", "pos": pos, "ref": s, "alt": s[0]} if kind == "normalize" else
                       {"chrom": "chr20", "pos": pos, "ref": s[0], "alt": "A" if s[0] != "A" else "C"})
        return {"variants": out}

    async def burst():
        async with httpx.AsyncClient(base_url=url, timeout=120) as c:
            codes = []
            for _ in range(6):
                rs = await asyncio.gather(*[c.post("/v1/normalize", json=body("normalize")) for _ in range(4)],
                                          *[c.post("/v1/score", json=body("score")) for _ in range(4)])
                codes += [r.status_code for r in rs]
            return codes

    codes = asyncio.run(burst())
    assert set(codes) <= {200, 503} and codes.count(200) >= len(codes) // 2, codes
    assert httpx.post(url + "/v1/normalize", json=body("normalize"), timeout=60).status_code == 200
    assert httpx.post(url + "/v1/score", json=body("score"), timeout=60).status_code == 200
