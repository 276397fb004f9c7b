"""`X-Hub-Signature-256`: HMAC-SHA256 of the raw request body, keyed with the webhook secret.

Computed over the bytes exactly as received (re-serialised JSON would not match) and compared in
constant time. GitHub's documented test vector is in tests/app/test_signature.py.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value GitHub sends for `body`: `sha256=<hex>`."""
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` under `secret`; False when missing or wrong."""
    if not header or not secret:
        return False
    expected = sign(secret, body).encode("ascii")
    # compare_digest wants equal types; a non-ASCII header cannot match and is compared as bytes.
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))
