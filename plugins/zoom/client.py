"""Talking to Zoom over HTTP: the OAuth endpoints and the REST API, with the retry policy.

Timeouts and 5xx are tried again after each of ``retry_delays`` (1 s, 5 s, 15 s); a 429
waits for its ``Retry-After`` (``rate_limit_wait`` when absent) before the next try, at
most ``RATE_LIMIT_WAITS`` times. When the tries run out the failure is transient: the
caller's job is delivered again later (after the last Retry-After, for a 429).

A 429 for a daily limit (a user's 100 meeting creations and updates a day, which Zoom
resets at 00:00 UTC) is not waited for here: it raises :class:`ZoomDailyLimitError` at
once, a transient failure whose ``retry_after`` is the start of the next UTC day, so
that the job is queued until then rather than failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from specialistly.core.clock import utcnow
from specialistly.providers import ProviderError
from specialistly_zoom.settings import ZoomSettings

log = logging.getLogger("specialistly_zoom.client")


class ZoomGrantError(Exception):
    """Zoom refused the grant itself (invalid_grant, or an OAuth 47xx code): only a new
    authorization by the specialist helps."""


class ZoomAuthError(Exception):
    """The access token was refused (401): refresh it once and try again."""


class ZoomRequestError(ProviderError):
    """Zoom answered an error; ``status`` is its HTTP status."""

    def __init__(self, message: str, *, status: int, transient: bool, **kw: Any) -> None:
        super().__init__(message, transient=transient, **kw)
        self.status = status


class ZoomDailyLimitError(ZoomRequestError):
    """A daily limit of Zoom's was reached: nothing more until ``resumes_at`` (UTC)."""

    def __init__(self, message: str, *, resumes_at: datetime) -> None:
        wait = max(0.0, (resumes_at - utcnow()).total_seconds())
        super().__init__(message, status=429, transient=True, retry_after=wait)
        self.resumes_at = resumes_at


def next_utc_day(now: datetime) -> datetime:
    """00:00 UTC after `now` (an aware time), when Zoom's daily limits start again."""
    today = datetime(now.year, now.month, now.day, tzinfo=now.tzinfo)
    return today + timedelta(days=1)


def daily_limit(response: httpx.Response) -> bool:
    """Whether a 429 is for a daily limit: Zoom says so in ``X-RateLimit-Type`` or, for the
    meeting creations of one user, only in its message."""
    if response.headers.get("x-ratelimit-type", "").lower() == "daily-limit":
        return True
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "daily rate limit" in str(body.get("message", "")).lower()


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return default


def _describe(response: httpx.Response) -> str:
    """Zoom's code and message, never the request (which may carry a token or a code)."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    code = body.get("code") or body.get("error") or ""
    reason = body.get("message") or body.get("reason") or ""
    return f"HTTP {response.status_code} {code} {reason}".strip()[:300]


# Zoom's OAuth codes (specs/zoom/oauth-error-messages.md) that mean the grant itself is gone:
# refresh token invalid, code expired or invalid, owner removed, token not found, disabled
# by an admin, out of tolerance, revoked by a later authorization.
GRANT_CODES = frozenset({4711, 4733, 4734, 4735, 4737, 4738, 4740, 4741})


def grant_refused(response: httpx.Response) -> bool:
    """Whether a token endpoint's refusal means only a new authorization helps."""
    if response.status_code not in (400, 401):
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    code = body.get("code")
    return body.get("error") == "invalid_grant" or (isinstance(code, int) and code in GRANT_CODES)


# Zoom rotates the refresh token when it answers; an answer we stop waiting for loses the
# grant. So wait long for it, yet less than the refresh lock's lease (core/locks.py, 30 s),
# so that no other process starts a refresh meanwhile.
TOKEN_TIMEOUT = 20.0

# A Zoom that keeps answering 429 must not hold a job for ever: after this many waits the
# job gives its place back and is delivered again once the last Retry-After has passed.
RATE_LIMIT_WAITS = 3


class ZoomHTTP:
    def __init__(self, settings: ZoomSettings, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self._client = httpx.AsyncClient(
            timeout=settings.request_timeout.total_seconds(), transport=transport
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _send(
        self, method: str, url: str, *, retry: bool = True, **kw: Any
    ) -> httpx.Response:
        """Send with the retry policy; answers any response that is not 429 or 5xx."""
        delays = list(self.settings.retry_delays) if retry else []
        waits = RATE_LIMIT_WAITS if retry else 0
        while True:
            try:
                response = await self._client.request(method, url, **kw)
            except httpx.TimeoutException:
                failure, wait = "Zoom did not answer in time", None
            except httpx.TransportError as exc:
                failure, wait = f"Zoom could not be reached ({type(exc).__name__})", None
            else:
                if response.status_code == 429 and daily_limit(response):
                    raise ZoomDailyLimitError(
                        f"{method}: Zoom's daily limit", resumes_at=next_utc_day(utcnow())
                    )
                if response.status_code == 429:
                    default = self.settings.rate_limit_wait.total_seconds()
                    failure, wait = "Zoom's rate limit", _retry_after(response, default)
                elif response.status_code >= 500:
                    failure, wait = _describe(response), None
                else:
                    return response
            if wait is not None and waits > 0:
                waits, delay = waits - 1, wait
            elif wait is None and delays:
                delay = delays.pop(0)
            else:
                raise ZoomRequestError(
                    f"{method} failed: {failure}", status=0, transient=True, retry_after=wait
                )
            log.warning("zoom %s: %s; trying again in %.1f s", method, failure, delay)
            await asyncio.sleep(delay)

    # ------------------------------------------------------------------- OAuth

    def _basic(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(
            self.settings.client_id, self.settings.client_secret.get_secret_value()
        )

    async def token(self, form: Mapping[str, str], *, retry: bool = True) -> dict[str, Any]:
        """POST /oauth/token (code exchange or refresh) with HTTP Basic client auth. A
        refresh is sent once (``retry=False``): Zoom may have rotated the token already."""
        url = f"{self.settings.oauth_url}/oauth/token"
        form = dict(form)
        response = await self._send(
            "POST", url, retry=retry, data=form, auth=self._basic(), timeout=TOKEN_TIMEOUT
        )
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        text = _describe(response)
        if grant_refused(response):
            raise ZoomGrantError(text)
        # Anything else (invalid_client, a wrong redirect URI) is the platform's own
        # configuration: it must not cost the specialist their grant.
        raise ZoomRequestError(f"token: {text}", status=response.status_code, transient=False)

    async def revoke(self, token: str) -> None:
        url = f"{self.settings.oauth_url}/oauth/revoke"
        response = await self._send("POST", url, data={"token": token}, auth=self._basic())
        if response.status_code not in (200, 400, 401):  # already revoked is fine
            raise ZoomRequestError(
                f"revoke: {_describe(response)}", status=response.status_code, transient=False
            )

    # ------------------------------------------------------------------- REST

    async def api(self, method: str, path: str, access_token: str, **kw: Any) -> httpx.Response:
        """A REST call; raises ZoomAuthError on 401 and ZoomRequestError on other 4xx
        except 404 (the caller decides what a missing meeting means)."""
        headers = {"Authorization": f"Bearer {access_token}"}
        response = await self._send(method, f"{self.settings.api_url}{path}", headers=headers, **kw)
        if response.status_code == 401:
            raise ZoomAuthError(_describe(response))
        if response.status_code >= 400 and response.status_code != 404:
            raise ZoomRequestError(
                f"{method} {path.split('?')[0]}: {_describe(response)}",
                status=response.status_code,
                transient=False,
            )
        return response
