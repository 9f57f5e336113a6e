"""The login throttle in Redis: free attempts, then waits that double, per account and
address."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable
from datetime import timedelta

import pytest
from pydantic import ValidationError

from specialistly.core.errors import DomainError
from specialistly.infra.login_throttle import LoginThrottle
from specialistly.runtime import Runtime
from specialistly.settings import Settings


def throttle(runtime: Runtime, *, first_wait: timedelta = timedelta(minutes=5)) -> LoginThrottle:
    return LoginThrottle(
        runtime.redis,
        free=3,
        longest=timedelta(minutes=15),
        first_wait=first_wait,
        prefix=f"test-login-{secrets.token_hex(4)}",
    )


async def refused(attempt: Awaitable[None]) -> str:
    """The message of a refused attempt; "" if it was let through."""
    try:
        await attempt
    except DomainError as exc:
        return exc.problems[0].message
    return ""


async def test_free_attempts_then_a_wait_for_that_address_only(runtime: Runtime) -> None:
    limits = throttle(runtime)
    for _ in range(3):  # the third starts the wait for the fourth
        await limits.attempt("ann@example.com", "192.0.2.1")
    message = await refused(limits.attempt("ann@example.com", "192.0.2.1"))
    assert message.startswith("Too many login attempts for this account from this address")
    # Another address, or another account from this address, is not slowed.
    await limits.attempt("ann@example.com", "192.0.2.2")
    await limits.attempt("bob@example.com", "192.0.2.1")


async def test_each_refused_attempt_doubles_the_wait_up_to_the_longest(runtime: Runtime) -> None:
    limits = throttle(runtime, first_wait=timedelta(seconds=60))
    for _ in range(3):
        await limits.attempt("ann@example.com", "192.0.2.1")
    waits = [await refused(limits.attempt("ann@example.com", "192.0.2.1")) for _ in range(6)]
    assert [w.rsplit(" ", 2)[-2] for w in waits] == ["120", "240", "480", "900", "900", "900"]


async def test_success_forgets_the_address(runtime: Runtime) -> None:
    limits = throttle(runtime)
    for _ in range(3):
        await limits.attempt("ann@example.com", "192.0.2.1")
    await limits.succeeded("ann@example.com", "192.0.2.1")
    for _ in range(3):
        await limits.attempt("ann@example.com", "192.0.2.1")


async def test_concurrent_attempts_do_not_slip_past_the_wait(runtime: Runtime) -> None:
    limits = throttle(runtime)
    results = await asyncio.gather(
        *[refused(limits.attempt("ann@example.com", "192.0.2.1")) for _ in range(10)]
    )
    assert results.count("") == 3


@pytest.mark.parametrize("free", [0, -1])
def test_at_least_one_free_attempt(free: int) -> None:
    with pytest.raises(ValidationError):
        Settings(environment="test", login_free_attempts=free)
