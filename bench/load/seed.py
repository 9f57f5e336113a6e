"""The data a load run works on: published specialists with hours and a service each, and
customers who all share one password (hashed once: hashing is slow on purpose)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from specialistly.core import accounts, catalog, working_hours
from specialistly.core.passwords import hash_password
from specialistly.core.users import Role, SpecialistProfile, User
from specialistly.core.working_hours import DayHours

EXPERTISE = ("career", "leadership", "pricing", "startups", "design", "data")
PASSWORD = "load-run-password-2026"  # noqa: S105 (the load run's own throwaway accounts)
HOURS = ("06:00", "22:00")  # every day, in the specialist's time zone
TIMEZONES = ("UTC", "Europe/Berlin", "America/New_York")


@dataclass(frozen=True)
class Plan:
    """What the virtual users need to know: who they are and what they may search for."""

    customers: list[str]
    password: str
    expertise: list[str]

    def as_json(self) -> dict[str, object]:
        return {"customers": self.customers, "password": self.password, "expertise": self.expertise}


async def seed(specialists: int, customers: int) -> Plan:
    run = secrets.token_hex(3)
    password_hash = await hash_password(PASSWORD)
    gate = asyncio.Semaphore(5)  # a few at a time: each is a handful of writes

    async def one(n: int) -> None:
        async with gate:
            await _specialist(run, n, password_hash, _tags(n))

    await asyncio.gather(*(one(n) for n in range(specialists)))
    emails = [f"customer-{run}-{n}@load.example.com" for n in range(customers)]
    await User.insert_many(
        [
            User(
                email=email,
                email_key=email,
                password_hash=password_hash,
                display_name=f"Customer {n}",
                roles=[Role.CUSTOMER],
            )
            for n, email in enumerate(emails)
        ]
    )
    return Plan(emails, PASSWORD, sorted({t for n in range(specialists) for t in _tags(n)}))


def _tags(n: int) -> list[str]:
    return [EXPERTISE[n % len(EXPERTISE)], EXPERTISE[(n + 1) % len(EXPERTISE)]]


async def _specialist(run: str, n: int, password_hash: str, tags: list[str]) -> None:
    email = f"specialist-{run}-{n}@load.example.com"
    user = await User(
        email=email,
        email_key=email,
        password_hash=password_hash,
        display_name=f"Specialist {n}",
        roles=[Role.SPECIALIST],
    ).insert()
    assert user.id is not None
    await SpecialistProfile(
        user_id=user.id, slug=f"specialist-{run}-{n}", display_name=user.display_name
    ).insert()
    timezone = TIMEZONES[n % len(TIMEZONES)]
    await accounts.update_profile(
        user,
        accounts.ProfileChanges(
            headline=f"Advice on {tags[0]}",
            expertise=tags,
            timezone=timezone,
            published=True,
        ),
    )
    await working_hours.set_weekly_hours(user, timezone, [DayHours(d, [HOURS]) for d in range(7)])
    # Half the services are free (confirmed at once), half paid (held until paid).
    service = await catalog.create_service(
        user,
        {
            "title": f"Session {n}",
            "durations": [30, 60],
            "price": 0 if n % 2 == 0 else 5000,
            "minimum_notice": 60,
            "buffer_after": 5 * (n % 3),
        },
        video_providers=["jitsi"],
    )
    await catalog.publish_service(user, str(service.id))
