"""The HTTP API over real loopback HTTP, against the app as `raygen serve` starts it (bearer token on)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import REPEAT, REPEAT_POS, ServeProcess, snvs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import httpfuzz  # noqa: E402  (tests/httpfuzz.py)

TOKEN = "t0k-en_for-tests"
pytestmark = pytest.mark.timeout(240)


def _empty_bam(path, seqs: dict[str, str]) -> None:
    """An indexed, coordinate-sorted BAM over the test reference's contigs with no reads."""
    import pysam

    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": c, "LN": len(s)} for c, s in seqs.items()],
              "RG": [{"ID": "rg", "SM": "S1"}]}
    with pysam.AlignmentFile(str(path), "wb", header=header):
        pass
    pysam.index(str(path))


@pytest.fixture(scope="module")
def service(ray_session, serve_port, serve_assets, tmp_path_factory):
    """The app as a user starts it: a `raygen serve` process (token file, small limits)."""
    model, ref, seqs = serve_assets
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(TOKEN + "\n")
    data = tmp_path_factory.mktemp("bams")
    _empty_bam(data / "empty.bam", seqs)
    proc = ServeProcess(ray_session.address, serve_port, model, ref, "--token-file", str(token_file),
                        "--max-batch-size", "8", "--max-ongoing-requests", "8", "--max-queued-requests", "4",
                        "--max-variants-per-request", "50", "--max-body-bytes", "8192", "--scorer-cpus", "0.25",
                        # No CPU reserved by the caller: the module also runs `raygen score` (Ray Data) on
                        # the same 2-CPU Ray, which stalls when replicas hold too much of it.
                        "--data-dirs", str(data), "--max-call-bp", "500", "--caller-cpus", "0",
                        env={"RAYGEN_API_TOKEN": ""})
    try:
        proc.wait_serving()
        yield proc
    finally:
        proc.kill()


@pytest.fixture(scope="module")
def api(service, serve_assets):
    model, ref, seqs = serve_assets
    client = httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    yield client, model, ref, seqs
    client.close()


@pytest.fixture(scope="module")
def scorer(serve_assets):
    """The batch path's Scorer, in this process: the numbers the service must reproduce."""
    from raygen.scoring import Scorer

    model, ref, _ = serve_assets
    return Scorer(model, ref)


