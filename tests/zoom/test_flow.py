"""The whole way through with the Zoom fake, over HTTP, with a real API server and worker:
a specialist connects Zoom, a customer books, the meeting exists exactly once, both see the
join link and only the specialist the host link; cancelling deletes it; disconnecting
revokes the grant. No response carries a token."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from pymongo import MongoClient

from specialistly_zoom.crypto import new_key
from specialistly_zoom.webhooks import URL_VALIDATION
from tests.client import Account, GraphQLClient, register
from tests.e2e.test_booking_flow import BOOK, booking_input, slots, specialist_with_service
from tests.metrics_text import parse, value
from tests.processes import Process
from tests.servers import serve
from tests.waiting import eventually
from tests.zoom_fake import ZoomFake, run
from tests.zoom_webhooks.deliveries import SECRET, deliver, example, signed_headers

pytestmark = pytest.mark.asyncio(loop_scope="session")

CONNECTION = """{ zoomConnection { status email scopes missingScopes expiresAt revoked
  lastError connectedAt } }"""
CONNECT = "mutation { connectZoom { authorizeUrl errors { code message } } }"
DISCONNECT = "mutation { disconnectZoom { disconnected errors { code message } } }"
MEETING = (
    """query G($id: ID!) { booking(id: $id) { status meetingStatus"""
    """ meeting { provider joinUrl startUrl } } }"""
)
RECORD = """mutation R($input: UpdateServiceInput!) {
  updateService(input: $input) { service { autoRecording } errors { code } } }"""
CANCEL = """mutation C($id: ID!) { cancelBooking(id: $id, reason: "Clash") { errors { code } } }"""
FRONTEND = "http://frontend.example/settings/zoom"


@pytest.fixture(scope="module")
def zoom_module() -> Iterator[ZoomFake]:
    fake = ZoomFake(client_id=f"client-{secrets.token_hex(4)}", client_secret=secrets.token_hex(16))
    yield from run(fake)
    assert fake.violations == []


@pytest.fixture(scope="module")
def zoom_env(
    test_env: dict[str, str], zoom_module: ZoomFake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    # A database and queues of its own: the session's worker knows no Zoom settings, and
    # would otherwise take (and fail) the meetings of these bookings.
    name = f"zoom_{secrets.token_hex(4)}"
    key = new_key()
    yield {
        **test_env,
        "SPECIALISTLY_DATABASE": name,
        "SPECIALISTLY_BROKER_NAMESPACE": name,
        "SPECIALISTLY_ZOOM_CLIENT_ID": zoom_module.client_id,
        "SPECIALISTLY_ZOOM_CLIENT_SECRET": zoom_module.client_secret,
        "SPECIALISTLY_ZOOM_OAUTH_URL": zoom_module.url,
        "SPECIALISTLY_ZOOM_API_URL": f"{zoom_module.url}/v2",
        "SPECIALISTLY_ZOOM_TOKEN_KEYS": f'["{SecretStr(key).get_secret_value()}"]',
        "SPECIALISTLY_ZOOM_FRONTEND_URL": FRONTEND,
        "SPECIALISTLY_ZOOM_CREATION_INTERVAL": "PT0S",
        "SPECIALISTLY_ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
        # The API and the worker add up their metrics in one directory.
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("zoom-metrics")),
    }
    with MongoClient[dict[str, Any]](test_env["MONGODB_URL"]) as mongo:
        mongo.drop_database(name)


@pytest.fixture(scope="module")
def zoom_api(zoom_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(zoom_env, tmp_path_factory.mktemp("zoom-api"), "zoom-api")


@pytest.fixture(scope="module")
def zoom_worker(
    zoom_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Process]:
    worker = Process(
        "zoom-worker", ["worker", "--threads", "2"], zoom_env, Path(tmp_path_factory.mktemp("zw"))
    )
    worker.start()
    yield worker
    worker.stop()


async def connect_over_http(zoom_api: str, specialist: Account) -> str:
    """Follow connectZoom's URL to the fake's consent and back to the platform's callback;
    answers where the platform finally sends the browser."""
    payload = (await specialist.client.data(CONNECT))["connectZoom"]
    assert payload["errors"] == []
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(payload["authorizeUrl"])
        back = urlsplit(consent.headers["location"])
        callback = await browser.get(f"{zoom_api}{back.path}?{back.query}")
        assert callback.status_code == 303
        return str(callback.headers["location"])


async def test_connect_book_cancel_disconnect(
    zoom_module: ZoomFake, zoom_api: str, zoom_worker: Process
) -> None:
    zoom = zoom_module
    client = GraphQLClient(zoom_api)
    zoom_user = zoom.add_user("lena@zoom.example")
    specialist, service_id = await specialist_with_service(client, provider="zoom")
    assert (await specialist.client.data(CONNECTION))["zoomConnection"] is None
    assert await slots(client, service_id, "UTC") == []  # no Zoom account, no slots

    landed = await connect_over_http(zoom_api, specialist)

    assert landed == f"{FRONTEND}?zoom=connected"
    connection = (await specialist.client.data(CONNECTION))["zoomConnection"]
    assert connection["status"] == "CONNECTED" and connection["email"] == "lena@zoom.example"
    assert connection["missingScopes"] == [] and not connection["revoked"]

    recording = {"input": {"id": service_id, "autoRecording": "CLOUD"}}
    recorded = (await specialist.client.data(RECORD, recording))["updateService"]
    assert recorded == {"service": {"autoRecording": "CLOUD"}, "errors": []}
    customer = await register(client, name="Noah Price")
    chosen = (await slots(customer.client, service_id, "UTC"))[0]["start"]
    made = await customer.client.data(BOOK, {"input": booking_input(service_id, chosen)})
    booking_id = made["createBooking"]["booking"]["id"]

    async def meeting_of(account: Account) -> dict[str, Any] | None:
        found = (await account.client.data(MEETING, {"id": booking_id}))["booking"]
        meeting: dict[str, Any] | None = found["meeting"]
        assert found["meetingStatus"] == ("CREATED" if meeting else "PENDING")
        return meeting

    # The worker may still be starting: imports alone take half a minute on a loaded machine.
    seen_by_customer = await eventually(lambda: meeting_of(customer), within=120)
    [created] = zoom.meetings(zoom_user)
    assert seen_by_customer == {
        "provider": "zoom",
        "joinUrl": created["join_url"],
        "startUrl": None,
    }
    seen_by_specialist = await meeting_of(specialist)
    assert seen_by_specialist is not None
    # Fetched from Zoom as it is asked for, with the host key Zoom gave then.
    assert seen_by_specialist["startUrl"] == created["start_url"]
    asked_again = await meeting_of(specialist)
    assert asked_again is not None
    assert asked_again["startUrl"] == created["start_url"] != seen_by_specialist["startUrl"]
    assert created["topic"] == "Strategy session \N{EN DASH} Noah Price"
    assert created["timezone"] == "Europe/Berlin"
    assert created["settings"]["auto_recording"] == "cloud"

    cancelled = await specialist.client.data(CANCEL, {"id": booking_id})
    assert cancelled["cancelBooking"]["errors"] == []
    await eventually(lambda: _none_left(zoom, zoom_user.id), within=60)

    answered = await specialist.client.execute(CONNECTION)
    assert not [
        g
        for g in zoom.grants
        if g.access_token in str(answered) or g.refresh_token in str(answered)
    ]
    gone = (await specialist.client.data(DISCONNECT))["disconnectZoom"]
    assert gone == {"disconnected": True, "errors": []}
    assert zoom.grants[-1].revoked
    assert (await specialist.client.data(CONNECTION))["zoomConnection"] is None
    assert await slots(client, service_id, "UTC") == []


async def _none_left(zoom: ZoomFake, user_id: str) -> bool:
    return not zoom.users[user_id].meetings


async def test_a_reused_state_is_sent_back_with_an_error(
    zoom_module: ZoomFake, zoom_api: str
) -> None:
    client = GraphQLClient(zoom_api)
    zoom_module.add_user("twice@zoom.example")
    specialist = await register(client, "SPECIALIST", "Twice")
    payload = (await specialist.client.data(CONNECT))["connectZoom"]
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(payload["authorizeUrl"])
        back = urlsplit(consent.headers["location"])
        first = await browser.get(f"{zoom_api}{back.path}?{back.query}")
        second = await browser.get(f"{zoom_api}{back.path}?{back.query}")

    assert first.headers["location"] == f"{FRONTEND}?zoom=connected"
    flags = parse_qs(urlsplit(second.headers["location"]).query)
    assert flags == {"zoom": ["error"], "reason": ["invalid_state"]}


async def test_only_a_specialist_connects_zoom(zoom_api: str) -> None:
    customer = await register(GraphQLClient(zoom_api), name="Not a specialist")

    answer = await customer.client.execute(CONNECT)

    assert answer["data"]["connectZoom"]["errors"][0]["code"] == "FORBIDDEN"


async def book_with_zoom(zoom: ZoomFake, zoom_api: str, email: str) -> tuple[Account, str, str]:
    """A connected specialist's Zoom service, and a booking of it whose meeting exists:
    (the specialist, the service's id, the booking's id)."""
    client = GraphQLClient(zoom_api)
    zoom.add_user(email)
    specialist, service_id = await specialist_with_service(client, provider="zoom")
    assert await connect_over_http(zoom_api, specialist) == f"{FRONTEND}?zoom=connected"
    customer = await register(client, name="Maya Client")
    chosen = (await slots(customer.client, service_id, "UTC"))[0]["start"]
    made = await customer.client.data(BOOK, {"input": booking_input(service_id, chosen)})
    booking_id = made["createBooking"]["booking"]["id"]

    async def meeting() -> dict[str, Any] | None:
        found = await specialist.client.data(MEETING, {"id": booking_id})
        return found["booking"]["meeting"]  # type: ignore[no-any-return]

    await eventually(meeting, within=120)
    return specialist, service_id, booking_id


async def test_a_user_who_removes_the_app_loses_the_tokens_and_the_slots(
    zoom_module: ZoomFake, zoom_api: str, zoom_worker: Process
) -> None:
    client = GraphQLClient(zoom_api)
    zoom_user = zoom_module.add_user("leaving@zoom.example")
    specialist, service_id = await specialist_with_service(client, provider="zoom")
    await connect_over_http(zoom_api, specialist)
    assert await slots(client, service_id, "UTC") != []

    body = example("app_deauthorized")
    body["payload"]["user_id"] = zoom_user.id
    body["payload"]["event_ts"] = str(time.time())
    assert (await deliver(zoom_api, body)).json() == {"status": "handled"}

    async def forgotten() -> bool:  # the worker hands the event to the Zoom plugin
        connection = (await specialist.client.data(CONNECTION))["zoomConnection"]
        return bool(connection["revoked"]) and connection["email"] == ""

    await eventually(forgotten, within=120)
    assert await slots(client, service_id, "UTC") == []


async def test_zoom_work_is_measured_on_metrics(
    zoom_module: ZoomFake, zoom_api: str, zoom_worker: Process
) -> None:
    zoom = zoom_module
    specialist, _, booking_id = await book_with_zoom(zoom, zoom_api, "measured@zoom.example")
    zoom.expire_access_tokens()  # Zoom refuses the next call's token: one refresh
    cancelled = await specialist.client.data(CANCEL, {"id": booking_id})
    assert cancelled["cancelBooking"]["errors"] == []
    validation = {"event": URL_VALIDATION, "payload": {"plainToken": "abc"}}
    assert (await deliver(zoom_api, validation)).status_code == 200
    forged = signed_headers(b"{}", secret="not-the-secret")
    assert (await deliver(zoom_api, b"{}", forged)).status_code == 401

    async def measured() -> dict[str, float | None] | None:
        async with httpx.AsyncClient(timeout=10) as http:
            scraped = parse((await http.get(f"{zoom_api}/metrics")).text)
        seen = {
            "created": value(scraped, "specialistly_zoom_meetings_created_total"),
            "timed": value(scraped, "specialistly_zoom_meeting_creation_seconds_count"),
            "refreshed": value(scraped, "specialistly_zoom_token_refreshes_total"),
            "received": value(
                scraped, "specialistly_zoom_webhooks_received_total", event=URL_VALIDATION
            ),
            "rejected": value(
                scraped, "specialistly_zoom_webhooks_rejected_total", reason="signature"
            ),
        }
        return seen if all(v is not None and v >= 1 for v in seen.values()) else None

    await eventually(measured, within=120)
