"""Services, working hours, slots and the marketplace against the real database."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from beanie import PydanticObjectId

from specialistly.core import catalog, marketplace, schedule, working_hours
from specialistly.core.availability import Availability
from specialistly.core.bookings import BookingStatus
from specialistly.core.errors import DomainError
from specialistly.core.services import AutoRecording, Service, ServiceStatus
from specialistly.core.slots import Interval
from specialistly.core.users import Role, SpecialistProfile, User
from specialistly.core.working_hours import DayHours
from specialistly.runtime import Runtime
from tests.factories import (
    MINUTE,
    VIDEO,
    book,
    fields,
    hours,
    make_service,
    make_specialist,
    make_user,
    monday,
    utc,
)

pytestmark = pytest.mark.usefixtures("runtime")

HOUR = timedelta(hours=1)


# --------------------------------------------------------------------------- helpers


def whole_day(day: date) -> Interval:
    return Interval(utc(day, 0), utc(day + timedelta(days=1), 0))


async def problems_of(call: Any) -> list[tuple[str | None, str]]:
    with pytest.raises(DomainError) as raised:
        await call
    return [(p.field, p.code) for p in raised.value.problems]


async def services_of(owner: User) -> list[dict[str, Any]]:
    query = {"specialist_id": owner.id}
    return await Service.get_pymongo_collection().find(query).sort("_id").to_list()


# --------------------------------------------------------------------------- services


async def test_create_service_defaults_from_profile_and_model() -> None:
    owner = await make_specialist()
    service = await catalog.create_service(
        owner,
        {"title": "  Intro call  ", "durations": [60, 30, 30], "price": 0},
        video_providers=VIDEO,
    )
    stored = await Service.get(service.id)
    assert stored is not None
    assert stored.title == "Intro call"
    assert stored.durations == [30, 60]
    assert (stored.currency, stored.video_provider) == ("eur", "jitsi")
    assert stored.auto_recording == AutoRecording.NONE
    assert stored.status == ServiceStatus.DRAFT
    assert stored.specialist_id == owner.id


async def test_a_service_records_its_meetings_as_asked() -> None:
    owner = await make_specialist()
    service = await catalog.create_service(
        owner, fields(auto_recording="cloud"), video_providers=VIDEO
    )
    await catalog.update_service(
        owner, str(service.id), {"auto_recording": "local"}, video_providers=VIDEO
    )

    [stored] = await services_of(owner)
    assert stored["auto_recording"] == "local"


BAD_FIELDS: list[tuple[dict[str, Any], str, str]] = [
    ({"title": ""}, "title", "REQUIRED"),
    ({"title": "x" * 121}, "title", "TOO_LONG"),
    ({"title": "bell\x07"}, "title", "INVALID"),
    ({"title": None}, "title", "INVALID"),
    ({"description": "x" * 5001}, "description", "TOO_LONG"),
    ({"durations": []}, "durations", "REQUIRED"),
    ({"durations": [60, 7]}, "durations.1", "INVALID"),
    ({"durations": [0]}, "durations.0", "INVALID"),
    ({"durations": [-30]}, "durations.0", "INVALID"),
    ({"durations": [485]}, "durations.0", "INVALID"),
    ({"durations": list(range(5, 60, 5))}, "durations", "INVALID"),
    ({"durations": ["60"]}, "durations.0", "INVALID"),
    ({"price": -1}, "price", "INVALID"),
    ({"price": 10_000_001}, "price", "INVALID"),
    ({"price": "100"}, "price", "INVALID"),
    ({"price": True}, "price", "INVALID"),
    ({"currency": "xyz"}, "currency", "INVALID"),
    ({"currency": '{"$gt": ""}'}, "currency", "INVALID"),
    ({"buffer_before": -5}, "buffer_before", "INVALID"),
    ({"buffer_after": 7}, "buffer_after", "INVALID"),
    ({"buffer_after": 245}, "buffer_after", "INVALID"),
    ({"slot_interval": 0}, "slot_interval", "INVALID"),
    ({"slot_interval": 245}, "slot_interval", "INVALID"),
    ({"slot_interval": 12}, "slot_interval", "INVALID"),
    ({"minimum_notice": 3}, "minimum_notice", "INVALID"),
    ({"minimum_notice": -5}, "minimum_notice", "INVALID"),
    ({"horizon_days": 0}, "horizon_days", "INVALID"),
    ({"horizon_days": 366}, "horizon_days", "INVALID"),
    (
        {"minimum_notice": 2 * 24 * 60, "horizon_days": 2},
        "minimum_notice",
        "NOTICE_BEYOND_HORIZON",
    ),
    ({"video_provider": "skype"}, "video_provider", "INVALID"),
    ({"video_provider": {"$ne": None}}, "video_provider", "INVALID"),
    ({"auto_recording": "video"}, "auto_recording", "INVALID"),
    ({"auto_recording": {"$ne": None}}, "auto_recording", "INVALID"),
    ({"auto_recording": None}, "auto_recording", "INVALID"),
    ({"max_per_day": 0}, "max_per_day", "INVALID"),
    ({"max_per_week": -1}, "max_per_week", "INVALID"),
    ({"max_per_day": 5, "max_per_week": 3}, "max_per_day", "INVALID"),
    ({"policy": {"refund_percent": 101}}, "policy.refund_percent", "INVALID"),
    ({"policy": {"cancel_minutes_before": -1}}, "policy.cancel_minutes_before", "INVALID"),
    (
        {"policy": {"refund_percent": 50, "late_refund_percent": 80}},
        "policy.late_refund_percent",
        "INVALID",
    ),
]


@pytest.mark.parametrize(("changes", "field", "code"), BAD_FIELDS)
async def test_create_service_rejects_bad_input_and_writes_nothing(
    changes: dict[str, Any], field: str, code: str
) -> None:
    owner = await make_specialist()
    found = await problems_of(
        catalog.create_service(owner, fields(**changes), video_providers=VIDEO)
    )
    assert (field, code) in found
    assert await services_of(owner) == []


async def test_create_service_reports_every_problem_and_missing_fields() -> None:
    owner = await make_specialist()
    found = await problems_of(
        catalog.create_service(
            owner, {"title": "", "video_provider": "nope"}, video_providers=VIDEO
        )
    )
    assert set(found) == {
        ("title", "REQUIRED"),
        ("durations", "REQUIRED"),
        ("price", "REQUIRED"),
        ("video_provider", "INVALID"),
    }
    assert await services_of(owner) == []


async def test_create_service_without_default_provider_asks_for_one() -> None:
    owner = await make_specialist()
    found = await problems_of(catalog.create_service(owner, fields(), video_providers=["zoom"]))
    assert found == [("video_provider", "REQUIRED")]


async def test_injection_looking_text_is_stored_as_text() -> None:
    owner = await make_specialist()
    service = await make_service(owner, publish=False, title='{"$gt": ""}', description="$where")
    stored = await Service.get(service.id)
    assert stored is not None and (stored.title, stored.description) == ('{"$gt": ""}', "$where")


async def test_only_specialists_create_services() -> None:
    customer = await make_user(Role.CUSTOMER)
    assert await problems_of(catalog.create_service(customer, fields(), video_providers=VIDEO)) == [
        (None, "FORBIDDEN")
    ]
    assert await Service.find(Service.specialist_id == customer.id).count() == 0


async def test_update_service_changes_given_fields_only() -> None:
    owner = await make_specialist()
    service = await make_service(owner, publish=False, buffer_before=10, max_per_day=3)
    updated = await catalog.update_service(
        owner,
        str(service.id),
        {"price": 7000, "max_per_day": None, "policy": {"refund_percent": 50}},
        video_providers=VIDEO,
    )
    stored = await Service.get(service.id)
    assert stored is not None
    assert (stored.price, stored.buffer_before, stored.max_per_day) == (7000, 10, None)
    assert stored.policy.refund_percent == 50
    assert stored.policy.cancel_minutes_before == 24 * 60
    assert stored.updated_at > service.created_at
    assert updated.price == 7000


async def test_bad_update_writes_nothing() -> None:
    owner = await make_specialist()
    service = await make_service(owner, publish=False)
    before = await services_of(owner)
    found = await problems_of(
        catalog.update_service(
            owner,
            str(service.id),
            {"title": "New title", "price": -5, "durations": None},  # type: ignore[typeddict-item]
            video_providers=VIDEO,
        )
    )
    assert set(found) == {("price", "INVALID"), ("durations", "INVALID")}
    assert await services_of(owner) == before


async def test_a_removed_provider_does_not_block_other_edits() -> None:
    owner = await make_specialist()
    service = await make_service(owner, publish=False)
    updated = await catalog.update_service(
        owner, str(service.id), {"title": "Renamed"}, video_providers=["zoom"]
    )
    assert (updated.title, updated.video_provider) == ("Renamed", "jitsi")


@pytest.mark.parametrize("service_id", ["", "nope", '{"$gt": ""}', str(PydanticObjectId())])
async def test_unknown_service_is_not_found(service_id: str) -> None:
    owner = await make_specialist()
    for call in (
        catalog.update_service(owner, service_id, {"price": 1}, video_providers=VIDEO),
        catalog.publish_service(owner, service_id),
        catalog.archive_service(owner, service_id),
    ):
        assert await problems_of(call) == [("id", "NOT_FOUND")]


async def test_only_the_owner_or_an_admin_edits() -> None:
    owner, other = await make_specialist(), await make_specialist()
    admin = await make_user(Role.ADMIN)
    service = await make_service(owner, publish=False)
    before = await services_of(owner)
    for call in (
        catalog.update_service(other, str(service.id), {"price": 1}, video_providers=VIDEO),
        catalog.publish_service(other, str(service.id)),
        catalog.archive_service(other, str(service.id)),
    ):
        assert await problems_of(call) == [("id", "NOT_FOUND")]
    assert await services_of(owner) == before
    await catalog.update_service(admin, str(service.id), {"price": 1}, video_providers=VIDEO)
    stored = await Service.get(service.id)
    assert stored is not None and stored.price == 1


async def profile_prices(owner: User) -> tuple[int | None, int | None]:
    profile = await SpecialistProfile.find_one(SpecialistProfile.user_id == owner.id)
    assert profile is not None
    return profile.price_min, profile.price_max


async def test_profile_price_range_follows_published_services() -> None:
    owner = await make_specialist()
    cheap = await make_service(owner, publish=False, price=1000)
    assert await profile_prices(owner) == (None, None)
    await catalog.publish_service(owner, str(cheap.id))
    assert await profile_prices(owner) == (1000, 1000)
    dear = await make_service(owner, price=9000)
    assert await profile_prices(owner) == (1000, 9000)
    await make_service(owner, publish=False, price=50_000)  # a draft does not count
    assert await profile_prices(owner) == (1000, 9000)
    await catalog.update_service(owner, str(dear.id), {"price": 8000}, video_providers=VIDEO)
    assert await profile_prices(owner) == (1000, 8000)
    await catalog.archive_service(owner, str(cheap.id))
    assert await profile_prices(owner) == (8000, 8000)
    await catalog.archive_service(owner, str(dear.id))
    assert await profile_prices(owner) == (None, None)


# --------------------------------------------------------------------------- hours


async def test_weekly_hours_replace_and_keep_overrides() -> None:
    owner = await make_specialist()
    day = (monday(2) + timedelta(days=2)).isoformat()
    await working_hours.set_date_override(owner, day, [])
    saved = await working_hours.set_weekly_hours(
        owner,
        "Europe/Berlin",
        [
            DayHours(0, [("13:00", "17:00"), ("09:00", "12:00")]),
            DayHours(0, [("12:00", "13:00")]),
            DayHours(6, [("22:00", "24:00")]),
            DayHours(3, []),
        ],
    )
    assert saved.timezone == "Europe/Berlin"
    assert [(w.weekday, [(r.start, r.end) for r in w.ranges]) for w in saved.weekly] == [
        (0, [(540, 720), (720, 780), (780, 1020)]),
        (6, [(1320, 1440)]),
    ]
    assert [o.day for o in saved.overrides] == [day]
    again = await working_hours.set_weekly_hours(owner, "UTC", [DayHours(1, [("08:00", "09:00")])])
    assert [w.weekday for w in again.weekly] == [1]
    assert await Availability.find(Availability.specialist_id == owner.id).count() == 1


BAD_HOURS: list[tuple[str, list[DayHours], str, str]] = [
    ("Mars/Olympus", [], "timezone", "INVALID"),
    ("", [], "timezone", "INVALID"),
    ('{"$gt": ""}', [], "timezone", "INVALID"),
    (
        "UTC",
        [DayHours(0, [("09:00", "12:00"), ("11:00", "13:00")])],
        "days",
        "OVERLAPPING_RANGES",
    ),
    (
        "UTC",
        [DayHours(2, [("09:00", "12:00")]), DayHours(2, [("10:00", "11:00")])],
        "days",
        "OVERLAPPING_RANGES",
    ),
    ("UTC", [DayHours(7, [("09:00", "12:00")])], "days.0.weekday", "INVALID"),
    ("UTC", [DayHours(-1, [("09:00", "12:00")])], "days.0.weekday", "INVALID"),
    ("UTC", [DayHours(0, [("9:00", "12:00")])], "days.0.ranges.0.start", "INVALID"),
    ("UTC", [DayHours(0, [("09:03", "12:00")])], "days.0.ranges.0.start", "INVALID"),
    ("UTC", [DayHours(0, [("24:00", "24:00")])], "days.0.ranges.0.start", "INVALID"),
    ("UTC", [DayHours(0, [("09:00", "25:00")])], "days.0.ranges.0.end", "INVALID"),
    ("UTC", [DayHours(0, [("09:00", "$gt")])], "days.0.ranges.0.end", "INVALID"),
    ("UTC", [DayHours(0, [("12:00", "09:00")])], "days.0.ranges.0", "INVALID"),
    ("UTC", [DayHours(0, [("09:00", "09:00")])], "days.0.ranges.0", "INVALID"),
    ("UTC", [DayHours(0, [("00:00", "00:05")] * 13)], "days.0.ranges", "INVALID"),
    ("UTC", [DayHours(0, [])] * 15, "days", "INVALID"),
]


@pytest.mark.parametrize(("tz", "days", "field", "code"), BAD_HOURS)
async def test_bad_weekly_hours_write_nothing(
    tz: str, days: list[DayHours], field: str, code: str
) -> None:
    owner = await make_specialist()
    await hours(owner, "Europe/Paris")
    before = await working_hours.availability_of(owner.id)  # type: ignore[arg-type]
    assert (field, code) in await problems_of(working_hours.set_weekly_hours(owner, tz, days))
    assert await working_hours.availability_of(owner.id) == before  # type: ignore[arg-type]


async def test_customers_have_no_hours() -> None:
    customer = await make_user(Role.CUSTOMER)
    assert await problems_of(working_hours.set_weekly_hours(customer, "UTC", [])) == [
        (None, "FORBIDDEN")
    ]
    assert await problems_of(working_hours.set_date_override(customer, "2030-01-01", [])) == [
        (None, "FORBIDDEN")
    ]
    assert await Availability.find(Availability.specialist_id == customer.id).count() == 0


async def test_date_overrides_set_replace_and_remove() -> None:
    owner = await make_specialist(tz="Asia/Tokyo")
    first, second = monday(2).isoformat(), (monday(2) + timedelta(days=1)).isoformat()
    created = await working_hours.set_date_override(owner, first, [("10:00", "11:00")])
    assert created.timezone == "Asia/Tokyo"  # a first override takes the profile's zone
    await working_hours.set_date_override(owner, second, [])
    replaced = await working_hours.set_date_override(owner, first, [("12:00", "24:00")])
    assert [(o.day, [(r.start, r.end) for r in o.ranges]) for o in replaced.overrides] == [
        (first, [(720, 1440)]),
        (second, []),
    ]
    removed = await working_hours.remove_date_override(owner, first)
    assert [o.day for o in removed.overrides] == [second]
    assert await problems_of(working_hours.remove_date_override(owner, first)) == [
        ("date", "NOT_FOUND")
    ]


@pytest.mark.parametrize(
    ("day", "ranges", "field", "code"),
    [
        ("2030-13-01", [], "date", "INVALID"),
        ("20300101", [], "date", "INVALID"),
        ('{"$gt": ""}', [], "date", "INVALID"),
        ("2001-01-01", [], "date", "INVALID"),
        ("2999-01-01", [], "date", "INVALID"),
        ("", [("09:00", "12:00"), ("11:55", "13:00")], "ranges", "OVERLAPPING_RANGES"),
        ("", [("09:00", "12:01")], "ranges.0.end", "INVALID"),
    ],
)
async def test_bad_date_overrides_write_nothing(
    day: str, ranges: list[tuple[str, str]], field: str, code: str
) -> None:
    owner = await make_specialist()
    await hours(owner)
    before = await working_hours.availability_of(owner.id)  # type: ignore[arg-type]
    day = day or monday(2).isoformat()
    assert (field, code) in await problems_of(working_hours.set_date_override(owner, day, ranges))
    assert await working_hours.availability_of(owner.id) == before  # type: ignore[arg-type]


# --------------------------------------------------------------------------- slots


async def slot_starts(
    service: Service, wanted: Interval, *, now: datetime | None = None, duration: int | None = None
) -> list[datetime]:
    found = await schedule.service_slots(
        service, wanted, now=now or utc(monday(1) - timedelta(days=7), 0), duration=duration
    )
    return [s.start for s in found]


async def test_slots_follow_hours_overrides_and_bookings_of_any_service() -> None:
    owner = await make_specialist()
    await hours(owner, "UTC", DayHours(0, [("09:00", "12:00")]), DayHours(1, [("09:00", "11:00")]))
    day = monday(1)
    service = await make_service(owner, durations=[60, 30], slot_interval=60)
    other = await make_service(owner, title="Other", durations=[30])
    await working_hours.set_date_override(owner, (day + timedelta(days=1)).isoformat(), [])
    await book(other, utc(day, 10), 30)  # another service of the same specialist blocks
    await book(service, utc(day, 9), status=BookingStatus.CANCELLED)  # cancelled: free
    stranger = await make_service(await make_specialist())
    await book(stranger, utc(day, 11))  # someone else's booking: irrelevant

    week = Interval(utc(day, 0), utc(day + timedelta(days=7), 0))
    assert await slot_starts(service, week) == [utc(day, 9), utc(day, 11)]
    assert await slot_starts(service, week, duration=30) == [utc(day, 9), utc(day, 11)]
    found = await schedule.service_slots(service, week, duration=30, now=utc(day, 0))
    assert [s.end - s.start for s in found] == [30 * MINUTE] * 2


async def test_buffers_of_slot_and_booking_keep_them_apart() -> None:
    owner = await make_specialist()
    await hours(owner, "UTC", DayHours(0, [("08:00", "18:00")]))
    day = monday(1)
    service = await make_service(owner, buffer_before=15, buffer_after=15, slot_interval=60)
    await book(service, utc(day, 12), before=15, after=15)  # claims 11:45-13:15
    starts = await slot_starts(service, whole_day(day))
    # 11:00 would claim until 12:15 and 13:00 from 12:45: both touch the booking's claim.
    assert starts == [utc(day, h) for h in (8, 9, 10, 14, 15, 16, 17)]


async def test_notice_and_horizon_bound_the_slots() -> None:
    owner = await make_specialist()
    await hours(owner)
    day = monday(1)
    service = await make_service(owner, minimum_notice=120, horizon_days=1, slot_interval=60)
    now = utc(day, 9, 10)
    starts = await slot_starts(service, Interval(now, now + timedelta(days=3)), now=now)
    assert starts[0] == utc(day, 12)  # 11:10 is the earliest: 12:00 is the next step
    assert starts[-1] == utc(day + timedelta(days=1), 9)  # now + 1 day is 09:10 tomorrow


async def test_daily_and_weekly_caps_close_full_days() -> None:
    owner = await make_specialist(tz="America/New_York")
    await hours(owner, "America/New_York")
    day = monday(1)
    service = await make_service(owner, max_per_day=1, max_per_week=3, slot_interval=60)
    other = await make_service(owner, title="Other")
    ny = ZoneInfo("America/New_York")

    def local(d: date, hh: int) -> datetime:
        return datetime.combine(d, time(hh), tzinfo=ny).astimezone(UTC)

    await book(service, local(day, 9))  # Monday is full for this service
    await book(other, local(day + timedelta(days=1), 9))  # another service: no effect on caps
    week = Interval(local(day, 0), local(day + timedelta(days=7), 0))
    days = {s.astimezone(ny).date() for s in await slot_starts(service, week)}
    assert days == {day + timedelta(days=n) for n in range(1, 7)}

    await book(service, local(day + timedelta(days=2), 9))
    await book(service, local(day + timedelta(days=6), 9))  # Sunday: the week is now full
    assert await slot_starts(service, week) == []
    # A window covering only Tuesday still sees the bookings that filled the week.
    tuesday = day + timedelta(days=1)
    assert await slot_starts(service, Interval(local(tuesday, 0), local(tuesday, 23))) == []
    next_week = Interval(week.end, week.end + timedelta(days=1))
    assert len(await slot_starts(service, next_week)) == 8  # 09:00 to 16:00


async def test_archived_services_and_missing_hours_have_no_slots() -> None:
    owner = await make_specialist()
    service = await make_service(owner)
    assert await slot_starts(service, whole_day(monday(1))) == []  # no hours set
    await hours(owner)
    assert await slot_starts(service, whole_day(monday(1))) != []
    archived = await catalog.archive_service(owner, str(service.id))
    assert await slot_starts(archived, whole_day(monday(1))) == []


@pytest.mark.parametrize(
    ("start", "end", "fields"),
    [
        (datetime(2030, 1, 1), datetime(2030, 1, 2), ["start", "end"]),
        (datetime(2030, 1, 2, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC), ["end"]),
        (datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 3, 5, tzinfo=UTC), ["end"]),
    ],
)
def test_slot_windows_are_checked(start: datetime, end: datetime, fields: list[str]) -> None:
    with pytest.raises(DomainError) as raised:
        schedule.window(start, end)
    assert [(p.field, p.code) for p in raised.value.problems] == [(f, "INVALID") for f in fields]


async def test_a_duration_the_service_does_not_offer_is_refused() -> None:
    owner = await make_specialist()
    service = await make_service(owner, durations=[30, 60])
    assert await problems_of(
        schedule.service_slots(service, whole_day(monday(1)), duration=45)
    ) == [("duration_minutes", "INVALID")]


# --------------------------------------------------------------------------- marketplace


async def search(**filters: Any) -> list[str]:
    query = await marketplace.search_query(marketplace.SpecialistFilters(**filters))
    found = await SpecialistProfile.find(query).sort("+display_name").to_list()
    return [p.display_name for p in found]


def eur(low: int | None = None, high: int | None = None) -> marketplace.PriceRange:
    return marketplace.PriceRange("eur", low, high)


async def test_search_filters_by_tag_price_and_text() -> None:
    tag = f"tag-{secrets.token_hex(4)}"
    ann = await make_specialist("Ann", expertise=[tag], headline="Rust & C++ reviews")
    bob = await make_specialist("Bob", expertise=[tag], bio="Career coaching.")
    await make_specialist("Cid", expertise=[tag], published=False)
    await make_specialist("Dee", expertise=[tag], bio="Career too")
    await make_service(ann, price=1000)
    await make_service(ann, price=3000)
    await make_service(bob, price=8000)

    assert await search(expertise=tag.upper()) == ["Ann", "Bob", "Dee"]
    assert await search(expertise=tag, price=eur(2500, 5000)) == ["Ann"]
    assert await search(expertise=tag, price=eur(3000)) == ["Ann", "Bob"]
    assert await search(expertise=tag, price=eur(None, 999)) == []
    assert await search(expertise=tag, text="CAREER") == ["Bob", "Dee"]
    assert await search(expertise=tag, text="c++") == ["Ann"]
    assert await search(expertise=tag, text=".*") == []
    assert await search(expertise=tag, text='{"$gt": ""}') == []


async def test_price_filter_matches_services_priced_in_its_currency() -> None:
    """Prices of different currencies are never compared, and a specialist matches through
    one published service inside the bounds, not through a price range spanning them."""
    tag = f"tag-{secrets.token_hex(4)}"
    ann = await make_specialist("Ann", expertise=[tag])
    bob = await make_specialist("Bob", expertise=[tag])
    cid = await make_specialist("Cid", expertise=[tag])
    dee = await make_specialist("Dee", expertise=[tag])
    eve = await make_specialist("Eve", expertise=[tag])
    await make_service(ann, price=5000, currency="eur")
    await make_service(bob, price=2000, currency="usd")
    await make_service(bob, price=300_000, currency="jpy")
    await make_service(cid, price=1000, currency="eur")
    await make_service(cid, price=9000, currency="usd")
    await make_service(dee, price=1000, currency="eur", publish=False)
    await make_service(eve, price=1000, currency="eur")
    await make_service(eve, price=9000, currency="eur")

    async def within(currency: str, low: int | None = None, high: int | None = None) -> list[str]:
        return await search(expertise=tag, price=marketplace.PriceRange(currency, low, high))

    assert await within("eur", None, 4000) == ["Cid", "Eve"]
    assert await within("usd", 5000) == ["Cid"]
    assert await within(" USD ") == ["Bob", "Cid"]
    assert await within("jpy", 100_000, 500_000) == ["Bob"]
    assert await within("eur", 4000, 6000) == ["Ann"]
    assert await within("gbp") == []


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"price": eur(-1)}, "price.min"),
        ({"price": eur(None, 10_000_001)}, "price.max"),
        ({"price": eur(10, 5)}, "price.min"),
        ({"price": marketplace.PriceRange("xyz", 10)}, "price.currency"),
        ({"price": marketplace.PriceRange("")}, "price.currency"),
        ({"text": "x" * 101}, "text"),
        ({"expertise": "x" * 41}, "expertise"),
    ],
)
async def test_bad_search_filters(filters: dict[str, Any], field: str) -> None:
    with pytest.raises(DomainError) as raised:
        await marketplace.search_query(marketplace.SpecialistFilters(**filters))
    assert [p.field for p in raised.value.problems] == [field]


async def test_specialist_page_shows_published_services_and_next_slots(runtime: Runtime) -> None:
    owner = await make_specialist()
    await hours(owner)
    first = await make_service(owner, durations=[30, 60], slot_interval=30)
    second = await make_service(owner, title="Deep dive", durations=[120], slot_interval=60)
    await make_service(owner, title="Draft", publish=False)
    profile = await SpecialistProfile.find_one(SpecialistProfile.user_id == owner.id)
    assert profile is not None
    now = utc(monday(1), 8)
    page = await marketplace.specialist_page(profile.slug, marketplace.nobody, now=now)
    assert page is not None
    assert [s.title for s in page.services] == ["Career chat", "Deep dive"]
    assert first.id is not None and second.id is not None
    assert [s.start for s in page.next_slots[first.id]] == [
        utc(monday(1), 9) + n * 30 * MINUTE for n in range(5)
    ]
    assert [s.start for s in page.next_slots[second.id]] == [
        utc(monday(1), h) for h in (9, 10, 11, 12, 13)
    ]


async def test_unpublished_page_is_only_for_its_owner() -> None:
    owner = await make_specialist(published=False)
    profile = await SpecialistProfile.find_one(SpecialistProfile.user_id == owner.id)
    assert profile is not None
    for viewer in (None, await make_user(Role.CUSTOMER)):
        assert await marketplace.specialist_page(profile.slug, viewing(viewer)) is None
    own = await marketplace.specialist_page(profile.slug, viewing(owner))
    assert own is not None and own.services == []
    assert await marketplace.specialist_page('{"$gt": ""}', marketplace.nobody) is None


def viewing(user: User | None) -> marketplace.Viewer:
    async def viewer() -> User | None:
        return user

    return viewer


async def test_at_most_twenty_services_are_on_sale_at_once() -> None:
    owner = await make_specialist()
    for n in range(catalog.MAX_ON_SALE):
        await make_service(owner, title=f"Session {n}")
    extra = await make_service(owner, title="One too many", publish=False)
    assert await problems_of(catalog.publish_service(owner, str(extra.id))) == [
        ("id", "TOO_MANY_ON_SALE")
    ]
    assert (await Service.get(extra.id)).status == ServiceStatus.DRAFT  # type: ignore[union-attr]
    first = (await services_of(owner))[0]
    await catalog.archive_service(owner, str(first["_id"]))
    published = await catalog.publish_service(owner, str(extra.id))  # room again
    assert published.status == ServiceStatus.PUBLISHED


async def test_a_page_computes_slots_for_no_more_services_than_may_be_on_sale() -> None:
    owner = await make_specialist()
    await hours(owner)
    for n in range(catalog.MAX_ON_SALE):
        await make_service(owner, title=f"Session {n}")
    # Two publishes racing past the cap: the page still shows (and computes) only the cap.
    await make_service(owner, title="Raced", publish=False)
    await Service.get_pymongo_collection().update_many(
        {"specialist_id": owner.id}, {"$set": {"status": ServiceStatus.PUBLISHED.value}}
    )
    profile = await SpecialistProfile.find_one(SpecialistProfile.user_id == owner.id)
    assert profile is not None
    page = await marketplace.specialist_page(
        profile.slug, marketplace.nobody, now=utc(monday(1), 8)
    )
    assert page is not None
    assert len(page.services) == len(page.next_slots) == catalog.MAX_ON_SALE
    assert "Raced" not in [s.title for s in page.services]
