"""A Zoom fake on loopback: OAuth grants with refresh-token rotation, meetings per user, and
faults on demand. Every REST request it receives and every response it sends is checked
against Zoom's published OpenAPI documents (specs/zoom/api-hub) with openapi-core; a drift
is recorded in ``violations`` and the fixture fails the test.

OAuth follows specs/zoom/oauth.md: HTTP Basic client auth, form bodies, PKCE S256, a
refresh token that works once (the next refresh needs the new one), error bodies as
observed (``{"reason": ..., "error": "invalid_grant"}``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import uvicorn
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.processes import free_port

SPECS = Path(__file__).resolve().parent / "specs" / "zoom" / "api-hub"
ZOOM_HOST = "https://api.zoom.us"


@cache
def _spec(name: str) -> OpenAPI:
    document = json.loads((SPECS / name).read_text())
    # openapi-core does not check OAuth 2 security schemes (it warns); the fake checks the
    # Bearer token and each operation's granular scope itself (see _SCOPES).
    document.pop("security", None)
    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    return OpenAPI.from_dict(document)


def spec_for(path: str) -> OpenAPI:
    """The users document for /users/me, the meetings document for the rest."""
    if path.rstrip("/") in ("/v2/users/me",):
        return _spec("users.endpoints.json")
    return _spec("meetings.endpoints.json")


@dataclass
class _OpenAPIRequest:
    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    content_type: str
    body: bytes | None


@dataclass
class _OpenAPIResponse:
    status_code: int
    data: bytes
    content_type: str
    headers: Headers


@dataclass
class Grant:
    user_id: str
    scopes: list[str]
    refresh_token: str
    access_token: str
    access_expires: float
    revoked: bool = False


@dataclass
class Fault:
    """One injected failure: ``kind`` is "timeout", "500", "503", "429", "429-daily" (a
    daily limit), "invalid_grant", "invalid_client" or an OAuth code ("4741");
    ``retry_after`` goes with a 429 (None: no header)."""

    kind: str
    retry_after: int | None = None


@dataclass
class User:
    id: str
    email: str
    meetings: dict[int, dict[str, Any]] = field(default_factory=dict)


class ZoomFake:
    def __init__(self, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.users: dict[str, User] = {}
        self.grants: list[Grant] = []
        self.codes: dict[str, dict[str, Any]] = {}
        # The scopes configured on the app in Zoom's marketplace: what a grant carries.
        self.grant_scopes: list[str] = sorted(set(_SCOPES.values()))
        self.consent_user: str | None = None  # the Zoom user who consents next
        self.token_lifetime = 3600
        self.latency = 0.0
        self.timeout_seconds = 3.0
        self.faults: dict[str, deque[Fault]] = {"token": deque(), "api": deque()}
        self.violations: list[str] = []
        self.refreshes = 0
        self.code_exchanges = 0
        self.revocations = 0
        self.creations = 0
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/oauth/authorize", self._authorize, methods=["GET"]),
                Route("/oauth/token", self._token, methods=["POST"]),
                Route("/oauth/revoke", self._revoke, methods=["POST"]),
                Route("/v2/{path:path}", self._api, methods=["GET", "POST", "PATCH", "DELETE"]),
            ]
        )
        self.url = ""

    # ------------------------------------------------------------------- test controls

    def add_user(self, email: str) -> User:
        user = User(id=secrets.token_urlsafe(16), email=email)
        self.users[user.id] = user
        self.consent_user = user.id
        return user

    def fail(self, where: str, kind: str, times: int = 1, retry_after: int | None = None) -> None:
        """Make the next `times` requests to `where` ("token" or "api") fail with `kind`."""
        for _ in range(times):
            self.faults[where].append(Fault(kind, retry_after))

    def expire_access_tokens(self) -> None:
        for grant in self.grants:
            grant.access_expires = 0

    def revoke_all(self) -> None:
        for grant in self.grants:
            grant.revoked = True

    def meetings(self, user: User) -> list[dict[str, Any]]:
        return list(user.meetings.values())

    # ------------------------------------------------------------------- shared

    async def _delay_and_fault(self, where: str) -> Response | None:
        if self.latency:
            await asyncio.sleep(self.latency)
        with self._lock:
            fault = self.faults[where].popleft() if self.faults[where] else None
        if fault is None:
            return None
        if fault.kind == "timeout":
            await asyncio.sleep(self.timeout_seconds)
            return JSONResponse({"code": 500, "message": "late"}, status_code=500)
        if fault.kind == "429":
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            body = {"code": 429, "message": "You have reached the maximum per-second rate limit"}
            return JSONResponse(body, status_code=429, headers=headers)
        if fault.kind == "429-daily":  # as Zoom answers a user's 101st creation of the day
            return JSONResponse(_DAILY_LIMIT, status_code=429, headers=_daily_limit_headers())
        if fault.kind == "invalid_grant":
            return JSONResponse({"reason": "Invalid Token!", "error": "invalid_grant"}, 400)
        if fault.kind == "invalid_client":
            body = {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
            return JSONResponse(body, 401)
        if fault.kind.startswith("47"):  # one of Zoom's OAuth error codes
            return JSONResponse({"code": int(fault.kind), "message": "OAuth error"}, 400)
        return JSONResponse({"code": int(fault.kind), "message": "fault"}, int(fault.kind))

    def _client_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        expected = f"{self.client_id}:{self.client_secret}".encode()
        return secrets.compare_digest(base64.b64decode(header[6:]), expected)

    def _issue(self, user_id: str, scopes: list[str]) -> Grant:
        grant = Grant(
            user_id=user_id,
            scopes=scopes,
            refresh_token=secrets.token_urlsafe(24),
            access_token=secrets.token_urlsafe(24),
            access_expires=time.time() + self.token_lifetime,
        )
        self.grants.append(grant)
        return grant

    def _token_body(self, grant: Grant) -> dict[str, Any]:
        return {
            "access_token": grant.access_token,
            "token_type": "bearer",
            "refresh_token": grant.refresh_token,
            "expires_in": self.token_lifetime,
            "scope": " ".join(grant.scopes),
            "api_url": ZOOM_HOST,
        }

    # ------------------------------------------------------------------- OAuth

    async def _authorize(self, request: Request) -> Response:
        """Zoom's consent page, consented at once by ``consent_user`` (or denied if None)."""
        q = request.query_params
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return JSONResponse({"error": "invalid_request"}, 400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "reason": "PKCE required"}, 400)
        back = q["redirect_uri"]
        if self.consent_user is None:
            return RedirectResponse(
                f"{back}?{urlencode({'error': 'access_denied', 'state': q.get('state', '')})}"
            )
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "user": self.consent_user,
            "redirect_uri": back,
            "challenge": q["code_challenge"],
            "expires": time.time() + 300,
        }
        return RedirectResponse(f"{back}?{urlencode({'code': code, 'state': q.get('state', '')})}")

    async def _token(self, request: Request) -> Response:
        if (faulty := await self._delay_and_fault("token")) is not None:
            return faulty
        if not self._client_ok(request):
            return JSONResponse(
                {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, 401
            )
        if (
            request.headers.get("content-type", "").split(";")[0]
            != "application/x-www-form-urlencoded"
        ):
            return JSONResponse({"reason": "form body expected", "error": "invalid_request"}, 400)
        form = await _form(request)
        kind = form.get("grant_type")
        with self._lock:
            if kind == "authorization_code":
                return self._exchange(form)
            if kind == "refresh_token":
                return self._refresh(form.get("refresh_token", ""))
        return JSONResponse(
            {"reason": "Unsupported grant type", "error": "unsupported_grant_type"}, 400
        )

    def _exchange(self, form: dict[str, str]) -> Response:
        self.code_exchanges += 1
        pending = self.codes.pop(form.get("code", ""), None)  # a code works once
        bad = JSONResponse({"reason": "Invalid authorization code", "error": "invalid_grant"}, 400)
        if pending is None or pending["expires"] < time.time():
            return bad
        if form.get("redirect_uri") != pending["redirect_uri"]:
            return JSONResponse(
                {"reason": "Redirect URI mismatch.", "error": "invalid_request"}, 400
            )
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).decode().rstrip("=") != pending["challenge"]:
            return bad
        return JSONResponse(self._token_body(self._issue(pending["user"], self.grant_scopes)))

    def _refresh(self, refresh_token: str) -> Response:
        for grant in self.grants:
            if grant.refresh_token == refresh_token and not grant.revoked:
                self.refreshes += 1
                grant.refresh_token = secrets.token_urlsafe(24)  # rotated: the old one is dead
                grant.access_token = secrets.token_urlsafe(24)
                grant.access_expires = time.time() + self.token_lifetime
                return JSONResponse(self._token_body(grant))
        return JSONResponse({"reason": "Invalid Token!", "error": "invalid_grant"}, 400)

    async def _revoke(self, request: Request) -> Response:
        if not self._client_ok(request):
            return JSONResponse({"reason": "Invalid client", "error": "invalid_client"}, 401)
        token = (await _form(request)).get("token", "")
        for grant in self.grants:
            if token in (grant.access_token, grant.refresh_token):
                grant.revoked = True
                self.revocations += 1
        return JSONResponse({"status": "success"})

    # ------------------------------------------------------------------- REST

    async def _api(self, request: Request) -> Response:
        body = await request.body()
        checked = self._openapi_request(request, body)
        problems = list(spec_for(request.url.path).iter_request_errors(checked))
        if problems:
            self.violations.append(f"{request.method} {request.url.path}: request: {problems}")
            return JSONResponse({"code": 300, "message": "Invalid request"}, 400)
        if (faulty := await self._delay_and_fault("api")) is not None:
            return faulty
        response = self._answer(request, body)
        if response.status_code != 401:  # Zoom documents no 401; its body is a forum report
            self._check_response(request, body, response)
        return response

    def _openapi_request(self, request: Request, body: bytes) -> _OpenAPIRequest:
        return _OpenAPIRequest(
            host_url=ZOOM_HOST,
            path=request.url.path,
            method=request.method.lower(),
            parameters=RequestParameters(
                query=ImmutableMultiDict(list(request.query_params.multi_items())),
                header=Headers(list(request.headers.items())),
                cookie=ImmutableMultiDict(),
            ),
            content_type=request.headers.get("content-type", ""),
            body=body or None,
        )

    def _check_response(self, request: Request, body: bytes, response: Response) -> None:
        checked = _OpenAPIResponse(
            status_code=response.status_code,
            data=bytes(response.body),
            content_type=response.headers.get("content-type", "application/json"),
            headers=Headers(list(response.headers.items())),
        )
        spec = spec_for(request.url.path)
        problems = list(spec.iter_response_errors(self._openapi_request(request, body), checked))
        if problems:
            self.violations.append(f"{request.method} {request.url.path}: response: {problems}")

    def _grant(self, request: Request) -> Grant | None:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ")
        for grant in self.grants:
            if grant.access_token == token and not grant.revoked:
                return grant if grant.access_expires > time.time() else None
        return None

    def _answer(self, request: Request, body: bytes) -> Response:
        grant = self._grant(request)
        if grant is None:
            return JSONResponse({"code": 124, "message": "Invalid access token."}, 401)
        user = self.users[grant.user_id]
        path, method = request.url.path, request.method
        self.calls.append((method, path))
        needed = _SCOPES.get(
            (method, "/v2/meetings/{id}" if path.startswith("/v2/meetings/") else path)
        )
        if needed and needed not in grant.scopes:
            message = f"Invalid access token, does not contain scopes:[{needed}]."
            return JSONResponse({"code": 4711, "message": message}, 400)
        if path == "/v2/users/me":
            return JSONResponse(_user_body(user))
        if path == "/v2/users/me/meetings":
            if method == "POST":
                return self._create(user, json.loads(body))
            return self._list(user)
        meeting_id = int(path.rsplit("/", 1)[1])
        meeting = user.meetings.get(meeting_id)
        if meeting is None:
            body404 = {"code": 3001, "message": f"Meeting does not exist: {meeting_id}."}
            return JSONResponse(body404, 404)
        if method == "GET":
            # As Zoom does: each read carries a start_url with a new host key.
            meeting["start_url"] = self._start_url(meeting_id)
            return JSONResponse(meeting)
        if method == "DELETE":
            del user.meetings[meeting_id]
            return Response(status_code=204)
        changes = json.loads(body)
        meeting.update(
            {k: changes[k] for k in ("start_time", "duration", "timezone", "topic") if k in changes}
        )
        return Response(status_code=204)

    def _create(self, user: User, body: dict[str, Any]) -> Response:
        with self._lock:
            self.creations += 1
            meeting_id = secrets.randbelow(9 * 10**10) + 10**10
        password = secrets.token_urlsafe(6)
        meeting = {
            "id": meeting_id,
            "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
            "host_id": user.id,
            "host_email": user.email,
            "topic": body.get("topic", ""),
            "type": body.get("type", 2),
            "status": "waiting",
            "start_time": body.get("start_time"),
            "duration": body.get("duration"),
            "timezone": body.get("timezone", "UTC"),
            "agenda": body.get("agenda", ""),
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "start_url": self._start_url(meeting_id),
            "join_url": f"{self.url}/j/{meeting_id}?pwd={password}",
            "password": password,
            "settings": {
                "waiting_room": body.get("settings", {}).get("waiting_room", False),
                "join_before_host": body.get("settings", {}).get("join_before_host", False),
                "auto_recording": body.get("settings", {}).get("auto_recording", "none"),
            },
        }
        user.meetings[meeting_id] = meeting
        return JSONResponse(meeting, status_code=201)

    def _start_url(self, meeting_id: int) -> str:
        return f"{self.url}/s/{meeting_id}?zak={secrets.token_urlsafe(16)}"

    def _list(self, user: User) -> Response:
        keys = (
            "id",
            "uuid",
            "host_id",
            "topic",
            "type",
            "start_time",
            "duration",
            "timezone",
            "agenda",
            "created_at",
            "join_url",
        )
        meetings = [{k: m[k] for k in keys} for m in user.meetings.values()]
        return JSONResponse(
            {
                "page_size": 300,
                "total_records": len(meetings),
                "next_page_token": "",
                "meetings": meetings,
            }
        )


