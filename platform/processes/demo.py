"""Demo data for `specialistly dev`: two specialists with published services and hours,
and a customer, all with known passwords. Running it again changes nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from specialistly.core import accounts, catalog, working_hours
from specialistly.core.catalog import ServiceFields
from specialistly.core.users import Role, User
from specialistly.core.working_hours import DayHours
from specialistly.runtime import Runtime

log = logging.getLogger("specialistly.processes.demo")
PASSWORD = "demo-password-2026"  # noqa: S105 (published on purpose: demo accounts only)
WEEKDAYS = range(5)


@dataclass(frozen=True)
class DemoSpecialist:
    email: str
    name: str
    headline: str
    expertise: list[str]
    timezone: str
    currency: str
    hours: tuple[tuple[str, str], ...]
    services: tuple[ServiceFields, ...]


SPECIALISTS = (
    DemoSpecialist(
        email="maya@demo.specialistly.dev",
        name="Maya Lindqvist",
        headline="Career strategy for engineers moving into leadership",
        expertise=["career", "leadership", "engineering management"],
        timezone="Europe/Berlin",
        currency="eur",
        hours=(("09:00", "12:30"), ("13:30", "17:00")),
        services=(
            {"title": "Intro call", "durations": [20], "price": 0, "minimum_notice": 60},
            {
                "title": "Career strategy session",
                "description": "A focused hour on your next career move.",
                "durations": [45, 60],
                "price": 9000,
                "buffer_after": 15,
            },
        ),
    ),
    DemoSpecialist(
        email="kofi@demo.specialistly.dev",
        name="Kofi Mensah",
        headline="Pricing and go-to-market for B2B start-ups",
        expertise=["pricing", "startups", "sales"],
        timezone="America/New_York",
        currency="usd",
        hours=(("08:00", "16:00"),),
        services=(
            {"title": "Pricing review", "durations": [60], "price": 15000, "buffer_before": 10},
        ),
    ),
)
CUSTOMER = ("sam@demo.specialistly.dev", "Sam Rivera")


async def seed(runtime: Runtime) -> list[str]:
    """Create what is missing; returns the demo logins as lines to print."""
    lines = []
    for demo in SPECIALISTS:
        user = await _account(demo.email, demo.name, Role.SPECIALIST)
        if not await working_hours.availability_of(user.id):  # type: ignore[arg-type]
            await _set_up(runtime, user, demo)
        lines.append(f"specialist  {demo.email} / {PASSWORD}")
    await _account(*CUSTOMER, Role.CUSTOMER)
    lines.append(f"customer    {CUSTOMER[0]} / {PASSWORD}")
    return lines


async def _account(email: str, name: str, role: Role) -> User:
    found = await User.find_one(User.email_key == email)
    if found is not None:
        return found
    return await accounts.register(accounts.Registration(email, PASSWORD, name, role))


async def _set_up(runtime: Runtime, user: User, demo: DemoSpecialist) -> None:
    await accounts.update_profile(
        user,
        accounts.ProfileChanges(
            headline=demo.headline,
            expertise=demo.expertise,
            timezone=demo.timezone,
            currency=demo.currency,
            published=True,
        ),
    )
    days = [DayHours(weekday=d, ranges=demo.hours) for d in WEEKDAYS]
    await working_hours.set_weekly_hours(user, demo.timezone, days)
    providers = runtime.providers.video.names()
    for fields in demo.services:
        service = await catalog.create_service(user, fields, video_providers=providers)
        await catalog.publish_service(user, str(service.id))
    log.info("demo specialist %s set up", demo.email)
