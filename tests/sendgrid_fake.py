"""A SendGrid Mail Send fake on loopback that checks every request against SendGrid's
published OpenAPI document and answers what the test scripted (202 by default)."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.processes import free_port

SPEC = Path(__file__).resolve().parent / "specs" / "sendgrid" / "tsg_mail_v3.json"
_api: OpenAPI | None = None


def sendgrid_spec() -> OpenAPI:
    global _api
    if _api is None:
        _api = OpenAPI.from_dict(json.loads(SPEC.read_text()))
    return _api


@dataclass
class Scripted:
    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (longer than the client waits: a timeout)


@dataclass
class Sent:
    body: dict[str, Any]
    message_id: str


class SendgridFake:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.script: list[Scripted] = []  # answers to the next requests, in order
        self.requests = 0
        self.accepted: list[Sent] = []
        self.invalid: list[str] = []  # why each request that breaks the spec does
        app = Starlette(routes=[Route("/v3/mail/send", self._send, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        config.lifespan = "off"
        config.ws = "none"
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    async def _send(self, request: Request) -> Response:
        self.requests += 1
        body = await request.body()
        checked = MockRequest(
            "https://api.sendgrid.com",
            "post",
            "/v3/mail/send",
            headers=dict(request.headers),
            data=body,
            content_type=request.headers.get("content-type", ""),
        )
        try:
            sendgrid_spec().validate_request(checked)
        except Exception as exc:
            self.invalid.append(f"{type(exc).__name__}: {exc}; caused by {exc.__cause__!r}")
            return JSONResponse({"errors": [{"message": "invalid request"}]}, status_code=400)
        answer = self.script.pop(0) if self.script else Scripted()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.status != 202:
            error = {"errors": [{"message": f"scripted {answer.status}"}]}
            return JSONResponse(error, status_code=answer.status, headers=answer.headers)
        message_id = secrets.token_urlsafe(16)
        self.accepted.append(Sent(json.loads(body), message_id))
        return Response(status_code=202, headers={"X-Message-Id": message_id})

    def start(self) -> SendgridFake:
        sendgrid_spec()
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the SendGrid fake did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
