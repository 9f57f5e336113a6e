"""Services, working hours, slots and the marketplace over HTTP against the running API."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.client import Account, GraphQLClient, register

SERVICE_FIELDS = """
  id title description durationMinutesOptions price currency bufferBeforeMinutes
  bufferAfterMinutes minimumNoticeMinutes horizonDays slotIntervalMinutes videoProvider
  maxPerDay maxPerWeek status
  policy { cancelMinutesBefore refundPercent lateRefundPercent }
  specialist { id displayName }
"""
CREATE = f"""
mutation Create($input: CreateServiceInput!) {{
  createService(input: $input) {{ service {{ {SERVICE_FIELDS} }} errors {{ field code message }} }}
}}
"""
UPDATE = """
mutation Update($input: UpdateServiceInput!) {
  updateService(input: $input) { service { id title price maxPerDay } errors { field code } }
}
"""
PUBLISH = """
mutation Publish($id: ID!) {
  publishService(id: $id) { service { id status } errors { field code } }
}
"""
ARCHIVE = """
mutation Archive($id: ID!) {
  archiveService(id: $id) { service { id status } errors { field code } }
}
"""
MY_SERVICES = """
query Mine($status: [ServiceStatus!]) {
  myServices(status: $status) { totalCount nodes { id title price status } }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { ... on Service { id title status } } }"
WEEKLY = """
mutation Weekly($input: WeeklyHoursInput!) {
  setWeeklyHours(input: $input) {
    availability { timezone weekly { weekday ranges { start end } } overrides { date } }
    errors { field code message }
  }
}
"""
OVERRIDE = """
mutation Override($input: DateOverrideInput!) {
  setDateOverride(input: $input) {
    availability { overrides { date ranges { start end } } }
    errors { field code message }
  }
}
"""
REMOVE_OVERRIDE = """
mutation Remove($date: String!) {
  removeDateOverride(date: $date) { availability { overrides { date } } errors { field code } }
}
"""
MY_HOURS = (
    "{ myAvailability { timezone weekly { weekday ranges { start end } } overrides { date } } }"
)
SLOTS = """
query Slots($id: ID!, $from: DateTime!, $to: DateTime!, $tz: String, $minutes: Int) {
  slots(serviceId: $id, from: $from, to: $to, timezone: $tz, durationMinutes: $minutes) {
    start end
    startLocal { dateTime date time timezone }
    endLocal { dateTime date time timezone }
  }
}
"""
UPDATE_PROFILE = """
mutation Profile($input: UpdateProfileInput!) {
  updateProfile(input: $input) { user { specialistProfile { slug } } errors { code } }
}
"""
SEARCH = """
query Search($first: Int!, $after: String, $tag: String, $price: PriceRangeInput,
             $text: String) {
  specialists(first: $first, after: $after, expertise: $tag, price: $price, text: $text) {
    totalCount pageInfo { hasNextPage endCursor } nodes { slug displayName priceMin priceMax }
  }
}
"""
PAGE = """
query Page($slug: String!, $tz: String, $minutes: Int) {
  specialist(slug: $slug, timezone: $tz) {
    specialist { displayName priceMin priceMax }
    offers {
      service { title status }
      nextSlots { start end startLocal { dateTime } }
      longest: nextSlots(durationMinutes: $minutes) { start end }
    }
  }
}
"""

BASIC = {
    "title": "Career chat",
    "durationMinutesOptions": [60],
    "price": 5000,
    "minimumNoticeMinutes": 0,
}
WORKDAY = [{"start": "09:00", "end": "17:00"}]


