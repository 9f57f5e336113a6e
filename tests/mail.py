"""A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ipaddress
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.processes import free_port


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    peer: tuple[str, int] | None = None  # the sender's address and port: its connection

    @property
    def subject(self) -> str:
        return str(self.message["Subject"]).strip()  # folded long subjects keep a space

    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        assert body is not None
        return str(body.get_content()).replace("\r\n", "\n")

    def html(self) -> str:
        body = self.message.get_body(preferencelist=("html",))
        assert body is not None
        return str(body.get_content()).replace("\r\n", "\n")

    def attachment(self, filename: str) -> bytes:
        for part in self.message.iter_attachments():
            if part.get_filename() == filename:
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload
        raise AssertionError(f"no attachment {filename}")


class MailSink:
    """aiosmtpd handler keeping what it accepts; `refuse_with` makes it answer a code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.refuse_with: str | None = None
        # While `accepting` is clear, a message waits for it, then is dropped (its sender is
        # gone by then); `held` tells that one waits.
        self.accepting = threading.Event()
        self.accepting.set()
        self.held = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse_with is not None:
            return self.refuse_with
        if not self.accepting.is_set():
            self.held.set()
            await asyncio.to_thread(self.accepting.wait, 60)
            return "451 Dropped"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            received = Received(envelope.mail_from, list(envelope.rcpt_tos), message, session.peer)
            self._received.append(received)
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self._received if address in r.recipients]

    def matching(self, keep: Callable[[Received], bool]) -> list[Received]:
        with self._lock:
            return [r for r in self._received if keep(r)]


class SmtpServer:
    def __init__(self, port: int | None = None, **controller: Any) -> None:
        self.sink = MailSink()
        self.port = port or free_port()
        self._controller = Controller(self.sink, hostname="127.0.0.1", port=self.port, **controller)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files in `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def accept_login(login: str, password: str) -> Callable[..., AuthResult]:
    """An aiosmtpd authenticator accepting one login."""

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            login.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False)

    return authenticate