def test_ops_endpoints_and_docs(api):
    client, *_ = api
    plain = httpx.Client(base_url=str(client.base_url), timeout=30)  # no token: ops routes stay open
    assert plain.get("/healthz").json() == {"status": "ok"}
    ready = plain.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    docs = plain.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = plain.get("/openapi.json").json()
    assert {"/v1/score", "/v1/normalize", "/v1/models"} <= set(spec["paths"])
    body = spec["paths"]["/v1/score"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["$ref"].endswith("/ScoreRequest")
    assert "variants" in spec["components"]["schemas"]["ScoreRequest"]["properties"] and "text/plain" in body
    models = client.get("/v1/models").json()["models"]
    assert models[0]["kind"] == "mlm" and models[0]["window"] == 128
    assert models[0]["max_batch_size"] == 8  # the command's flags reached the scorer


def test_requests_pass_through_haproxy_where_found(api):
    """Where an HAProxy binary exists the embedded Ray runs Serve's HAProxy front (raygen.httpfront): the
    Ingress replica parses HTTP itself, and HAProxy's own stats count the requests this module sends."""
    from raygen.httpfront import find_haproxy

    if os.environ.get("RAYGEN_HTTP_FRONT") == "proxy":
        pytest.skip("this session runs Serve's proxy front (tests/conftest.py); RAYGEN_HTTP_FRONT=haproxy runs it")
    if find_haproxy() is None:
        pytest.skip("no HAProxy binary here: Serve's Python proxy is the front")
    assert os.environ.get("RAY_SERVE_ENABLE_HA_PROXY") == "1"
    client, *_ = api
    assert client.get("/v1/models").status_code == 200
    csv = httpx.get(f"http://127.0.0.1:{os.environ['RAY_SERVE_HAPROXY_STATS_PORT']}/stats;csv", timeout=30).text
    head = csv.lstrip("# ").splitlines()[0].split(",")
    rows = [dict(zip(head, line.split(","))) for line in csv.splitlines()[1:]]
    backend = [r for r in rows if r["pxname"].startswith("http-") and r["svname"] == "BACKEND"]
    assert backend and int(backend[0]["stot"]) >= 1, csv[:2000]


def test_answers_name_the_model_not_where_it_lives(api):
    """/readyz (no token needed), /v1/models and /v1/score say the model's name and revision, not its path."""
    from pathlib import Path

    client, model, ref, seqs = api
    server_dir = str(Path(model).resolve().parent)
    ready = httpx.get(str(client.base_url) + "/readyz", timeout=30)
    models = client.get("/v1/models")
    score = client.post("/v1/score", json={"variants": snvs(seqs, [321])})
    for r in (ready, models, score):
        assert r.status_code == 200 and server_dir not in r.text, r.text
    assert ready.json()["model"] == Path(model).name and "revision" in ready.json()
    assert models.json()["models"][0]["model"] == Path(model).name == score.json()["model"]["model"]


def test_bearer_token_required_on_v1(api):
    client, model, ref, seqs = api
    body = {"variants": snvs(seqs, [200])}
    url = str(client.base_url)
    no = httpx.post(url + "/v1/score", json=body, timeout=30)
    assert no.status_code == 401 and no.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in no.json()["error"]
    wrong = httpx.post(url + "/v1/score", json=body, headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 401
    assert httpx.get(url + "/v1/models", timeout=30).status_code == 401
    assert client.post("/v1/score", json=body).status_code == 200


def test_ui_takes_the_token_as_password(api):
    from gradio_client import Client

    client, model, ref, seqs = api
    url = str(client.base_url) + "/ui/"
    with pytest.raises(Exception, match="credentials"):
        Client(url, verbose=False)
    ui = Client(url, auth=("anyone", TOKEN), verbose=False)
    v = snvs(seqs, [2222])[0]
    table = ui.predict(f"{v['chrom']}:{v['pos']} {v['ref']}>{v['alt']}", None, 2, api_name="/score")[1]
    assert table["data"][0][5] is not None


def test_same_llrs_as_batch_scorer(api, scorer):
    from raygen.variant import Variant

    client, model, ref, seqs = api
    variants = snvs(seqs, [5, 64, 65, 300, 999, 1500, 2999, 3000] + list(range(700, 712)))
    variants.append({"chrom": "chr1", "pos": REPEAT_POS, "ref": "CA", "alt": "C"})  # an indel: the pair score
    variants.append({"chrom": "chr2", "pos": 60, "ref": seqs["chr2"][59], "alt": "N"})
    r = client.post("/v1/score", json={"variants": variants})
    assert r.status_code == 200, r.text
    got = r.json()["results"]
    expected = scorer.score_variants([Variant(v["chrom"], v["pos"], v["ref"], v["alt"]) for v in variants])
    assert [(g["chrom"], g["pos"], g["ref"], g["alt"]) for g in got] == [
        (v["chrom"], v["pos"], v["ref"], v["alt"]) for v in variants]  # request order kept across chunks
    for g, e in zip(got, expected):
        assert g["skip_reason"] == e.skip_reason
        if e.llr is None:
            assert g["llr"] is None
        else:
            assert g["llr"] == pytest.approx(e.llr, abs=1e-5)
    assert sum(g["llr"] is not None for g in got) >= 20
    assert r.json()["model"]["definition"].startswith("masked LM SNV")
    timing = dict(p.strip().split(";dur=") for p in r.headers["server-timing"].split(","))  # ms, for load tests
    assert set(timing) == {"pre", "scorer", "app"} and float(timing["app"]) >= float(timing["scorer"]) > 0


def test_vcf_text_body_gives_the_json_numbers(api):
    client, model, ref, seqs = api
    b = seqs["chr1"][399]
    alts = [x for x in "ACGT" if x != b]
    vcf = f"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t400\trs1\t{b}\t{','.join(alts)}\n"
    t = client.post("/v1/score", content=vcf, headers={"content-type": "text/plain"})
    j = client.post("/v1/score", json={"variants": [{"chrom": "chr1", "pos": 400, "ref": b, "alt": a} for a in alts]})
    assert t.status_code == j.status_code == 200
    assert [x["llr"] for x in t.json()["results"]] == [x["llr"] for x in j.json()["results"]]
    assert [x["alt"] for x in t.json()["results"]] == alts


@pytest.mark.parametrize("body,loc,words", [
    ({"variants": [{"chrom": "chr1", "pos": "ten", "ref": "A", "alt": "G"}]}, ["body", "variants", 0, "pos"], "integer"),
    ({"variants": [{"chrom": "chr1", "pos": True, "ref": "A", "alt": "G"}]}, ["body", "variants", 0, "pos"], "integer"),
    ({"variants": [{"chrom": "chr1", "pos": 5, "ref": "A", "alt": "<DEL>"}]}, ["body", "variants", 0, "alt"], "A, C, G, T or N"),
    ({"variants": []}, ["body", "variants"], "at least 1"),
    ({"variants": [{"chrom": "chr1", "pos": 5, "ref": "A"}]}, ["body", "variants", 0, "alt"], "required"),
    ({"variants": [{"chrom": "chrQ", "pos": 5, "ref": "A", "alt": "G"}]}, ["body", "variants", 0, "chrom"], "not in the reference"),
    ("chr1\t10\t.\tA\tG\nchr1\t11\t.\tA\n", ["body", "line", 2], "5 columns"),
])
def test_bad_input_gets_422_naming_the_field(api, body, loc, words):
    client, *_ = api
    if isinstance(body, str):
        r = client.post("/v1/score", content=body, headers={"content-type": "text/plain"})
    else:
        r = client.post("/v1/score", json=body)
    assert r.status_code == 422, r.text
    j = r.json()
    assert j["detail"][0]["loc"] == loc and words in r.text and "Traceback" not in r.text
    assert j["request_id"] and r.headers["x-request-id"] == j["request_id"]


def test_ref_mismatch_rejected_or_skipped(api, scorer):
    client, model, ref, seqs = api
    wrong = "ACGT".replace(seqs["chr1"][49], "")[0]
    body = {"variants": snvs(seqs, [40]) + [{"chrom": "chr1", "pos": 50, "ref": wrong, "alt": seqs["chr1"][49]},
                                           {"chrom": "chrQ", "pos": 1, "ref": "A", "alt": "C"}]}
    r = client.post("/v1/score", json=body)
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["detail"]] == [["body", "variants", 1, "ref"], ["body", "variants", 2, "chrom"]]
    assert f"does not match the reference '{seqs['chr1'][49]}' at chr1:50" in r.text
    s = client.post("/v1/score", params={"on_invalid": "skip"}, json=body)
    assert s.status_code == 200
    res = s.json()["results"]
    assert res[0]["llr"] is not None and res[1]["llr"] is None and res[2]["llr"] is None
    assert res[1]["skip_reason"] == "ref_mismatch" and res[2]["skip_reason"] == "unknown_contig"
    assert client.get("/healthz").status_code == 200  # still serving


#: chr2 of the test reference starts with 50 N (conftest.write_reference): a REF base at chr2:10 faces an N.
FACING_N = {"chrom": "chr2", "pos": 10, "ref": "A", "alt": "G"}


def test_ref_facing_n_is_a_mismatch_on_v1_score(api):
    """The one REF rule: a REF base facing an N in the reference is a mismatch, at the 422 gate as in scoring."""
    client, *_ = api
    r = client.post("/v1/score", json={"variants": [FACING_N]})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "variants", 0, "ref"]
    assert r.json()["detail"][0]["type"] == "ref_mismatch" and "'N'" in r.text
    s = client.post("/v1/score", params={"on_invalid": "skip"}, json={"variants": [FACING_N]})
    assert s.status_code == 200 and s.json()["results"][0]["skip_reason"] == "ref_mismatch"


