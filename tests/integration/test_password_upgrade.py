"""A password hashed with older parameters is hashed again with today's at its next login."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, extract_parameters

from specialistly.core import accounts
from specialistly.core.users import User
from tests.bookings_fixtures import make_user

PASSWORD = "correct horse battery"
EARLIER = PasswordHasher(parallelism=4)  # what earlier releases hashed with

pytestmark = pytest.mark.usefixtures("runtime")


async def user_hashed_earlier() -> User:
    user = await make_user()
    await user.set({User.password_hash: EARLIER.hash(PASSWORD)})
    return user


async def stored_hash(user: User) -> str:
    found = await User.get(user.id)
    assert found is not None and found.password_hash is not None
    return found.password_hash


async def test_a_login_hashes_an_earlier_hash_again() -> None:
    user = await user_hashed_earlier()
    assert (await accounts.authenticate(user.email, PASSWORD)).id == user.id
    upgraded = await stored_hash(user)
    assert extract_parameters(upgraded).parallelism == 1
    assert (await accounts.authenticate(user.email, PASSWORD)).id == user.id
    assert await stored_hash(user) == upgraded  # once


async def test_the_upgrade_leaves_a_password_changed_since_the_login_read_it() -> None:
    user = await user_hashed_earlier()
    as_read = await User.get(user.id)
    assert as_read is not None
    changed = EARLIER.hash("another good password")
    await user.set({User.password_hash: changed})
    await accounts.upgrade_hash(as_read, PASSWORD)
    assert await stored_hash(user) == changed
