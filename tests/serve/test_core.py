"""Pure request handling (no Ray): body parsing, reference checks, ISM layout, auth, app arguments."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi import Request  # module level: FastAPI resolves the handlers' string annotations here

from raygen.io.fasta import Reference
from raygen.serve.auth import check_bearer, resolve_token_digest, token_digest
from raygen.serve.core import (
    RequestInvalid,
    ism_layout,
    parse_variant_text,
    parse_vcf_text,
    reference_errors,
    validate_items,
)
from raygen.serve.schemas import VariantIn
from raygen.variant import Variant

from .conftest import write_reference


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    path = tmp_path_factory.mktemp("core") / "ref.fa"
    seqs = write_reference(path)
    with Reference(path) as r:
        yield r, seqs


def test_vcf_text_records_and_line_errors():
    text = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t10\t.\tA\tG,T\n\nchr2 5 . C A\n"
    recs = parse_vcf_text(text, split_alts=True)
    assert [(n, r["pos"], r["alt"]) for n, r in recs] == [(3, 10, "G"), (3, 10, "T"), (5, 5, "A")]
    assert parse_vcf_text(text, split_alts=False)[0][1]["alt"] == "G,T"
    with pytest.raises(RequestInvalid) as exc:
        parse_vcf_text("chr1\t10\t.\tA\tG\nchr1\tten\t.\tA\tG\nchr1\t7\n", split_alts=True)
    locs = [e.loc for e in exc.value.errors]
    assert locs == [("body", "line", 2, "pos"), ("body", "line", 3)]
    assert "line 2.pos" in str(exc.value) and "'ten'" in str(exc.value)
    with pytest.raises(RequestInvalid, match="no VCF records"):
        parse_vcf_text("#CHROM\tPOS\n", split_alts=True)


def test_validate_items_names_each_bad_field():
    items = [(("body", "line", 1), {"chrom": "chr1", "pos": 0, "ref": "A", "alt": "G"}),
             (("body", "line", 2), {"chrom": "chr1", "pos": 5, "ref": "A", "alt": "<DEL>"})]
    with pytest.raises(RequestInvalid) as exc:
        validate_items(VariantIn, items)
    assert [e.loc for e in exc.value.errors] == [("body", "line", 1, "pos"), ("body", "line", 2, "alt")]
    assert "symbolic" in exc.value.errors[1].msg


def test_reference_errors(ref):
    r, seqs = ref
    good = Variant("chr1", 100, seqs["chr1"][99], "A")
    bad_ref = Variant("chr1", 100, "ACGT".replace(seqs["chr1"][99], "")[0], "A")
    errs = reference_errors([good, bad_ref, Variant("chrZ", 1, "A", "C"), Variant("chr1", 3000, "AA", "A"),
                             Variant("chr2", 3, "G", "C")],
                            [("body", "variants", i) for i in range(5)], r)
    assert [(e.loc[-2], e.loc[-1], e.type) for e in errs] == [
        (1, "ref", "ref_mismatch"), (2, "chrom", "unknown_contig"), (3, "pos", "out_of_range")]
    assert "chr1, chr2" in errs[1].msg  # tells the caller which contigs exist; N in the reference matches


def test_parse_variant_text():
    assert parse_variant_text("chr1:1,000 a>g") == ("chr1", 1000, "A", "G")
    assert parse_variant_text(" chrX-5-CA-C ") == ("chrX", 5, "CA", "C")
    assert parse_variant_text("2 17 T G") == ("2", 17, "T", "G")
    with pytest.raises(ValueError, match="CHROM:POS REF>ALT"):
        parse_variant_text("chr1 A>G")


def test_ism_layout(ref):
    r, seqs = ref
    lay = ism_layout(r, "chr2", 52, 3)  # chr2 starts with 50 N: columns 49..55, two of them N
    assert lay.first_pos == 49 and lay.ref_bases == "NN" + seqs["chr2"][50:55]
    assert len(lay.variants) == 3 * 5 and all(v.ref == lay.ref_bases[v.pos - 49] != v.alt for v in lay.variants)
    grid = lay.matrix(range(len(lay.variants)))
    assert grid.shape == (4, 7) and np.isnan(grid[:, :2]).all()
    for i, (row, col) in enumerate(lay.cells):
        assert grid[row, col] == i and "ACGT"[row] == lay.variants[i].alt
    assert np.isnan(grid).sum() == 4 * 2 + 5  # N columns + one reference base per real column


def test_auth(tmp_path, monkeypatch):
    monkeypatch.delenv("RAYGEN_TEST_TOKEN", raising=False)
    assert resolve_token_digest(token_file=None, token_env="RAYGEN_TEST_TOKEN") is None
    assert check_bearer(None, None)
    monkeypatch.setenv("RAYGEN_TEST_TOKEN", "abc")
    d = resolve_token_digest(token_file=None, token_env="RAYGEN_TEST_TOKEN")
    assert d == token_digest("abc")
    assert check_bearer("Bearer abc", d) and check_bearer("bearer  abc ", d)
    assert not check_bearer("Bearer abd", d) and not check_bearer("Basic abc", d) and not check_bearer(None, d)
    f = tmp_path / "tok"
    f.write_text("from-file\n")
    assert resolve_token_digest(token_file=str(f), token_env="RAYGEN_TEST_TOKEN") == token_digest("from-file")
    from raygen.errors import InputError

    with pytest.raises(InputError, match="does-not-exist"):
        resolve_token_digest(token_file=str(tmp_path / "does-not-exist"), token_env=None)


def test_app_args_reject_batches_that_cannot_fill():
    from pydantic import ValidationError

    from raygen.serve.app import AppArgs

    with pytest.raises(ValidationError, match="max_ongoing_requests"):
        AppArgs(model="m", reference="r.fa", max_batch_size=64, max_ongoing_requests=8)


def test_request_log_middleware(caplog):
    """Body cap (413) before the handler runs, no traceback to the client on a crash, one JSON line each."""
    import asyncio
    import json
    import logging

    import httpx
    from fastapi import FastAPI

    from raygen.serve.logs import RequestLogMiddleware, _JsonFormatter

    app = FastAPI()
    seen = []

    @app.post("/v1/echo")
    async def echo(request: Request):
        body = await request.body()
        seen.append(len(body))
        request.state.n_variants = 3
        return {"n": len(body)}

    @app.get("/v1/boom")
    async def boom():
        raise RuntimeError("secret internals")

    app.add_middleware(RequestLogMiddleware, max_body_bytes=100)

    async def go():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return (await c.post("/v1/echo", content=b"x" * 50), await c.post("/v1/echo", content=b"x" * 500),
                    await c.get("/v1/boom", headers={"x-request-id": "rid-1"}))

    with caplog.at_level(logging.INFO, logger="raygen.serve.requests"):
        ok, big, crash = asyncio.run(go())
    assert ok.status_code == 200 and big.status_code == 413 and seen == [50]
    assert crash.status_code == 500 and crash.json()["request_id"] == "rid-1"
    assert "secret internals" not in crash.text and "Traceback" not in crash.text
    lines = [json.loads(_JsonFormatter().format(r)) for r in caplog.records if r.name == "raygen.serve.requests"]
    events = [x for x in lines if x.get("event") == "request"]
    assert [(x["path"], x["status"]) for x in events] == [("/v1/echo", 200), ("/v1/echo", 413), ("/v1/boom", 500)]
    assert events[0]["n_variants"] == 3 and events[0]["bytes_in"] == 50 and events[2]["request_id"] == "rid-1"
    assert any("secret internals" in x.get("exc", "") for x in lines)  # the traceback is in the log