def test_ref_facing_n_is_a_mismatch_on_v1_normalize(api):
    client, *_ = api
    r = client.post("/v1/normalize", json={"variants": [FACING_N]})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "variants", 0, "ref"] and "mismatch" in r.text
    s = client.post("/v1/normalize", params={"on_invalid": "skip"}, json={"variants": [FACING_N]})
    assert s.status_code == 200 and "mismatch" in s.json()["results"][0]["error"]


@pytest.mark.timeout(180)
def test_ref_facing_n_is_a_mismatch_in_raygen_score(api, run_cli, tmp_path):
    client, model, ref, seqs = api
    good = snvs(seqs, [300])[0]
    vcf = tmp_path / "n.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=3000>\n##contig=<ID=chr2,length=1500>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   f"chr1\t{good['pos']}\t.\t{good['ref']}\t{good['alt']}\t.\tPASS\t.\n"
                   f"chr2\t{FACING_N['pos']}\t.\t{FACING_N['ref']}\t{FACING_N['alt']}\t.\tPASS\t.\n")
    out = tmp_path / "n.out.vcf"
    rc, _, stderr = run_cli("score", vcf, "-f", ref, "--model", model, "-o", out, "--actors", "1",
                            "--cpus-per-actor", "0.25", "-q")
    assert rc == 0, stderr
    info = {int(c[1]): c[7] for c in (x.split("\t") for x in out.read_text().splitlines() if not x.startswith("#"))}
    assert "RAYGEN_SKIP=ref_mismatch" in info[FACING_N["pos"]] and "RAYGEN_LLR=" in info[good["pos"]]


