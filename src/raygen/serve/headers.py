"""Provenance on every API answer: ``X-Raygen-Model`` and ``X-Raygen-Reference`` response headers.

The values are :meth:`raygen.provenance.Provenance.http_headers` of the served model (named by its directory
name, never its server path; weights hashed) and reference (file name and SHA-256), computed once when the
ingress builds its app, so a lab can log with each result which model and reference produced it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from raygen.provenance import Provenance, model_record
from raygen.serve.schemas import display_name


def provenance_headers(model: str, revision: str | None, reference: str) -> dict[str, str]:
    """The two headers of a service serving ``model`` (dir or hub id) at ``revision`` on ``reference``."""
    record = model_record(model, revision, display=display_name(model))
    return Provenance.for_run(models=[record], reference=reference).http_headers()


class ProvenanceHeaders:
    """Pure ASGI middleware: adds ``headers`` to every answer under ``prefix`` (errors included)."""

    def __init__(self, app: ASGIApp, *, headers: dict[str, str], prefix: str = "/v1/"):
        self.app = app
        self.raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.prefix):
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.raw]}
            await send(message)

        await self.app(scope, receive, send_wrapper)
