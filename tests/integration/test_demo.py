"""`specialistly dev` seeds demo data that is bookable at once, and seeding twice adds nothing."""

from __future__ import annotations

from datetime import timedelta

from specialistly.core import accounts, schedule
from specialistly.core.clock import utcnow
from specialistly.core.services import Service, ServiceStatus
from specialistly.core.slots import Interval
from specialistly.core.users import SpecialistProfile, User
from specialistly.processes import demo
from specialistly.runtime import Runtime


async def counts() -> tuple[int, int, int]:
    emails = [s.email for s in demo.SPECIALISTS] + [demo.CUSTOMER[0]]
    users = await User.find({"email_key": {"$in": emails}}).to_list()
    ids = [u.id for u in users]
    services = await Service.find({"specialist_id": {"$in": ids}}).count()
    profiles = await SpecialistProfile.find({"user_id": {"$in": ids}}).count()
    return len(users), profiles, services


async def test_demo_data_is_seeded_once_and_bookable(runtime: Runtime) -> None:
    logins = await demo.seed(runtime)
    assert len(logins) == 3
    first = await counts()
    assert first == (3, 2, 3)
    assert await demo.seed(runtime) == logins
    assert await counts() == first

    user = await accounts.authenticate(demo.CUSTOMER[0], demo.PASSWORD)
    assert user.display_name == "Sam Rivera"
    maya = await User.find_one(User.email_key == demo.SPECIALISTS[0].email)
    assert maya is not None
    offered = await Service.find(
        Service.specialist_id == maya.id, Service.status == ServiceStatus.PUBLISHED
    ).to_list()
    assert {s.title for s in offered} == {"Intro call", "Career strategy session"}
    now = utcnow()
    open_slots = await schedule.service_slots(
        offered[0], Interval(now, now + timedelta(days=14)), now=now
    )
    assert open_slots
