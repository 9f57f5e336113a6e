"""Argon2id password hashing. Hashing is slow on purpose, so it runs off the event loop, in
threads of its own."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from specialistly.core.errors import Check, ErrorCode

MIN_LENGTH = 10
MAX_LENGTH = 128
COMMON = frozenset(
    {
        "password123",
        "password1234",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "qwerty12345",
        "iloveyou12",
        "letmein123",
        "welcome123",
        "administrator",
        "passw0rd123",
        "abcdefghij",
        "0987654321",
        "1q2w3e4r5t",
        "zaq12wsxcde",
        "trustno1234",
        "football123",
        "baseball123",
        "sunshine123",
        "princess123",
    }
)

# Argon2id with the memory and passes of RFC 9106's low-memory option (64 MiB, 3 passes) in
# one lane: the same work for whoever guesses, who fills the memory either way, but a hash
# keeps one core busy (130 ms here) rather than four lanes taking every core of a small
# machine for 96 ms (and 142 ms of CPU), stalling every other request meanwhile.
_hasher = PasswordHasher(parallelism=1)
# Hashes wait for each other on at most half the cores: a burst of logins can neither take
# the event loop's threads (slot computation and job enqueueing share asyncio's default
# executor) nor the cores the other requests need. And their threads run at a lower
# priority than the rest of the process: on a busy machine, a burst of logins (or of
# guesses, from many addresses at once) makes the logins wait, not everyone's requests.
_NICER_BY = 10


def _behind_other_work() -> None:
    # Where the system refuses, hashing runs at the process's priority: a pool whose
    # initializer raised would refuse every login.
    if sys.platform == "linux":  # where each thread has a nice value of its own
        with suppress(OSError):
            thread = threading.get_native_id()
            nice = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, min(19, nice + _NICER_BY))


_HASHING = ThreadPoolExecutor(
    max_workers=max(1, (os.cpu_count() or 1) // 2),
    thread_name_prefix="argon2",
    initializer=_behind_other_work,
)
T = TypeVar("T")
# Verified against when the account does not exist, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not a real password, only used to spend time")


def check_strength(check: Check, field: str, password: str, *, email: str = "") -> None:
    if len(password) < MIN_LENGTH:
        check.add(ErrorCode.WEAK_PASSWORD, f"Use at least {MIN_LENGTH} characters.", field)
    elif len(password) > MAX_LENGTH:
        check.add(ErrorCode.TOO_LONG, f"At most {MAX_LENGTH} characters.", field)
    elif password.lower() in COMMON or len(set(password)) < 4:
        check.add(ErrorCode.WEAK_PASSWORD, "This password is too easy to guess.", field)
    elif len(local := email.split("@")[0].lower()) >= 4 and local in password.lower():
        check.add(
            ErrorCode.WEAK_PASSWORD, "The password must not contain your email address.", field
        )


async def _hashing(work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, work)


async def hash_password(password: str) -> str:
    return await _hashing(lambda: _hasher.hash(password))


async def verify_password(password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await _hashing(verify)


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)
