"""The request-log middleware: body cap, no tracebacks to clients, one JSON line per request."""

from __future__ import annotations

from fastapi import Request  # module level: FastAPI resolves the handlers' string annotations here


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


def _call(app, path: str) -> list:
    """Drive the middleware as the ASGI server does, for one GET of ``path``; return what it sent."""
    import asyncio

    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "client": ("127.0.0.1", 1)}
    asyncio.run(app(scope, receive, send))
    return sent


def test_client_disconnects_are_not_unhandled_errors(caplog):
    """A client that goes away (Starlette's ClientDisconnect, Serve's cancelled request) is a 499 line."""
    import json
    import logging

    from ray.exceptions import TaskCancelledError
    from starlette.requests import ClientDisconnect

    from raygen.serve.logs import RequestLogMiddleware, _JsonFormatter

    def raising(exc):
        async def app(scope, receive, send):
            raise exc
        return RequestLogMiddleware(app, max_body_bytes=100)

    with caplog.at_level(logging.INFO, logger="raygen.serve.requests"):
        sent = _call(raising(ClientDisconnect()), "/v1/score") + _call(raising(TaskCancelledError()), "/v1/normalize")
    assert sent == []  # nobody left to answer
    lines = [json.loads(_JsonFormatter().format(r)) for r in caplog.records if r.name == "raygen.serve.requests"]
    assert [(x["event"], x.get("status"), x.get("error")) for x in lines] == [
        ("request", 499, "client_disconnected"), ("request", 499, "client_disconnected")]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "raygen.serve.requests")


def test_ui_assets_are_not_logged_as_api_requests(caplog):
    import logging

    from raygen.serve.logs import RequestLogMiddleware

    def answering(status):
        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        return RequestLogMiddleware(app, max_body_bytes=100)

    with caplog.at_level(logging.INFO, logger="raygen.serve.requests"):
        for path, status in (("/manifest.json", 404), ("/favicon.ico", 200), ("/ui/theme.css", 200),
                             ("/ui/login", 401), ("/v1/models", 200)):
            _call(answering(status), path)
    logged = [r.msg["path"] for r in caplog.records if r.name == "raygen.serve.requests"]
    assert logged == ["/ui/login", "/v1/models"]
