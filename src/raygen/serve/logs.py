"""Structured request logs and the request-body limit, as one pure ASGI middleware.

Each API request gives one JSON line on the ``raygen.serve.requests`` logger (request id, method, path,
status, latency in ms, body bytes, variant count). The same layer enforces the body-size limit on
``/v1/*`` (413, before the body is parsed) and turns any unhandled exception into a 500 with only a
request id in the body: tracebacks go to the log, never to the client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ray.exceptions import TaskCancelledError
from starlette.requests import ClientDisconnect

log = logging.getLogger("raygen.serve.requests")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name}
        if isinstance(record.msg, dict):
            payload.update(record.msg)
        else:
            payload["msg"] = record.getMessage()
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def setup_request_logging(level: int = logging.INFO) -> None:
    """Send ``raygen.serve.*`` records as JSON lines to stderr (a replica's log, streamed to the driver)."""
    logger = logging.getLogger("raygen.serve")
    if not any(getattr(h, "_raygen_json", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonFormatter())
        handler._raygen_json = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


class BodyTooLarge(Exception):
    pass


#: How a request whose client disconnected ends inside the app: Starlette reading the body of a closed
#: connection, or Serve cancelling the request (its handle calls raise ray.serve's RequestCancelledError, a
#: TaskCancelledError; the handler's own task gets asyncio.CancelledError, which goes on up).
DISCONNECTS: tuple[type[BaseException], ...] = (ClientDisconnect, TaskCancelledError)
#: The status logged for them (nginx's "client closed request"); no answer is sent.
CLIENT_CLOSED = 499


class RequestLogMiddleware:
    """Request ids, JSON access lines, a body-size cap on ``limited_prefix`` and no tracebacks to clients.

    Handlers may set ``request.state.n_variants`` to have it logged. UI requests (everything outside
    ``logged_prefixes``) are logged only when they fail (5xx) or are refused (401/403). A client that
    disconnects is logged as status 499, ``client_disconnected``, not as an error.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, limited_prefix: str = "/v1/",
                 logged_prefixes: tuple[str, ...] = ("/v1/", "/healthz", "/readyz")):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limited_prefix = limited_prefix
        self.logged_prefixes = logged_prefixes

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request_id = headers.get("x-request-id", "")[:64] or uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        path = scope.get("path", "")
        state = {"status": 500, "started": False, "bytes_in": 0}
        limited = path.startswith(self.limited_prefix)

        async def send_wrapper(message: Message) -> None:
            # No x-request-id header here: Serve's proxy sets it (and on the request, so the ids agree).
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
            await send(message)

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["bytes_in"] += len(message.get("body", b""))
                if limited and state["bytes_in"] > self.max_body_bytes:
                    raise BodyTooLarge()
            return message

        error = None
        try:
            declared = headers.get("content-length", "")
            if limited and declared.isdigit() and int(declared) > self.max_body_bytes:
                raise BodyTooLarge()
            await self.app(scope, receive_wrapper, send_wrapper)
        except BodyTooLarge:
            error = "body_too_large"
            await _answer(send, state, 413, {
                "error": f"request body exceeds {self.max_body_bytes} bytes; send fewer variants per request",
                "detail": [{"loc": ["body"], "msg": "too large", "type": "body_too_large"}], "request_id": request_id})
        except DISCONNECTS:  # the client went away (Serve cancels its request): nobody to answer, nothing broke
            error = "client_disconnected"
            state["status"] = CLIENT_CLOSED
        except asyncio.CancelledError:
            error = "client_disconnected"
            state["status"] = CLIENT_CLOSED
            raise
        except Exception:  # noqa: BLE001 - the client gets a request id, the log gets the traceback
            error = "internal"
            log.exception({"event": "unhandled_error", "request_id": request_id, "path": path})
            await _answer(send, state, 500, {"error": "internal server error; quote this request id when reporting "
                                             "it", "detail": [], "request_id": request_id})
        finally:
            status = state["status"]
            # Outside the API (UI pages and assets) only failures and refused logins are worth a line.
            if path.startswith(self.logged_prefixes) or status >= 500 or status in (401, 403):
                _log_request(scope, request_id, state, error, time.perf_counter() - t0)


async def _answer(send, state: dict, status: int, body: dict) -> None:
    """Send ``body`` as a JSON answer with ``status``, unless the app has started its own answer."""
    if state["started"]:
        return
    data = json.dumps(body).encode()
    state["status"] = status
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def _log_request(scope: Scope, request_id: str, state: dict, error: str | None, seconds: float) -> None:
    status = state["status"]
    log.log(logging.WARNING if status >= 500 else logging.INFO, {
        "event": "request", "request_id": request_id, "method": scope.get("method"), "path": scope.get("path", ""),
        "status": status, "ms": round(seconds * 1000, 2), "bytes_in": state["bytes_in"],
        "n_variants": scope.get("state", {}).get("n_variants"), "client": (scope.get("client") or [None])[0],
        **({"error": error} if error else {})})
