"""The SMTP email provider against a real SMTP server (aiosmtpd): plain, STARTTLS with
authentication, implicit TLS, and which refusals are worth trying again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from specialistly.features.smtp import SmtpProvider, SmtpSettings
from specialistly.providers import Attachment, EmailMessage, ProviderError
from tests.mail import SmtpServer, accept_login, self_signed_certificate, server_tls
from tests.processes import free_port

MESSAGE = EmailMessage(
    to=("sam@example.com",),
    subject="Confirmed: Career chat",
    text="Join: https://meet.example/room\n",
    html="<p>Join <a href='https://meet.example/room'>the room</a></p>",
    sender="Specialistly <no-reply@specialistly.test>",
    headers={"X-Entity-Ref-ID": "b-1"},
    attachments=(Attachment("invite.ics", "text/calendar; method=REQUEST", b"BEGIN:VCALENDAR"),),
    message_id="6750a1b2c3d4e5f601234567",
)


async def send_once(settings: SmtpSettings) -> str:
    """Send MESSAGE with a provider of its own, closed afterwards."""
    provider = SmtpProvider(settings)
    try:
        return await provider.send(MESSAGE)
    finally:
        await provider.aclose()


@pytest.fixture
def plain() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


async def test_a_message_arrives_whole_with_its_own_message_id(plain: SmtpServer) -> None:
    message_id = await send_once(SmtpSettings(port=plain.port))

    [got] = plain.sink.to("sam@example.com")
    assert got.sender == "no-reply@specialistly.test"
    assert got.subject == "Confirmed: Career chat"
    assert got.text() == "Join: https://meet.example/room\n"
    assert "the room</a>" in got.html()
    assert got.attachment("invite.ics") == b"BEGIN:VCALENDAR"
    assert got.message["X-Entity-Ref-ID"] == "b-1"
    assert message_id == got.message["Message-ID"] == "<6750a1b2c3d4e5f601234567@specialistly.test>"


async def test_starttls_with_a_login(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server = SmtpServer(
        tls_context=server_tls(cert, key),
        require_starttls=True,
        authenticator=accept_login("mailer", "s3cret"),
        auth_required=True,
    ).start()
    try:
        settings = SmtpSettings(
            port=server.port,
            security="starttls",
            username="mailer",
            password=SecretStr("s3cret"),
            ca_file=str(cert),
        )
        await send_once(settings)
        assert len(server.sink.to("sam@example.com")) == 1

        wrong = settings.model_copy(update={"password": SecretStr("guess")})
        with pytest.raises(ProviderError) as refused:
            await send_once(wrong)
        assert not refused.value.transient  # 535: a wrong password stays wrong
    finally:
        server.stop()


async def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server = SmtpServer(ssl_context=server_tls(cert, key)).start()
    try:
        settings = SmtpSettings(port=server.port, security="tls", ca_file=str(cert))
        await send_once(settings)
        assert len(server.sink.to("sam@example.com")) == 1
    finally:
        server.stop()


async def test_an_untrusted_certificate_is_not_used(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server = SmtpServer(ssl_context=server_tls(cert, key)).start()
    try:
        with pytest.raises(ProviderError):
            await send_once(SmtpSettings(port=server.port, security="tls"))
        assert server.sink.to("sam@example.com") == []
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("answer", "transient"),
    [("451 Try again later", True), ("554 Message rejected", False)],
)
async def test_4xx_is_transient_and_5xx_permanent(
    plain: SmtpServer, answer: str, transient: bool
) -> None:
    plain.sink.refuse_with = answer
    with pytest.raises(ProviderError) as refused:
        await send_once(SmtpSettings(port=plain.port))
    assert refused.value.transient is transient


async def test_no_server_is_transient() -> None:
    with pytest.raises(ProviderError) as refused:
        await send_once(SmtpSettings(port=free_port(), timeout=5))
    assert refused.value.transient


async def test_messages_in_a_row_share_one_connection(plain: SmtpServer) -> None:
    provider = SmtpProvider(SmtpSettings(port=plain.port))
    try:
        for _ in range(3):
            await provider.send(MESSAGE)
    finally:
        await provider.aclose()

    received = plain.sink.to("sam@example.com")
    assert len(received) == 3
    assert len({r.peer for r in received}) == 1


async def test_a_connection_the_server_closed_is_replaced() -> None:
    first = SmtpServer().start()
    provider = SmtpProvider(SmtpSettings(port=first.port, timeout=10))
    try:
        await provider.send(MESSAGE)
        first.stop()  # the server goes, and its connections with it
        again = SmtpServer(port=first.port).start()
        try:
            await provider.send(MESSAGE)
        finally:
            again.stop()
    finally:
        await provider.aclose()

    [before] = first.sink.to("sam@example.com")
    [after] = again.sink.to("sam@example.com")
    assert before.peer != after.peer