def test_limits_give_413(api):
    client, model, ref, seqs = api
    many = client.post("/v1/score", json={"variants": snvs(seqs, list(range(100, 151)))})
    assert many.status_code == 413 and "51 variants" in many.json()["error"]
    big = client.post("/v1/score", content=b"#" * 9000, headers={"content-type": "text/plain"})
    assert big.status_code == 413 and "8192 bytes" in big.json()["error"]
    assert client.post("/v1/score", json={"variants": snvs(seqs, list(range(100, 150)))}).status_code == 200


def test_normalize_matches_the_pure_normalizer(api):
    from raygen.normalize.leftalign import normalize_variant

    client, model, ref, seqs = api
    # Deleting one "CA" at the right end of the repeat: bcftools moves it to the repeat's left edge.
    pos = REPEAT_POS + len(REPEAT) - 2
    anchor = seqs["chr1"][pos - 2]
    rec = {"chrom": "chr1", "pos": pos - 1, "ref": anchor + "CA", "alt": anchor}
    r = client.post("/v1/normalize", json={"variants": [rec, {"chrom": "chr1", "pos": 10, "ref": seqs["chr1"][9],
                                                              "alt": "A,T"}]})
    assert r.status_code == 200, r.text
    out = r.json()["results"]
    npos, nref, nalts = normalize_variant("chr1", rec["pos"], rec["ref"], [rec["alt"]], ref)
    assert (out[0]["pos"], out[0]["ref"], out[0]["alt"]) == (npos, nref, nalts[0])
    assert out[0]["changed"] and npos < rec["pos"] and npos <= REPEAT_POS
    assert out[1]["alt"] == "A,T" and out[1]["input"]["pos"] == 10
    bad = client.post("/v1/normalize", json={"variants": [{"chrom": "chr1", "pos": 50, "ref": "NNNN", "alt": "A"}]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "variants", 0, "ref"]
    assert "mismatch" in bad.text


def test_overload_gives_fast_503_not_a_collapse(api):
    client, model, ref, seqs = api
    body = {"variants": snvs(seqs, list(range(1000, 1050)))}
    headers = {"Authorization": f"Bearer {TOKEN}"}

    async def one(ac: httpx.AsyncClient):
        t0 = time.perf_counter()
        r = await ac.post("/v1/score", json=body, headers=headers)
        return r.status_code, time.perf_counter() - t0, r.text, r.headers.get("retry-after")

    async def burst():
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=str(client.base_url), timeout=60, limits=limits) as ac:
            return await asyncio.gather(*[one(ac) for _ in range(48)])

    results = asyncio.run(burst())
    codes = [c for c, _, _, _ in results]
    assert set(codes) <= {200, 503}, codes
    assert codes.count(503) >= 1 and codes.count(200) >= 1, codes
    assert max(dt for c, dt, _, _ in results if c == 503) < 5.0
    assert all(ra == "1" for c, _, _, ra in results if c == 503)  # Retry-After: ServeConfig.retry_after_s
    assert all("Traceback" not in t for _, _, t, _ in results)
    assert client.post("/v1/score", json=body).status_code == 200  # recovers at once


