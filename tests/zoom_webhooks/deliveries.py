"""Zoom's published webhook examples, and deliveries signed as Zoom signs them."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from specialistly_zoom.webhooks import WEBHOOK_PATH

SPECS = Path(__file__).resolve().parents[1] / "specs" / "zoom"
EXAMPLES = SPECS / "webhooks"
SECRET = "zoom-webhooks-test-secret-token"


def example(name: str) -> dict[str, Any]:
    """Zoom's published example body of an event (a fresh copy each time)."""
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return copy.deepcopy(loaded)


def schemas() -> dict[str, Any]:
    """Zoom's OpenAPI document of the Meetings webhooks."""
    loaded: dict[str, Any] = json.loads((SPECS / "api-hub" / "meetings.webhooks.json").read_text())
    return loaded


def signed_headers(
    body: bytes, *, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json; charset=utf-8",
        "x-zm-request-timestamp": stamp,
        "x-zm-signature": f"v0={digest}",
    }


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def deliver(
    api_url: str,
    body: dict[str, Any] | bytes,
    headers: httpx.Headers | Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST a delivery to the webhook endpoint, signed unless `headers` are given."""
    raw = body if isinstance(body, bytes) else encode(body)
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        return await http.post(WEBHOOK_PATH, content=raw, headers=headers or signed_headers(raw))


def for_meeting(name: str, meeting_id: str, host_id: str, **participant: Any) -> dict[str, Any]:
    """Zoom's example of an event, about our meeting (and participant fields changed)."""
    body = example(name)
    body["event_ts"] = int(time.time() * 1000)
    meeting = body["payload"]["object"]
    meeting["id"] = int(meeting_id) if isinstance(meeting["id"], int) else meeting_id
    meeting["host_id"] = host_id
    if participant:
        meeting["participant"].update(participant)
    return body
