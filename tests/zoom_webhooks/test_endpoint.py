"""The webhook endpoint: signatures, the URL validation challenge, replays (real HTTP)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time

import httpx
import pytest
from pydantic import SecretStr

from specialistly.core.clock import utcnow
from specialistly.core.events import OutboxEvent
from specialistly.runtime import Runtime
from specialistly_zoom.attendance import (
    MeetingEvent,
    ZoomMeetingRecord,
    ZoomParticipation,
    meeting_started,
)
from specialistly_zoom.webhook_settings import Delivery, ZoomWebhookSettings
from specialistly_zoom.webhooks import Handler, ZoomWebhookReceipt, event_key, handle
from tests.zoom_webhooks.bookings import zoom_booking
from tests.zoom_webhooks.deliveries import (
    SECRET,
    deliver,
    encode,
    example,
    for_meeting,
    signed_headers,
)


async def test_url_validation_answers_the_challenge(zoom_api: str) -> None:
    challenge = example("endpoint.url_validation.request")
    response = await deliver(zoom_api, challenge)
    assert response.status_code == 200
    plain = challenge["payload"]["plainToken"]
    expected = hmac.new(SECRET.encode(), plain.encode(), hashlib.sha256).hexdigest()
    assert response.json() == {"plainToken": plain, "encryptedToken": expected}
    # The shape of Zoom's example answer (its secret is not published).
    assert response.json().keys() == example("endpoint.url_validation.response").keys()


async def test_url_validation_with_a_wrong_signature_is_refused(zoom_api: str) -> None:
    body = encode(example("endpoint.url_validation.request"))
    response = await deliver(zoom_api, body, signed_headers(body, secret="not-the-secret"))
    assert response.status_code == 401
    assert "encryptedToken" not in response.text


async def test_a_wrong_signature_is_refused_and_nothing_is_stored(
    zoom_api: str, runtime: Runtime
) -> None:
    zb = await zoom_booking(zoom_api)
    joined = for_meeting("meeting.participant_joined", zb.meeting_id, zb.host_id)
    body = encode(joined)
    good = signed_headers(body)
    attempts: list[tuple[bytes, httpx.Headers | dict[str, str]]] = [
        (body, signed_headers(body, secret="not-the-secret")),
        (body.replace(b"Jill", b"Evil"), good),  # the body changed after signing
        (body, {**good, "x-zm-signature": "v1=" + good["x-zm-signature"][3:]}),
        (body, {k: v for k, v in good.items() if k != "x-zm-signature"}),
        (body, {**good, "x-zm-request-timestamp": str(int(time.time()) + 1)}),
    ]
    odd_digit = [(k.encode(), v.encode()) for k, v in good.items() if k != "x-zm-request-timestamp"]
    attempts.append((body, httpx.Headers([*odd_digit, (b"x-zm-request-timestamp", b"\xb2")])))
    for raw, headers in attempts:
        response = await deliver(zoom_api, raw, headers)
        assert response.status_code == 401, response.text
    assert await ZoomWebhookReceipt.find({"event_key": event_key(joined)}).count() == 0
    assert await ZoomParticipation.find({"booking_id": zb.booking.id}).count() == 0
    assert await ZoomMeetingRecord.find({"booking_id": zb.booking.id}).count() == 0


async def test_a_stale_or_future_timestamp_is_refused(zoom_api: str, runtime: Runtime) -> None:
    zb = await zoom_booking(zoom_api)
    body = encode(for_meeting("meeting.started", zb.meeting_id, zb.host_id))
    # Two minutes past the tolerance (300 s): a slow delivery on a loaded machine does not
    # bring a future stamp back within it.
    for skew in (-420, 420):
        stamp = int(time.time()) + skew
        response = await deliver(zoom_api, body, signed_headers(body, timestamp=stamp))
        assert response.status_code == 401
    assert await ZoomMeetingRecord.find({"booking_id": zb.booking.id}).count() == 0
    # In milliseconds, as some deliveries put it, a fresh one is accepted.
    stamp_ms = int(time.time() * 1000)
    response = await deliver(zoom_api, body, signed_headers(body, timestamp=stamp_ms))
    assert response.json() == {"status": "handled"}


async def test_a_replayed_or_redelivered_event_is_handled_once(
    zoom_api: str, runtime: Runtime
) -> None:
    zb = await zoom_booking(zoom_api)
    joined = for_meeting("meeting.participant_joined", zb.meeting_id, zb.host_id)
    body = encode(joined)
    headers = signed_headers(body, timestamp=int(time.time()) - 5)
    assert (await deliver(zoom_api, body, headers)).json() == {"status": "handled"}
    # The very same request again, then Zoom's redelivery: signed anew, laid out otherwise.
    assert (await deliver(zoom_api, body, headers)).json() == {"status": "duplicate"}
    again = json.dumps(joined, indent=2).encode()
    assert (await deliver(zoom_api, again)).json() == {"status": "duplicate"}
    assert await ZoomParticipation.find({"booking_id": zb.booking.id}).count() == 1
    assert await ZoomWebhookReceipt.find({"event_key": event_key(joined)}).count() == 1


async def test_bodies_it_cannot_read_are_refused_and_others_ignored(
    zoom_api: str, runtime: Runtime
) -> None:
    assert (await deliver(zoom_api, b"{not json")).status_code == 400
    assert (await deliver(zoom_api, b"[" * 100_000)).status_code == 400
    assert (await deliver(zoom_api, {"event": "meeting.started"})).status_code == 400
    bad_time = {"event": "meeting.started", "event_ts": "soon", "payload": {"object": {}}}
    assert (await deliver(zoom_api, bad_time)).status_code == 400
    assert await ZoomWebhookReceipt.find({"event_key": event_key(bad_time)}).count() == 0
    other = {"event": "webinar.started", "event_ts": 1, "payload": {"object": {"id": "1"}}}
    response = await deliver(zoom_api, other)
    assert response.json() == {"status": "ignored"}


async def test_without_a_secret_token_every_delivery_is_refused(api_url: str) -> None:
    response = await deliver(api_url, example("endpoint.url_validation.request"))
    assert response.status_code == 503


async def test_a_delivery_whose_handling_fails_is_forgotten_so_that_zoom_retries(
    runtime: Runtime,
) -> None:
    body = {"event": "meeting.started", "event_ts": 1, "payload": {"object": {"id": "1"}}}
    payload = MeetingEvent.model_validate(body)
    settings = ZoomWebhookSettings(secret_token=SecretStr(SECRET))
    signature = f"v0={secrets.token_hex(32)}"

    async def fail(event: MeetingEvent, delivery: Delivery) -> list[OutboxEvent]:
        raise RuntimeError("the database went away")

    failing = Handler(MeetingEvent, fail)
    with pytest.raises(RuntimeError):
        await handle("meeting.started", body, signature, payload, failing, utcnow(), settings)
    assert await ZoomWebhookReceipt.find({"event_key": event_key(body)}).count() == 0

    handled = Handler(MeetingEvent, meeting_started)
    response = await handle(
        "meeting.started", body, signature, payload, handled, utcnow(), settings
    )
    assert response.status_code == 200
    assert await ZoomWebhookReceipt.find({"event_key": event_key(body)}).count() == 1
