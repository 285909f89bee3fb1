"""HMAC-SHA256 signatures of HTTP bodies: the hex HMAC of `"<unix timestamp>.<raw body>"` with a tenant's
webhook secret, sent as `sha256=<hex>` next to the timestamp (the Stripe/Slack scheme). Signing the
timestamp with the body lets the receiver refuse old messages replayed later.

One scheme for both directions: MCP delivery receipts coming in (pipelines.core.send.receipts) and the
events we publish to a tenant's webhook (pipelines.core.observability.outbox)."""

from __future__ import annotations

import hashlib
import hmac
import time


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """`sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`."""
    signed = str(int(timestamp)).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(secret: str | None, body: bytes, header: str | None, timestamp: int) -> bool:
    """Whether `header` is the signature of `body` at `timestamp`, compared in constant time."""
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp).encode(), header.strip().encode())


def signed_headers(
    secret: str, body: bytes, *, timestamp_header: str, signature_header: str, timestamp: int | None = None
) -> dict[str, str]:
    """The timestamp and signature headers of a signed body (now, unless `timestamp` is given)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {timestamp_header: str(ts), signature_header: sign(secret, body, ts)}