def codes(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


def error_code(body: dict[str, Any]) -> str:
    return str(body["errors"][0].get("extensions", {}).get("code", ""))


async def create(account: Account, **fields: Any) -> dict[str, Any]:
    data = await account.client.data(CREATE, {"input": {**BASIC, **fields}})
    payload: dict[str, Any] = data["createService"]
    return payload


async def published_service(account: Account, **fields: Any) -> str:
    payload = await create(account, **fields)
    assert payload["errors"] == [], payload["errors"]
    service_id: str = payload["service"]["id"]
    published = await account.client.data(PUBLISH, {"id": service_id})
    assert published["publishService"]["errors"] == []
    return service_id


async def my_services(account: Account) -> dict[str, Any]:
    result: dict[str, Any] = (await account.client.data(MY_SERVICES))["myServices"]
    return result


async def set_hours(account: Account, tz: str, days: list[dict[str, Any]]) -> None:
    result = await account.client.data(WEEKLY, {"input": {"timezone": tz, "days": days}})
    assert result["setWeeklyHours"]["errors"] == [], result


# --------------------------------------------------------------------------- services


async def test_service_lifecycle(client: GraphQLClient) -> None:
    ann = await register(client, "SPECIALIST", "Ann Smith")
    created = await create(
        ann,
        description="Talk about your next step.",
        durationMinutesOptions=[60, 30],
        currency="EUR",
        bufferAfterMinutes=10,
        maxPerDay=4,
        policy={"refundPercent": 50},
    )
    assert created["errors"] == []
    service = created["service"]
    assert service["durationMinutesOptions"] == [30, 60]
    assert (service["currency"], service["videoProvider"], service["status"]) == (
        "eur",
        "jitsi",
        "DRAFT",
    )
    assert service["policy"] == {
        "cancelMinutesBefore": 1440,
        "refundPercent": 50,
        "lateRefundPercent": 0,
    }
    assert service["specialist"] == {"id": ann.id, "displayName": "Ann Smith"}

    # A draft is the owner's alone.
    assert (await client.data(NODE, {"id": service["id"]}))["node"] is None
    assert (await ann.client.data(NODE, {"id": service["id"]}))["node"]["status"] == "DRAFT"

    updated = await ann.client.data(
        UPDATE, {"input": {"id": service["id"], "price": 6000, "maxPerDay": None}}
    )
    assert updated["updateService"] == {
        "service": {"id": service["id"], "title": "Career chat", "price": 6000, "maxPerDay": None},
        "errors": [],
    }
    published = await ann.client.data(PUBLISH, {"id": service["id"]})
    assert published["publishService"]["service"]["status"] == "PUBLISHED"
    assert (await client.data(NODE, {"id": service["id"]}))["node"]["title"] == "Career chat"

    mine = await my_services(ann)
    assert mine["totalCount"] == 1 and mine["nodes"][0]["price"] == 6000
    archived = await ann.client.data(ARCHIVE, {"id": service["id"]})
    assert archived["archiveService"]["service"]["status"] == "ARCHIVED"
    drafts = await ann.client.data(MY_SERVICES, {"status": ["DRAFT"]})
    assert drafts["myServices"]["totalCount"] == 0
    either = await ann.client.data(MY_SERVICES, {"status": ["DRAFT", "ARCHIVED"]})
    assert either["myServices"]["totalCount"] == 1
    one = await ann.client.data("{ myServices(status: ARCHIVED) { totalCount } }")
    assert one["myServices"]["totalCount"] == 1  # a single status is a list of one


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"title": "x" * 121}, [("input.title", "TOO_LONG")]),
        ({"title": "   "}, [("input.title", "REQUIRED")]),
        ({"description": "x" * 5001}, [("input.description", "TOO_LONG")]),
        ({"price": -100}, [("input.price", "INVALID")]),
        ({"price": 10_000_001}, [("input.price", "INVALID")]),
        (
            {"durationMinutesOptions": [7, 500]},
            [
                ("input.durationMinutesOptions.0", "INVALID"),
                ("input.durationMinutesOptions.1", "INVALID"),
            ],
        ),
        ({"durationMinutesOptions": []}, [("input.durationMinutesOptions", "REQUIRED")]),
        ({"currency": "doubloons"}, [("input.currency", "INVALID")]),
        ({"videoProvider": "skype"}, [("input.videoProvider", "INVALID")]),
        (
            {"bufferBeforeMinutes": -5, "slotIntervalMinutes": 3},
            [("input.bufferBeforeMinutes", "INVALID"), ("input.slotIntervalMinutes", "INVALID")],
        ),
        ({"horizonDays": 400}, [("input.horizonDays", "INVALID")]),
        ({"bufferAfterMinutes": None}, [("input.bufferAfterMinutes", "INVALID")]),
    ],
)
async def test_bad_service_input_is_reported_and_nothing_written(
    client: GraphQLClient, fields: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    ann = await register(client, "SPECIALIST")
    payload = await create(ann, **fields)
    assert payload["service"] is None
    assert codes(payload) == expected
    assert (await my_services(ann))["totalCount"] == 0


@pytest.mark.parametrize(
    "input_",
    [
        {"durationMinutesOptions": [60], "price": 100},  # no title
        {**BASIC, "price": "100"},  # a string for an Int
        {**BASIC, "price": 1.5},
        {**BASIC, "title": {"$gt": ""}},  # an operator object for a String
        {**BASIC, "durationMinutesOptions": {"$ne": None}},
        {**BASIC, "unknownField": 1},
        {**BASIC, "price": 2**40},  # beyond GraphQL's 32-bit Int
    ],
)
async def test_malformed_service_input_is_a_graphql_error(
    client: GraphQLClient, input_: dict[str, Any]
) -> None:
    ann = await register(client, "SPECIALIST")
    body = await ann.client.execute(CREATE, {"input": input_})
    assert body["errors"] and body.get("data") is None
    assert (await my_services(ann))["totalCount"] == 0


async def test_injection_looking_strings_are_plain_text(client: GraphQLClient) -> None:
    ann = await register(client, "SPECIALIST")
    payload = await create(ann, title='{"$gt": ""}', description="'; db.dropDatabase(); //")
    assert payload["errors"] == []
    assert payload["service"]["title"] == '{"$gt": ""}'


async def test_only_specialists_and_owners_edit(client: GraphQLClient) -> None:
    ann, bob = await register(client, "SPECIALIST"), await register(client, "SPECIALIST")
    customer = await register(client, "CUSTOMER")
    service_id = (await create(ann))["service"]["id"]

    denied = await customer.client.data(CREATE, {"input": BASIC})
    assert codes(denied["createService"]) == [(None, "FORBIDDEN")]
    anonymous = await client.data(CREATE, {"input": BASIC})
    assert codes(anonymous["createService"]) == [(None, "UNAUTHENTICATED")]

    for query, variables, name, field in (
        (UPDATE, {"input": {"id": service_id, "price": 1}}, "updateService", "input.id"),
        (PUBLISH, {"id": service_id}, "publishService", "id"),
        (ARCHIVE, {"id": service_id}, "archiveService", "id"),
    ):
        result = await bob.client.data(query, variables)
        assert codes(result[name]) == [(field, "NOT_FOUND")]
    assert (await my_services(ann))["nodes"][0]["price"] == 5000
    assert (await my_services(ann))["nodes"][0]["status"] == "DRAFT"

    # A well-formed global id of another type, or of no object, finds nothing either.
    for other_id in (ann.id, "U2VydmljZTo2NTAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="):
        result = await ann.client.data(PUBLISH, {"id": other_id})
        assert codes(result["publishService"]) == [("id", "NOT_FOUND")]
    body = await ann.client.execute(PUBLISH, {"id": '{"$gt": ""}'})
    assert body["errors"]


# --------------------------------------------------------------------------- hours


async def test_weekly_hours_and_overrides(client: GraphQLClient) -> None:
    ann = await register(client, "SPECIALIST")
    result = await ann.client.data(
        WEEKLY,
        {
            "input": {
                "timezone": "Europe/Berlin",
                "days": [
                    {"weekday": "MONDAY", "ranges": [{"start": "13:00", "end": "17:00"}]},
                    {"weekday": "MONDAY", "ranges": [{"start": "08:00", "end": "12:00"}]},
                    {"weekday": "SUNDAY", "ranges": [{"start": "20:00", "end": "24:00"}]},
                ],
            }
        },
    )
    assert result["setWeeklyHours"] == {
        "availability": {
            "timezone": "Europe/Berlin",
            "weekly": [
                {
                    "weekday": "MONDAY",
                    "ranges": [
                        {"start": "08:00", "end": "12:00"},
                        {"start": "13:00", "end": "17:00"},
                    ],
                },
                {"weekday": "SUNDAY", "ranges": [{"start": "20:00", "end": "24:00"}]},
            ],
            "overrides": [],
        },
        "errors": [],
    }
    day = (datetime.now(UTC).date() + timedelta(days=10)).isoformat()
    override = await ann.client.data(OVERRIDE, {"input": {"date": day}})
    assert override["setDateOverride"]["availability"]["overrides"] == [{"date": day, "ranges": []}]
    removed = await ann.client.data(REMOVE_OVERRIDE, {"date": day})
    assert removed["removeDateOverride"]["availability"]["overrides"] == []
    missing = await ann.client.data(REMOVE_OVERRIDE, {"date": day})
    assert codes(missing["removeDateOverride"]) == [("date", "NOT_FOUND")]


@pytest.mark.parametrize(
    ("input_", "expected"),
    [
        (
            {
                "timezone": "UTC",
                "days": [
                    {
                        "weekday": "TUESDAY",
                        "ranges": [
                            {"start": "09:00", "end": "12:00"},
                            {"start": "11:30", "end": "14:00"},
                        ],
                    }
                ],
            },
            [("input.days", "OVERLAPPING_RANGES")],
        ),
        ({"timezone": "Europe/Atlantis", "days": []}, [("input.timezone", "INVALID")]),
        (
            {
                "timezone": "UTC",
                "days": [{"weekday": "MONDAY", "ranges": [{"start": "9am", "end": "17:00"}]}],
            },
            [("input.days.0.ranges.0.start", "INVALID")],
        ),
        (
            {
                "timezone": "UTC",
                "days": [{"weekday": "MONDAY", "ranges": [{"start": "10:00", "end": "09:00"}]}],
            },
            [("input.days.0.ranges.0", "INVALID")],
        ),
    ],
)
async def test_bad_hours_are_reported_and_nothing_written(
    client: GraphQLClient, input_: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    ann = await register(client, "SPECIALIST")
    await set_hours(ann, "Asia/Tokyo", [{"weekday": "FRIDAY", "ranges": WORKDAY}])
    before = await ann.client.data(MY_HOURS)
    result = await ann.client.data(WEEKLY, {"input": input_})
    assert result["setWeeklyHours"]["availability"] is None
    assert codes(result["setWeeklyHours"]) == expected
    assert await ann.client.data(MY_HOURS) == before


async def test_malformed_hours_are_graphql_errors(client: GraphQLClient) -> None:
    ann = await register(client, "SPECIALIST")
    for days in (
        [{"weekday": 0, "ranges": WORKDAY}],  # the enum, not a number
        [{"weekday": "FUNDAY", "ranges": WORKDAY}],
        [{"weekday": "MONDAY", "ranges": [{"start": 900, "end": "17:00"}]}],
    ):
        body = await ann.client.execute(WEEKLY, {"input": {"timezone": "UTC", "days": days}})
        assert body["errors"]
    assert (await ann.client.data(MY_HOURS))["myAvailability"] is None
    overlapping = [{"start": "09:00", "end": "12:00"}, {"start": "10:00", "end": "11:00"}]
    day = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    result = await ann.client.data(OVERRIDE, {"input": {"date": day, "ranges": overlapping}})
    assert codes(result["setDateOverride"]) == [("input.ranges", "OVERLAPPING_RANGES")]
    result = await ann.client.data(OVERRIDE, {"input": {"date": "31/12/2030"}})
    assert codes(result["setDateOverride"]) == [("input.date", "INVALID")]
    assert (await ann.client.data(MY_HOURS))["myAvailability"] is None


# --------------------------------------------------------------------------- slots

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


def mondays_ahead() -> list[date]:
    today = datetime.now(UTC).date()
    first = today + timedelta(days=7 - today.weekday())
    return [first + timedelta(weeks=n) for n in range(50)]


def hours_apart(day: date) -> int:
    """How many hours New York is behind Berlin at 09:00 in Berlin on `day`."""
    berlin_nine = datetime.combine(day, time(9), tzinfo=BERLIN)
    gap = berlin_nine.utcoffset() - berlin_nine.astimezone(NEW_YORK).utcoffset()  # type: ignore[operator]
    return int(gap / timedelta(hours=1))


async def berlin_slots(
    client: GraphQLClient, service_id: str, day: date, tz: str | None
) -> list[dict[str, Any]]:
    start = datetime.combine(day, time(0), tzinfo=BERLIN)
    variables = {
        "id": service_id,
        "from": start.isoformat(),
        "to": (start + timedelta(days=1)).isoformat(),
        "tz": tz,
    }
    result: list[dict[str, Any]] = (await client.data(SLOTS, variables))["slots"]
    return result


async def test_berlin_hours_seen_from_new_york(client: GraphQLClient) -> None:
    ann = await register(client, "SPECIALIST")
    await set_hours(ann, "Europe/Berlin", [{"weekday": "MONDAY", "ranges": WORKDAY}])
    service_id = await published_service(ann, slotIntervalMinutes=60, horizonDays=365)

    mondays = mondays_ahead()
    usual = next(d for d in mondays if hours_apart(d) == 6)
    # Between the US and the EU clock changes (March, and late October) the gap is 5 hours.
    shifted = next(d for d in mondays if hours_apart(d) == 5)
    for day, first_local in ((usual, "03:00"), (shifted, "04:00")):
        slots = await berlin_slots(client, service_id, day, "America/New_York")
        assert len(slots) == 8  # 09:00 to 16:00 in Berlin
        expected_utc = datetime.combine(day, time(9), tzinfo=BERLIN).astimezone(UTC)
        assert datetime.fromisoformat(slots[0]["start"]) == expected_utc
        first = slots[0]["startLocal"]
        assert first["dateTime"].startswith(f"{day.isoformat()}T{first_local}:00")
        assert (first["date"], first["time"]) == (day.isoformat(), first_local)
        assert first["timezone"] == "America/New_York"
        local = datetime.fromisoformat(first["dateTime"])
        assert (
            local == expected_utc
            and local.utcoffset() == expected_utc.astimezone(NEW_YORK).utcoffset()
        )
        last = slots[-1]["endLocal"]
        assert datetime.fromisoformat(last["dateTime"]).astimezone(BERLIN).time() == time(17)
        assert last["time"] == f"{17 - hours_apart(day):02d}:00"
    # No viewer zone: UTC instants only.
    plain = await berlin_slots(client, service_id, usual, None)
    assert plain[0]["startLocal"] is None and plain[0]["endLocal"] is None
    assert plain[0]["start"].endswith("+00:00")
    # Tuesday has no hours.
    assert (
        await berlin_slots(client, service_id, usual + timedelta(days=1), "America/New_York") == []
    )


async def test_slot_query_errors(client: GraphQLClient) -> None:
    ann = await register(client, "SPECIALIST")
    await set_hours(ann, "UTC", [{"weekday": "MONDAY", "ranges": WORKDAY}])
    draft = (await create(ann))["service"]["id"]
    published = await published_service(ann, durationMinutesOptions=[30, 60])
    start = datetime.now(UTC) + timedelta(days=1)

    async def ask(service_id: str, **changes: Any) -> dict[str, Any]:
        variables = {
            "id": service_id,
            "from": start.isoformat(),
            "to": (start + timedelta(days=7)).isoformat(),
            **changes,
        }
        return await client.execute(SLOTS, variables)

    assert error_code(await ask(draft)) == "NOT_FOUND"  # drafts are private
    assert "errors" not in await ann.client.execute(
        SLOTS,
        {  # but the owner may preview
            "id": draft,
            "from": start.isoformat(),
            "to": (start + timedelta(days=7)).isoformat(),
        },
    )
    assert error_code(await ask(ann.id)) == "NOT_FOUND"
    assert error_code(await ask(published, tz="Moon/Base")) == "INVALID"
    assert error_code(await ask(published, minutes=45)) == "INVALID"
    too_long = (start + timedelta(days=63)).isoformat()
    assert error_code(await ask(published, to=too_long)) == "INVALID"
    backwards = (start - timedelta(days=1)).isoformat()
    assert error_code(await ask(published, to=backwards)) == "INVALID"
    assert (await ask(published, **{"from": "yesterday"}))["errors"]
    assert "errors" not in await ask(published, minutes=60)


# --------------------------------------------------------------------------- marketplace


async def published_specialist(
    client: GraphQLClient, name: str, tag: str, **profile: Any
) -> tuple[Account, str]:
    account = await register(client, "SPECIALIST", name)
    result = await account.client.data(
        UPDATE_PROFILE, {"input": {"published": True, "expertise": [tag], **profile}}
    )
    assert result["updateProfile"]["errors"] == []
    return account, result["updateProfile"]["user"]["specialistProfile"]["slug"]


async def test_marketplace_search_and_public_page(client: GraphQLClient) -> None:
    tag = f"t{secrets.token_hex(5)}"
    ann, ann_slug = await published_specialist(client, "Ann Search", tag, headline="Data (science)")
    bob, _ = await published_specialist(client, "Bob Search", tag, bio="Negotiation")
    cid, _ = await published_specialist(client, "Cid Search", tag)
    await set_hours(
        ann,
        "UTC",
        [
            {"weekday": d, "ranges": WORKDAY}
            for d in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")
        ],
    )
    await published_service(ann, price=2000)
    await published_service(ann, title="Long session", price=9000, durationMinutesOptions=[120])
    await published_service(bob, price=15000)
    await published_service(cid, price=20000, currency="EUR")

    async def search(**variables: Any) -> dict[str, Any]:
        data = await client.data(SEARCH, {"first": 10, "tag": tag, **variables})
        result: dict[str, Any] = data["specialists"]
        return result

    every = await search()
    assert [n["displayName"] for n in every["nodes"]] == ["Ann Search", "Bob Search", "Cid Search"]
    assert every["nodes"][0]["priceMin"] == 2000 and every["nodes"][0]["priceMax"] == 9000
    in_usd = await search(price={"currency": "usd", "min": 10000})
    assert [n["displayName"] for n in in_usd["nodes"]] == ["Bob Search"]
    in_eur = await search(price={"currency": "eur"})
    assert [n["displayName"] for n in in_eur["nodes"]] == ["Cid Search"]
    assert (await search(price={"currency": "usd", "max": 1000}))["nodes"] == []
    assert [n["displayName"] for n in (await search(text="(SCIENCE)"))["nodes"]] == ["Ann Search"]
    assert (await search(text="^.*$"))["totalCount"] == 0
    assert (await search(text='{"$gt": ""}'))["totalCount"] == 0

    first_page = await search(first=2)
    assert first_page["totalCount"] == 3 and first_page["pageInfo"]["hasNextPage"]
    rest = await search(first=2, after=first_page["pageInfo"]["endCursor"])
    assert [n["displayName"] for n in rest["nodes"]] == ["Cid Search"]
    assert error_code(await client.execute(SEARCH, {"first": 101, "tag": tag})) == "INVALID"
    negative = {"currency": "usd", "min": -1}
    assert error_code(await client.execute(SEARCH, {"first": 5, "price": negative})) == "INVALID"
    unknown = {"currency": "xyz", "max": 100}
    assert error_code(await client.execute(SEARCH, {"first": 5, "price": unknown})) == "INVALID"
    no_currency = await client.execute(SEARCH, {"first": 5, "price": {"min": 100}})
    assert "currency" in no_currency["errors"][0]["message"], no_currency
    assert error_code(await client.execute(SEARCH, {"first": 5, "after": "garbage"})) == "INVALID"

    page = (await client.data(PAGE, {"slug": ann_slug, "tz": "Asia/Kolkata"}))["specialist"]
    assert page["specialist"]["displayName"] == "Ann Search"
    assert [o["service"]["title"] for o in page["offers"]] == ["Career chat", "Long session"]
    for offer in page["offers"]:
        assert len(offer["nextSlots"]) == 5
        assert all(s["startLocal"]["dateTime"].endswith("+05:30") for s in offer["nextSlots"])
    assert (await client.data(PAGE, {"slug": "no-such-specialist"}))["specialist"] is None
    assert (await client.data(PAGE, {"slug": '{"$gt": ""}'}))["specialist"] is None


def lengths(slots: list[dict[str, Any]]) -> set[timedelta]:
    return {datetime.fromisoformat(s["end"]) - datetime.fromisoformat(s["start"]) for s in slots}


async def test_next_slots_for_a_chosen_duration(client: GraphQLClient) -> None:
    ann, slug = await published_specialist(client, "Ann Lengths", f"t{secrets.token_hex(5)}")
    weekdays = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")
    await set_hours(ann, "UTC", [{"weekday": d, "ranges": WORKDAY} for d in weekdays])
    await published_service(ann, durationMinutesOptions=[60, 30])

    async def offer(minutes: int | None) -> dict[str, Any]:
        page = (await client.data(PAGE, {"slug": slug, "minutes": minutes}))["specialist"]
        found: dict[str, Any] = page["offers"][0]
        return found

    shortest = await offer(None)
    assert lengths(shortest["nextSlots"]) == lengths(shortest["longest"]) == {timedelta(minutes=30)}
    chosen = await offer(60)
    assert len(chosen["longest"]) == 5
    assert lengths(chosen["longest"]) == {timedelta(minutes=60)}
    assert lengths(chosen["nextSlots"]) == {timedelta(minutes=30)}
    assert error_code(await client.execute(PAGE, {"slug": slug, "minutes": 45})) == "INVALID"
