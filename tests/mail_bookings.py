"""A specialist with a free service and a customer's booking, over GraphQL, for the email
tests that run the whole way."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.client import Account, GraphQLClient, register

SET_HOURS = """mutation H($input: WeeklyHoursInput!) {
  setWeeklyHours(input: $input) { errors { field code message } } }"""
CREATE_SERVICE = """mutation S($input: CreateServiceInput!) {
  createService(input: $input) { service { id } errors { field code message } } }"""
PUBLISH = """mutation P($id: ID!) { publishService(id: $id) { errors { code } } }"""
SLOTS = """query Q($id: ID!, $from: DateTime!, $to: DateTime!) {
  slots(serviceId: $id, from: $from, to: $to) { start } }"""
BOOK = """mutation B($input: CreateBookingInput!) {
  createBooking(input: $input) { booking { id status } errors { field code message } } }"""


async def specialist_with_service(client: GraphQLClient) -> tuple[Account, str]:
    specialist = await register(client, "SPECIALIST", "Lena Vogel")
    sc = specialist.client
    days = [
        {"weekday": d, "ranges": [{"start": "09:00", "end": "17:00"}]}
        for d in ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
    ]
    hours = {"timezone": "Europe/Berlin", "days": days}
    assert (await sc.data(SET_HOURS, {"input": hours}))["setWeeklyHours"]["errors"] == []
    service = {
        "title": "Strategy session",
        "durationMinutesOptions": [60],
        "price": 0,
        "currency": "EUR",
        "videoProvider": "jitsi",
        "minimumNoticeMinutes": 60,
    }
    created = (await sc.data(CREATE_SERVICE, {"input": service}))["createService"]
    assert created["errors"] == []
    service_id: str = created["service"]["id"]
    assert (await sc.data(PUBLISH, {"id": service_id}))["publishService"]["errors"] == []
    return specialist, service_id


async def first_slot(client: GraphQLClient, service_id: str) -> str:
    now = datetime.now(UTC)
    window = {
        "id": service_id,
        "from": now.isoformat(),
        "to": (now + timedelta(days=14)).isoformat(),
    }
    found: list[dict[str, Any]] = (await client.data(SLOTS, window))["slots"]
    return str(found[0]["start"])


def booking_input(service_id: str, start: str) -> dict[str, Any]:
    return {
        "serviceId": service_id,
        "start": start,
        "durationMinutes": 60,
        "customerTimezone": "America/New_York",
        "idempotencyKey": secrets.token_hex(8),
    }
