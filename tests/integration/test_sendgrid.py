"""The SendGrid provider against a fake that validates each request with SendGrid's own
OpenAPI document: what it sends, which answers it tries again and which it never does."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from specialistly.providers import Attachment, EmailMessage, ProviderError
from specialistly_sendgrid.provider import SendgridProvider, mail_send_body
from specialistly_sendgrid.settings import SendgridSettings
from tests.sendgrid_fake import Scripted, SendgridFake

MESSAGE = EmailMessage(
    to=("sam@example.com",),
    subject="Confirmed: Career chat",
    text="Join: https://meet.example/room\n",
    html="<p>Join</p>",
    sender="Specialistly <no-reply@specialistly.test>",
    headers={"List-Unsubscribe": "<https://api.example/unsubscribe?t=x>"},
    attachments=(Attachment("invite.ics", "text/calendar; method=REQUEST", b"BEGIN:VCALENDAR"),),
    message_id="6750a1b2c3d4e5f601234567",
)
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def fake() -> Iterator[SendgridFake]:
    server = SendgridFake().start()
    yield server
    server.stop()


@pytest.fixture
def sendgrid(fake: SendgridFake) -> Iterator[SendgridFake]:
    fake.script.clear()
    fake.accepted.clear()
    fake.requests = 0
    yield fake
    assert fake.invalid == [], "a request broke SendGrid's spec"


class Waits:
    """Records the provider's waits instead of sleeping through them."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def provider(fake: SendgridFake, waits: Waits, **changes: object) -> SendgridProvider:
    settings = SendgridSettings(
        api_key=SecretStr("SG.test"), base_url=fake.url, timeout=2.0, retry_delay=1.0
    ).model_copy(update=changes)
    return SendgridProvider(settings, sleep=waits, clock=lambda: NOW)


async def test_a_message_is_sent_as_the_spec_wants_it(sendgrid: SendgridFake) -> None:
    message_id = await provider(sendgrid, Waits()).send(MESSAGE)

    [sent] = sendgrid.accepted
    assert message_id == sent.message_id
    body = sent.body
    assert body["personalizations"] == [{"to": [{"email": "sam@example.com"}]}]
    assert body["from"] == {"email": "no-reply@specialistly.test", "name": "Specialistly"}
    assert body["content"][0] == {"type": "text/plain", "value": MESSAGE.text}
    assert body["content"][1]["type"] == "text/html"
    assert body["headers"]["List-Unsubscribe"] == "<https://api.example/unsubscribe?t=x>"
    [ics] = body["attachments"]
    assert base64.b64decode(ics["content"]) == b"BEGIN:VCALENDAR"
    assert (ics["filename"], ics["type"]) == ("invite.ics", "text/calendar")


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_tried_again_with_backoff(sendgrid: SendgridFake, status: int) -> None:
    sendgrid.script += [Scripted(status), Scripted(status)]
    waits = Waits()
    await provider(sendgrid, waits).send(MESSAGE)
    assert sendgrid.requests == 3
    assert waits.seconds == [1.0, 2.0]
    assert len(sendgrid.accepted) == 1


async def test_429_waits_for_its_reset(sendgrid: SendgridFake) -> None:
    sendgrid.script.append(Scripted(429, {"X-RateLimit-Reset": str(int(NOW) + 7)}))
    waits = Waits()
    await provider(sendgrid, waits).send(MESSAGE)
    assert waits.seconds == [7.0]
    assert len(sendgrid.accepted) == 1


async def test_a_reset_too_far_away_is_left_to_a_later_delivery(sendgrid: SendgridFake) -> None:
    sendgrid.script.append(Scripted(429, {"X-RateLimit-Reset": str(int(NOW) + 600)}))
    with pytest.raises(ProviderError) as refused:
        await provider(sendgrid, Waits()).send(MESSAGE)
    assert refused.value.transient
    assert refused.value.retry_after == 600
    assert sendgrid.requests == 1


async def test_a_timeout_is_tried_again(sendgrid: SendgridFake) -> None:
    sendgrid.script.append(Scripted(delay=1.5))
    await provider(sendgrid, Waits(), timeout=0.5).send(MESSAGE)
    assert sendgrid.requests == 2
    assert len(sendgrid.accepted) == 1


async def test_still_failing_after_every_attempt_is_transient(sendgrid: SendgridFake) -> None:
    sendgrid.script += [Scripted(503)] * 3
    with pytest.raises(ProviderError) as refused:
        await provider(sendgrid, Waits()).send(MESSAGE)
    assert refused.value.transient
    assert sendgrid.requests == 3


@pytest.mark.parametrize("status", [400, 401, 403, 413])
async def test_permanent_refusals_are_never_tried_again(
    sendgrid: SendgridFake, status: int
) -> None:
    sendgrid.script.append(Scripted(status))
    waits = Waits()
    with pytest.raises(ProviderError) as refused:
        await provider(sendgrid, waits).send(MESSAGE)
    assert not refused.value.transient
    assert sendgrid.requests == 1
    assert waits.seconds == []


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"subject": "no recipients, no sender", "content": []}, {"Authorization": "Bearer x"}),
        ({**mail_send_body(MESSAGE), "custom_args": {"a": "b"}}, {"Authorization": "Bearer x"}),
        (mail_send_body(MESSAGE), {}),
    ],
    ids=["missing-fields", "wrong-type", "no-credentials"],
)
async def test_the_fake_refuses_what_breaks_the_spec(
    fake: SendgridFake, body: dict[str, object], headers: dict[str, str]
) -> None:
    """The fake is worth trusting: requests that break SendGrid's spec are caught."""
    async with httpx.AsyncClient(base_url=fake.url) as client:
        answer = await client.post("/v3/mail/send", json=body, headers=headers)
    assert answer.status_code == 400
    assert len(fake.invalid) == 1
    fake.invalid.clear()
