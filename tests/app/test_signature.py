"""X-Hub-Signature-256 over the raw body, with GitHub's documented test vector."""

from __future__ import annotations

from bot.app.signature import sign, verify

# docs.github.com, "Validating webhook deliveries": testing the webhook payload validation.
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_PAYLOAD = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_test_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_PAYLOAD) == VECTOR_SIGNATURE
    assert verify(VECTOR_SECRET, VECTOR_PAYLOAD, VECTOR_SIGNATURE)


def test_wrong_or_missing_signatures_are_refused() -> None:
    assert not verify(VECTOR_SECRET, VECTOR_PAYLOAD, None)
    assert not verify(VECTOR_SECRET, VECTOR_PAYLOAD, "")
    assert not verify("another secret", VECTOR_PAYLOAD, VECTOR_SIGNATURE)
    assert not verify(VECTOR_SECRET, b"Hello, World?", VECTOR_SIGNATURE)
    assert not verify(VECTOR_SECRET, VECTOR_PAYLOAD, VECTOR_SIGNATURE.removeprefix("sha256="))
    assert not verify(VECTOR_SECRET, VECTOR_PAYLOAD, "sha1=" + VECTOR_SIGNATURE[7:])
    assert not verify(VECTOR_SECRET, VECTOR_PAYLOAD, VECTOR_SIGNATURE.upper())
    assert not verify(VECTOR_SECRET, VECTOR_PAYLOAD, VECTOR_SIGNATURE[:-1] + "é")
    assert not verify("", VECTOR_PAYLOAD, sign("", VECTOR_PAYLOAD))  # no secret configured: nothing passes


def test_the_raw_bytes_are_signed_not_a_reserialisation() -> None:
    compact = b'{"a":1}'
    spaced = b'{"a": 1}'
    assert verify(VECTOR_SECRET, compact, sign(VECTOR_SECRET, compact))
    assert not verify(VECTOR_SECRET, spaced, sign(VECTOR_SECRET, compact))
