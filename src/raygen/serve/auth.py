"""Optional bearer-token auth for ``/v1/*``.

The token comes from a secret file (``--token-file``) or an environment variable (``RAYGEN_API_TOKEN`` by
default), read where the replica runs. Only its SHA-256 is kept in memory and compared in constant time,
so the secret never travels in a Serve config or a deployment's arguments.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from raygen.errors import InputError


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def resolve_token_digest(*, token_file: str | None, token_env: str | None, token_sha256: str | None = None) -> str | None:
    """SHA-256 hex of the configured token, or None when auth is off.

    Order: an explicit digest, then the file (its first line, stripped), then the environment variable.
    A named file that is missing or empty is an error: serving without the auth the operator asked for
    would be worse than not starting.
    """
    if token_sha256:
        return token_sha256.lower()
    if token_file:
        p = Path(token_file)
        try:
            text = p.read_text().strip()
        except OSError as exc:
            raise InputError(f"cannot read token file {token_file!r}: {exc.strerror}") from None
        if not text:
            raise InputError(f"token file {token_file!r} is empty")
        return token_digest(text.splitlines()[0].strip())
    token = os.environ.get(token_env or "", "").strip()
    return token_digest(token) if token else None


def check_bearer(authorization: str | None, digest: str | None) -> bool:
    """Whether an ``Authorization`` header value satisfies ``digest`` (always true when auth is off)."""
    if digest is None:
        return True
    if not authorization:
        return False
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    return hmac.compare_digest(token_digest(token.strip()), digest)
