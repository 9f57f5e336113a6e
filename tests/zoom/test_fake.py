"""The fake holds the plugin to Zoom's published contract: a request or a response that
Zoom's OpenAPI documents do not allow is recorded as a violation."""

from __future__ import annotations

import httpx
import pytest
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.zoom_fake import ZoomFake, _OpenAPIRequest, spec_for


@pytest.mark.asyncio(loop_scope="session")
async def test_a_request_outside_the_contract_is_refused_and_recorded(zoom: ZoomFake) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{zoom.url}/v2/users/me/meetings",
            json={"topic": "x", "type": "scheduled", "duration": "long"},
            headers={"Authorization": "Bearer nothing"},
        )
    assert answer.status_code == 400
    assert len(zoom.violations) == 1 and "request" in zoom.violations[0]
    zoom.violations.clear()  # expected here; the fixture fails a test on any other


def test_the_documents_describe_the_calls_the_plugin_makes() -> None:
    for method, path in [
        ("post", "/v2/users/me/meetings"),
        ("get", "/v2/users/me/meetings"),
        ("get", "/v2/meetings/12345678901"),
        ("patch", "/v2/meetings/12345678901"),
        ("delete", "/v2/meetings/12345678901"),
        ("get", "/v2/users/me"),
    ]:
        request = _OpenAPIRequest(
            host_url="https://api.zoom.us",
            path=path,
            method=method,
            parameters=RequestParameters(
                query=ImmutableMultiDict(), header=Headers(), cookie=ImmutableMultiDict()
            ),
            content_type="application/json",
            body=b"{}" if method in ("post", "patch") else None,
        )
        errors = [type(e).__name__ for e in spec_for(path).iter_request_errors(request)]
        assert "PathNotFound" not in errors and "OperationNotFound" not in errors, (path, errors)
