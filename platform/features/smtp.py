"""The SMTP email provider (a built-in plugin), for self-hosted deployments.

Talks to any SMTP server with aiosmtplib: plain, STARTTLS or implicit TLS, with or without
authentication. A refusal in the 4xx range, a timeout or a lost connection is transient (the
message is tried again later); a 5xx refusal is permanent.
"""

from __future__ import annotations

import email.policy
import email.utils
import functools
from collections.abc import Sequence
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage as MimeMessage
from typing import Any, Literal

import aiosmtplib
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from specialistly.hookspecs import PluginSettings, hookimpl
from specialistly.providers import EmailMessage, EmailProvider, ProviderError


class SmtpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPECIALISTLY_SMTP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 1025
    # "starttls" upgrades a plain connection; "tls" connects over TLS from the start.
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = 30.0
    # A PEM file of the certificate authorities to trust instead of the system's.
    ca_file: str | None = None


# Connections kept open between messages, per provider: as many as the deliveries that
# send at once in a worker, typically.
KEPT_CONNECTIONS = 4


class SmtpProvider:
    """Sends each message on a connection kept open from an earlier one when there is
    one (a new connection costs more than the message: TCP, EHLO, TLS, login), so
    `aclose` closes those left when the process stops."""

    name = "smtp"
    display_name = "SMTP"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._idle: list[aiosmtplib.SMTP] = []

    async def send(self, message: EmailMessage) -> str:
        mime = to_mime(message)
        try:
            await self._send(mime)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refusal.code for refusal in exc.recipients]
            raise ProviderError(str(exc), transient=all(400 <= c < 500 for c in codes)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise ProviderError(
                f"SMTP {exc.code}: {exc.message}", transient=exc.code < 500
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Connection refused or lost, timeouts, TLS failures: the server may be back later.
            raise ProviderError(f"SMTP: {exc}", transient=True) from exc
        return str(mime["Message-ID"])

    async def _send(self, mime: MimeMessage) -> None:
        """Send on a kept connection, or on a new one if the server closed the kept one
        (as servers do with idle connections). A server that closed it after taking the
        message whole, without saying so, gets it twice, with one Message-ID."""
        client = self._kept()
        if client is not None:
            try:
                await client.send_message(mime)
            except aiosmtplib.SMTPServerDisconnected:
                client.close()
            except BaseException:
                client.close()
                raise
            else:
                self._keep(client)
                return
        client = self._new_client()
        try:
            await client.connect()
            await client.send_message(mime)
        except BaseException:
            client.close()
            raise
        self._keep(client)

    def _kept(self) -> aiosmtplib.SMTP | None:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
            client.close()
        return None

    def _keep(self, client: aiosmtplib.SMTP) -> None:
        if len(self._idle) < KEPT_CONNECTIONS:
            self._idle.append(client)
        else:
            client.close()

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            timeout=s.timeout,
            cert_bundle=s.ca_file,
        )

    async def aclose(self) -> None:
        """Close the connections kept open."""
        idle, self._idle = self._idle, []
        for client in idle:
            client.close()


class _HeaderClasses(HeaderRegistry):
    """The standard registry, but making each header's class once (the standard one makes
    a new class for every header it parses: about half of a message's MIME building), and
    keeping the last headers it made. Most of a message's headers (its sender, its parts'
    types and encodings) are those of the message before, parsing one takes tens to
    hundreds of microseconds, and a header, once made, never changes."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}
        self._kept = functools.lru_cache(maxsize=1024)(super().__call__)

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        if key not in self._made:
            self._made[key] = super().__getitem__(name)
        return self._made[key]

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if isinstance(value, str):
            kept: BaseHeader = self._kept(name, value)
            return kept
        return super().__call__(name, value)  # an email.header.Header, which cannot be a key


POLICY = email.policy.default.clone(header_factory=_HeaderClasses())


def to_mime(message: EmailMessage) -> MimeMessage:
    """The message as MIME: text, an HTML alternative and attachments."""
    mime = MimeMessage(policy=POLICY)
    mime["Subject"] = message.subject
    mime["From"] = message.sender or ""
    mime["To"] = ", ".join(message.to)
    mime["Date"] = email.utils.formatdate(localtime=False)
    domain = email.utils.parseaddr(message.sender or "")[1].rpartition("@")[2] or "localhost"
    mime["Message-ID"] = (
        f"<{message.message_id}@{domain}>" if message.message_id else email.utils.make_msgid()
    )
    for name, value in message.headers.items():
        mime[name] = value
    mime.set_content(message.text)
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, _, rest = attachment.content_type.partition("/")
        subtype, *params = (part.strip() for part in rest.split(";"))
        mime.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
            params=dict(p.split("=", 1) for p in params if "=" in p),
        )
    return mime


@hookimpl
def settings_class() -> type[BaseSettings]:
    return SmtpSettings


@hookimpl
def email_providers(plugin_settings: PluginSettings) -> Sequence[EmailProvider]:
    return [SmtpProvider(plugin_settings.of(SmtpSettings))]
