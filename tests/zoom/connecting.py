"""Connecting a specialist to the Zoom fake the way a browser would: follow the authorize
URL to the fake's consent, then hand its redirect to the plugin's callback logic."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from beanie import PydanticObjectId

from specialistly_zoom import oauth
from specialistly_zoom.provider import ZoomProvider

REDIRECT = "http://127.0.0.1:9/plugins/zoom/oauth/callback"


async def consent(provider: ZoomProvider, specialist_id: PydanticObjectId) -> dict[str, str]:
    """The query Zoom redirects the browser back with (code and state, or an error)."""
    url = await oauth.authorize_url(provider.connections, specialist_id, REDIRECT)
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(url)
    assert answer.status_code in (302, 307), answer.text
    back = urlsplit(answer.headers["location"])
    return {key: values[0] for key, values in parse_qs(back.query).items()}


async def connect(provider: ZoomProvider, specialist_id: PydanticObjectId) -> oauth.Connected:
    query = await consent(provider, specialist_id)
    return await oauth.complete(
        provider.connections,
        state=query.get("state"),
        code=query.get("code"),
        error=query.get("error"),
        redirect_uri=REDIRECT,
    )
