"""SendGrid's signed Event Webhook: SendGrid's own known-answer vector, what a verified
request records, suppression after a hard bounce or a spam report, and that a bad
signature is refused with nothing stored."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette

from specialistly.features import deliveries, mail, outgoing
from specialistly.features.email_templates import Rendered
from specialistly.hookspecs import PluginSettings
from specialistly.runtime import Runtime
from specialistly_sendgrid import plugin
from specialistly_sendgrid.settings import SendgridSettings
from specialistly_sendgrid.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.mail import MailSink

VECTOR = json.loads(
    (
        Path(__file__).resolve().parents[1] / "specs" / "sendgrid" / "signed-test-vector.json"
    ).read_text()
)
KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(
    KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def test_sendgrids_known_answer_vector() -> None:
    payload = VECTOR["payload"].encode()
    key, signature, timestamp = VECTOR["public_key"], VECTOR["signature"], VECTOR["timestamp"]
    assert payload.endswith(b"\r\n")
    assert verify(key, signature, timestamp, payload)
    bad = VECTOR["negative_cases"]
    assert not verify(bad["bad_public_key"], signature, timestamp, payload)
    assert not verify(key, bad["bad_signature"], timestamp, payload)
    assert not verify(key, signature, timestamp, bad["bad_payload"].encode())
    assert not verify(key, signature, bad["bad_timestamp"], payload)
    assert not verify(key, "not base64!", timestamp, payload)


def signed(body: bytes, timestamp: str = "1800000000") -> dict[str, str]:
    signature = KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: timestamp}


async def post(body: bytes, headers: dict[str, str], public_key: str = PUBLIC) -> httpx.Response:
    settings = SendgridSettings(webhook_public_key=public_key)
    routes = plugin.http_routes(plugin_settings=PluginSettings({"sendgrid": settings}))
    app = Starlette(routes=list(routes))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        return await client.post("/plugins/sendgrid/events", content=body, headers=headers)


async def sent_through_sendgrid(address: str) -> outgoing.OutgoingEmail:
    recorded = await outgoing.record(
        outgoing.Draft(
            key=f"test:{secrets.token_hex(4)}",
            template="booking_confirmed_customer",
            to=address,
            rendered=Rendered("s", "t", "<p>h</p>"),
        )
    )
    message_id = secrets.token_urlsafe(16)
    await outgoing.OutgoingEmail.find_one(outgoing.OutgoingEmail.id == recorded.id).update(
        {"$set": {"status": "sent", "provider": "sendgrid", "provider_message_id": message_id}}
    )
    found = await outgoing.OutgoingEmail.get(recorded.id)
    assert found is not None
    return found


def event(email: outgoing.OutgoingEmail, kind: str, **more: Any) -> dict[str, Any]:
    return {
        "email": email.to,
        "event": kind,
        "sg_event_id": secrets.token_urlsafe(12),
        "sg_message_id": f"{email.provider_message_id}.filterdrecv-p3mdw1-756b745b58-kmzbl-18",
        "timestamp": 1800000000,
        **more,
    }


@pytest.mark.usefixtures("runtime")
async def test_the_vector_is_accepted_over_http() -> None:
    headers = {
        SIGNATURE_HEADER: VECTOR["signature"],
        TIMESTAMP_HEADER: VECTOR["timestamp"],
    }
    answer = await post(VECTOR["payload"].encode(), headers, public_key=VECTOR["public_key"])
    assert answer.status_code == 200
    assert answer.json() == {"recorded": 0}  # no email of ours has that message id


@pytest.mark.usefixtures("runtime")
async def test_verified_events_are_recorded_once_per_event() -> None:
    email = await sent_through_sendgrid(f"sam-{secrets.token_hex(4)}@example.com")
    delivered = event(email, "delivered")
    body = json.dumps([delivered, event(email, "open")]).encode()
    assert (await post(body, signed(body))).json() == {"recorded": 1}
    again = json.dumps([delivered]).encode()
    assert (await post(again, signed(again))).json() == {"recorded": 1}

    stored = await outgoing.OutgoingEmail.get(email.id)
    assert stored is not None
    assert stored.delivery == outgoing.Delivery.DELIVERED
    assert [d.key for d in stored.deliveries] == [delivered["sg_event_id"]]
    assert not await deliveries.is_suppressed(email.to)


@pytest.mark.parametrize(
    ("kind", "more"),
    [("bounce", {"type": "bounce", "reason": "550 no such user"}), ("spamreport", {})],
)
async def test_a_hard_bounce_or_spam_report_suppresses_non_essential_mail(
    runtime: Runtime, mailbox: MailSink, kind: str, more: dict[str, Any]
) -> None:
    address = f"eve-{secrets.token_hex(4)}@example.com"
    email = await sent_through_sendgrid(address)
    body = json.dumps([event(email, kind, **more)]).encode()
    assert (await post(body, signed(body))).status_code == 200
    assert await deliveries.is_suppressed(address.upper())

    def draft(template: str) -> outgoing.Draft:
        return outgoing.Draft(
            key=f"test:{secrets.token_hex(4)}",
            template=template,
            to=address,
            rendered=Rendered(template, "t", "<p>h</p>"),
        )

    reminder = await mail.deliver(draft("reminder_customer"), runtime)
    confirmation = await mail.deliver(draft("booking_confirmed_customer"), runtime)
    assert reminder.status == outgoing.EmailStatus.SUPPRESSED
    assert confirmation.status == outgoing.EmailStatus.SENT
    assert [r.subject for r in mailbox.to(address)] == ["booking_confirmed_customer"]


@pytest.mark.usefixtures("runtime")
async def test_a_blocked_bounce_does_not_suppress() -> None:
    email = await sent_through_sendgrid(f"bo-{secrets.token_hex(4)}@example.com")
    body = json.dumps([event(email, "bounce", type="blocked")]).encode()
    await post(body, signed(body))
    assert not await deliveries.is_suppressed(email.to)


@pytest.mark.usefixtures("runtime")
async def test_a_bad_signature_is_refused_and_nothing_stored() -> None:
    email = await sent_through_sendgrid(f"mal-{secrets.token_hex(4)}@example.com")
    body = json.dumps([event(email, "spamreport")]).encode()
    headers = signed(body)
    forged = [
        (body + b" ", headers),  # the body changed after signing
        (body, {**headers, TIMESTAMP_HEADER: "1800000001"}),
        (body, {TIMESTAMP_HEADER: headers[TIMESTAMP_HEADER]}),  # no signature at all
    ]
    for payload, sent_headers in forged:
        assert (await post(payload, sent_headers)).status_code == 403
    assert (await post(body, headers, public_key="")).status_code == 403  # no key set

    stored = await outgoing.OutgoingEmail.get(email.id)
    assert stored is not None and stored.deliveries == []
    assert not await deliveries.is_suppressed(email.to)
