"""Changes someone asks for, made at the same moment, keep each other's writes: each holds
the document's lock (FerretDB v1 applies an update as an unisolated read-modify-write of
the whole document, so of two concurrent writes one may put back what the other changed,
and a condition in the filter guards nothing). Each test races the flows that share a
document on many documents side by side and checks that nothing was lost.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from specialistly.core import accounts, catalog, working_hours
from specialistly.core.accounts import ProfileChanges
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.services import Service, ServiceStatus
from specialistly.core.users import Role, SpecialistProfile, User
from specialistly.features.email_preferences import EmailKind, preferences_of, set_preferences
from tests.factories import VIDEO, fields, make_specialist, make_user, monday

pytestmark = pytest.mark.usefixtures("runtime")

# Writers of one document at once, kept few enough that none waits for its lock too long on
# a loaded machine; and documents raced side by side, many, for a lost write to show.
WRITERS = 6
DOCUMENTS = 16


async def test_an_archive_racing_a_publish_and_an_edit_stays_archived() -> None:
    async def race(owner: User) -> Service:
        service = await catalog.create_service(owner, fields(), video_providers=VIDEO)
        service_id = str(service.id)

        async def publish() -> ErrorCode | None:
            try:
                await catalog.publish_service(owner, service_id)
            except DomainError as refused:
                return refused.problems[0].code
            return None

        retitle = catalog.update_service(
            owner, service_id, fields(title="Renamed"), video_providers=VIDEO
        )
        refused, *_ = await asyncio.gather(
            publish(), catalog.archive_service(owner, service_id), retitle
        )
        assert refused in (None, ErrorCode.ARCHIVED)  # ARCHIVED: the archive came first
        return service

    owners = [await make_specialist() for _ in range(DOCUMENTS)]
    for service in await asyncio.gather(*(race(owner) for owner in owners)):
        stored = await Service.get(service.id)
        assert stored is not None
        assert (stored.status, stored.title) == (ServiceStatus.ARCHIVED, "Renamed")


async def test_date_overrides_and_weekly_hours_changed_at_once_are_all_kept() -> None:
    owner = await make_specialist()
    await working_hours.set_weekly_hours(owner, "UTC", [])
    days = [(monday() + timedelta(days=n)).isoformat() for n in range(WRITERS)]
    weekly = [working_hours.DayHours(0, [("09:00", "17:00")])]

    await asyncio.gather(
        *(working_hours.set_date_override(owner, day, []) for day in days),
        working_hours.set_weekly_hours(owner, "Europe/Berlin", weekly),
    )

    stored = await working_hours.availability_of(owner.id)  # type: ignore[arg-type]
    assert stored is not None
    assert sorted(o.day for o in stored.overrides) == days
    assert (stored.timezone, [w.weekday for w in stored.weekly]) == ("Europe/Berlin", [0])


async def test_a_profile_edit_an_admin_grant_and_a_price_change_keep_each_other() -> None:
    owners = [await make_specialist() for _ in range(DOCUMENTS)]

    async def race(owner: User) -> None:
        service = await catalog.create_service(owner, fields(price=700), video_providers=VIDEO)
        await asyncio.gather(
            accounts.update_profile(owner, ProfileChanges(display_name="Renamed", bio="New")),
            accounts.set_admin(owner.email, admin=True),
            catalog.publish_service(owner, str(service.id)),
        )

    await asyncio.gather(*(race(owner) for owner in owners))

    for owner in owners:
        user = await User.get(owner.id)
        profile = await SpecialistProfile.find_one(SpecialistProfile.user_id == owner.id)
        assert user is not None and profile is not None
        assert (user.display_name, sorted(user.roles)) == (
            "Renamed",
            sorted([Role.SPECIALIST, Role.ADMIN]),
        )
        assert (profile.display_name, profile.bio) == ("Renamed", "New")
        assert (profile.price_min, profile.price_max) == (700, 700)


async def test_two_preferences_changed_at_once_are_both_kept() -> None:
    users = [await make_user() for _ in range(DOCUMENTS)]

    await asyncio.gather(
        *(
            set_preferences(user.id, {kind: False})  # type: ignore[arg-type]
            for user in users
            for kind in (EmailKind.REMINDERS, EmailKind.REVIEW_REQUESTS)
        )
    )

    for user in users:
        stored = await preferences_of(user.id)  # type: ignore[arg-type]
        assert (stored.reminders, stored.review_requests) == (False, False)
