"""Sending through SendGrid's v3 Mail Send API, with httpx.

Transient answers are tried again within one send: timeouts and lost connections, 5xx, and
429 (after its ``X-RateLimit-Reset``, an epoch second). Other 4xx answers are permanent and
never tried again. The message id SendGrid returns (``X-Message-Id``) starts the
``sg_message_id`` of the Event Webhook's events about that message.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from email.utils import parseaddr
from typing import Any

import httpx

from specialistly.providers import EmailMessage, ProviderError
from specialistly_sendgrid.settings import SendgridSettings

Sleep = Callable[[float], Awaitable[None]]


class SendgridProvider:
    name = "sendgrid"
    display_name = "SendGrid"

    def __init__(
        self,
        settings: SendgridSettings,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock

    async def send(self, message: EmailMessage) -> str:
        s = self.settings
        if s.api_key is None:
            raise ProviderError("SPECIALISTLY_SENDGRID_API_KEY is not set", transient=False)
        headers = {"Authorization": f"Bearer {s.api_key.get_secret_value()}"}
        async with httpx.AsyncClient(base_url=s.base_url, timeout=s.timeout) as client:
            for attempt in range(1, s.max_attempts + 1):
                last = attempt == s.max_attempts
                try:
                    response = await client.post(
                        "/v3/mail/send", json=mail_send_body(message), headers=headers
                    )
                except httpx.TransportError as exc:  # timeouts and connection errors
                    if last:
                        raise ProviderError(f"SendGrid: {exc!r}", transient=True) from exc
                    await self._sleep(self._backoff(attempt))
                    continue
                if response.status_code == 202:
                    return str(response.headers.get("X-Message-Id", ""))
                wait = self._retry_wait(response, attempt)
                if wait is None:
                    raise ProviderError(_describe(response), transient=False)
                if last or wait > s.max_retry_wait:
                    raise ProviderError(_describe(response), transient=True, retry_after=wait)
                await self._sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _backoff(self, attempt: int) -> float:
        return float(self.settings.retry_delay * 2 ** (attempt - 1))

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None for a permanent refusal."""
        if response.status_code == 429:
            reset = response.headers.get("X-RateLimit-Reset", "")
            if reset.isdigit():
                return max(0.0, int(reset) - self._clock())
            return self._backoff(attempt)
        if response.status_code >= 500:
            return self._backoff(attempt)
        return None


def _describe(response: httpx.Response) -> str:
    return f"SendGrid answered {response.status_code}: {response.text[:300]}"


def _address(value: str) -> dict[str, str]:
    name, address = parseaddr(value)
    return {"email": address, "name": name} if name else {"email": address}


def mail_send_body(message: EmailMessage) -> dict[str, Any]:
    """The v3 Mail Send request of a message."""
    content = [{"type": "text/plain", "value": message.text}]
    if message.html is not None:
        content.append({"type": "text/html", "value": message.html})
    body: dict[str, Any] = {
        "personalizations": [{"to": [_address(to) for to in message.to]}],
        "from": _address(message.sender or ""),
        "subject": message.subject,
        "content": content,
    }
    headers = dict(message.headers)
    if message.message_id:
        headers["X-Entity-Ref-ID"] = message.message_id
    if headers:
        body["headers"] = headers
    if message.attachments:
        body["attachments"] = [
            {
                "content": base64.b64encode(a.content).decode(),
                "filename": a.filename,
                "type": a.content_type.split(";")[0].strip(),
                "disposition": "attachment",
            }
            for a in message.attachments
        ]
    return body