@pytest.mark.timeout(180)
def test_same_llrs_as_raygen_score_cli(api, run_cli, tmp_path):
    """The batch CLI and the HTTP path give the same number for the same variant (CLI writes 4 decimals)."""
    client, model, ref, seqs = api
    positions = [150, 151, 640, 1777, 2500]
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chr1,length=3000>", "##contig=<ID=chr2,length=1500>",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for p in positions:
        b = seqs["chr1"][p - 1]
        lines.append(f"chr1\t{p}\t.\t{b}\t{','.join(x for x in 'ACGT' if x != b)}\t.\tPASS\t.")
    lines.append(f"chr1\t{REPEAT_POS}\t.\tCA\tC\t.\tPASS\t.")
    vcf = tmp_path / "in.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.vcf"
    # CPU budget on the 2-CPU test Ray: Serve holds 0.25 + 0.25, this pipeline 1 read task + 0.25 actor.
    rc, stdout, stderr = run_cli("score", vcf, "-f", ref, "--model", model, "-o", out, "--actors", "1",
                                 "--cpus-per-actor", "0.25", "-q")
    assert rc == 0, stderr
    cli: dict[tuple, float] = {}
    for line in out.read_text().splitlines():
        if line.startswith("#"):
            continue
        c = line.split("\t")
        info = dict(kv.split("=", 1) for kv in c[7].split(";") if "=" in kv)
        for alt, llr in zip(c[4].split(","), info["RAYGEN_LLR"].split(",")):
            cli[(c[0], int(c[1]), c[3], alt)] = float(llr)
    assert len(cli) == 3 * len(positions) + 1
    body = {"variants": [{"chrom": k[0], "pos": k[1], "ref": k[2], "alt": k[3]} for k in cli]}
    got = client.post("/v1/score", json=body).json()["results"]
    for g in got:
        assert g["llr"] == pytest.approx(cli[(g["chrom"], g["pos"], g["ref"], g["alt"])], abs=6e-5)