# Zoom's answer to a user's meeting creation or update past the day's 100 (as reported on
# Zoom's developer forum), with the headers its rate-limit documentation shows.
_DAILY_LIMIT = {
    "code": 429,
    "message": "You have exceeded the daily rate limit (100) of Meeting Create/Update API"
    " requests permitted for this particular user. You may resume these requests at GMT"
    " 00:00:00.",
}


def _daily_limit_headers() -> dict[str, str]:
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    return {
        "X-RateLimit-Category": "Medium",
        "X-RateLimit-Type": "Daily-limit",
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "0",
        "Retry-After": f"{tomorrow.isoformat()}T00:00:00Z",
    }


async def _form(request: Request) -> dict[str, str]:
    """A form body (parsed here: Starlette's own parser needs python-multipart)."""
    return {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}


def _user_body(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "first_name": "Zoom",
        "last_name": "User",
        "type": 1,
        "status": "active",
        "timezone": "UTC",
        "verified": 1,
    }


# The granular scope each call needs, per specs/zoom/api-hub (x-granular-scopes).
_SCOPES = {
    ("POST", "/v2/users/me/meetings"): "meeting:write:meeting",
    ("GET", "/v2/users/me/meetings"): "meeting:read:list_meetings",
    ("GET", "/v2/meetings/{id}"): "meeting:read:meeting",
    ("PATCH", "/v2/meetings/{id}"): "meeting:update:meeting",
    ("DELETE", "/v2/meetings/{id}"): "meeting:delete:meeting",
    ("GET", "/v2/users/me"): "user:read:user",
}


def run(fake: ZoomFake) -> Iterator[ZoomFake]:
    """Serve the fake on a free loopback port in a thread until the generator is closed."""
    spec_for("/v2/users/me"), spec_for("/v2/meetings/1")  # parse the documents once, up front
    port = free_port()
    fake.url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(
        fake.app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="zoom-fake", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the Zoom fake did not start")
        time.sleep(0.02)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=5)
