"""The OAuth callback: Zoom sends the specialist's browser here with a code and the state."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from specialistly_zoom.oauth import CALLBACK_PATH, CallbackRefusedError, callback_url, complete
from specialistly_zoom.provider import ZoomProvider

log = logging.getLogger("specialistly_zoom.routes")


def _back(provider: ZoomProvider, **flags: str) -> RedirectResponse:
    target = provider.settings.frontend_url
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}{urlencode(flags)}", status_code=303)


async def oauth_callback(request: Request) -> RedirectResponse:
    runtime = request.app.state.runtime
    provider = runtime.providers.video["zoom"]
    assert isinstance(provider, ZoomProvider)
    params = request.query_params
    try:
        connected = await complete(
            provider.connections,
            state=params.get("state"),
            code=params.get("code"),
            error=params.get("error"),
            redirect_uri=callback_url(runtime.settings.public_url),
        )
    except CallbackRefusedError as exc:
        log.warning("zoom connection refused: %s", exc.reason)
        return _back(provider, zoom="error", reason=exc.reason)
    log.info("zoom connected", extra={"specialist_id": str(connected.specialist_id)})
    return _back(provider, zoom="connected")


ROUTES = [Route(CALLBACK_PATH, oauth_callback, methods=["GET"])]