def test_call_flags_of_raygen_serve(api, service):
    """`raygen serve --data-dirs D --max-call-bp 500`: BAMs under D are called, others refused, big regions 413."""
    client, *_ = api
    ok = client.post("/v1/call", json={"bam": "empty.bam", "region": "chr1:1-400"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["calls"] == [] and ok.json()["region"] == "chr1:1-400"
    assert client.post("/v1/call", json={"bam": "empty.bam", "region": "chr1:1-501"}).status_code == 413
    assert client.post("/v1/call", json={"bam": "/etc/hosts.bam", "region": "chr1:1-10"}).status_code == 403
    plain = httpx.Client(base_url=str(client.base_url), timeout=30)
    assert plain.post("/v1/call", json={"bam": "empty.bam", "region": "chr1:1-400"}).status_code == 401


FUZZ_EXAMPLES = int(os.environ.get("RAYGEN_HTTP_FUZZ_EXAMPLES", "8"))  # per route; benchmarks/reliability.py: more


def test_every_route_fuzzed_from_openapi(service):
    """schemathesis generates requests for every route of /openapi.json (valid and invalid bodies, queries,
    headers; tests/httpfuzz.py): no 5xx other than an overload 503, no traceback, class path or filesystem path
    in any answer, every error in the documented shape. RAYGEN_HTTP_FUZZ_EXAMPLES sets the cases per route."""
    def check(name, case):
        r = case.call(headers={**(case.headers or {}), "Authorization": f"Bearer {TOKEN}"}, timeout=60)
        assert not httpfuzz.problems(r), f"{name} {case.formatted_path} -> {r.status_code}: {r.text[:300]}"

    tried = httpfuzz.fuzz_operations(service.url, FUZZ_EXAMPLES, check)
    print(f"HTTP fuzz: {sum(tried.values())} cases over {len(tried)} routes: {tried}")
    assert {"POST /v1/score", "POST /v1/normalize", "POST /v1/call", "POST /v1/explain"} <= set(tried)


def test_service_is_healthy_after_the_fuzzing(api):
    client, model, ref, seqs = api
    assert client.get("/readyz").status_code == 200
    assert client.post("/v1/score", json={"variants": snvs(seqs, [700])}).status_code == 200


def test_a_killed_scorer_replica_is_replaced_and_the_service_answers_again(api):
    """SIGKILL the Scorer replica in the middle of a request stream: every answer is 200 or 503 (no 500, no
    traceback, no path), and the service scores again within N s of the kill (N printed; Serve replaces the
    replica and reloads the model)."""
    import threading

    from killer import Killer  # tests/killer.py

    client, model, ref, seqs = api
    body = {"variants": snvs(seqs, [1200])}
    answers: list[tuple[float, float, int, str]] = []  # (sent, answered, status, body)
    stop = threading.Event()

    def stream():
        with httpx.Client(base_url=str(client.base_url), headers=client.headers, timeout=30) as c:
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    r = c.post("/v1/score", json=body)
                    answers.append((t0, time.monotonic(), r.status_code, r.text))
                except httpx.HTTPError as exc:
                    answers.append((t0, time.monotonic(), -1, repr(exc)))
                time.sleep(0.05)

    sender = threading.Thread(target=stream, daemon=True)
    sender.start()
    killer = Killer("ServeReplica:raygen:Scorer", delay_s=0.0, timeout_s=30)
    time.sleep(1.0)  # the stream runs
    killer.run()  # in this thread: kill now
    t_kill = time.monotonic()
    assert killer.killed, "no Scorer replica process found: the fault was not injected"
    deadline = t_kill + 90
    while time.monotonic() < deadline and not any(s == 200 and t0 > t_kill for t0, _, s, _ in answers):
        time.sleep(0.1)
    time.sleep(0.5)
    stop.set()
    sender.join(timeout=35)
    back = [t1 for t0, t1, s, _ in answers if s == 200 and t0 > t_kill]
    assert back, f"no answer within 90 s of the kill: {[(round(t0 - t_kill, 1), s) for t0, _, s, _ in answers][-20:]}"
    n_s = back[0] - t_kill
    statuses = [s for _, _, s, _ in answers]
    print(f"Scorer replica {killer.killed[0][0]} killed: scoring again after {n_s:.1f} s; answers {statuses.count(200)} "
          f"x 200, {statuses.count(503)} x 503, other {[s for s in statuses if s not in (200, 503)]}")
    assert set(statuses) <= {200, 503}, [(s, t[:300]) for _, _, s, t in answers if s not in (200, 503)]
    assert all("Traceback" not in t and "/tmp/" not in t for *_, t in answers)
    assert n_s < 60
    assert client.post("/v1/score", json=body).status_code == 200


def test_ctrl_c_stops_the_service_cleanly(service, api):
    """Last in this module: Ctrl-C ends `raygen serve` with exit 0 and removes the app (Serve stays: it
    runs on a cluster the process only joined)."""
    client, *_ = api
    assert f"{service.url}/docs" in service.output and f"{service.url}/ui/" in service.output
    assert "API auth on" in service.output
    assert service.interrupt() == 0, service.output[-3000:]
    assert "stopping raygen service" in service.output and "Traceback" not in service.output
    assert httpx.get(service.url + "/readyz", timeout=10).status_code == 404

