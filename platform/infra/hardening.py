"""HTTP hardening for every route, the plugins' included (applied by `infra.edge`): a cap on
request bodies and the response headers that keep browsers from sniffing, caching or
framing what we answer."""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import Message, Receive, Scope, Send

# Answers carry tokens and personal data: no cache may keep them, no page may frame them
# (GraphiQL included), and no browser may guess another content type for them.
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}


# The same, as raw ASGI headers.
_RAW_HEADERS = tuple((name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items())


def add_security_headers(headers: list[tuple[bytes, bytes]]) -> None:
    """Adds SECURITY_HEADERS to a response's raw headers, except those it sets itself."""
    present = {name.lower() for name, _ in headers}
    headers.extend(header for header in _RAW_HEADERS if header[0] not in present)


class BodyTooLargeError(Exception):
    """The body read so far is over the limit (see `limit_body`)."""


def declared_too_large(scope: Scope, max_bytes: int) -> bool:
    """Whether the request's Content-Length says it is over `max_bytes` (or is no number)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return not value.isdigit() or int(value) > max_bytes
    return False


def limit_body(receive: Receive, max_bytes: int) -> Receive:
    """`receive`, raising BodyTooLargeError as soon as the body read so far passes
    `max_bytes` (chunked uploads), before the rest is read."""
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise BodyTooLargeError
        return message

    return limited_receive


async def refuse_body(scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
    """413: the request body is larger than `max_bytes`."""
    response = PlainTextResponse(
        f"The request body is larger than {max_bytes} bytes.",
        status_code=413,
        headers={"connection": "close"},  # the rest of the body is not read
    )
    await response(scope, receive, send)
