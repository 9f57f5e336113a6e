"""Slowing down password guessing without letting anyone lock an account.

Attempts are counted per account *and* client address, in Redis so every API instance
shares them. The first `free` attempts pass; from then on each attempt from that address
for that account must wait for the one before: the wait doubles with every attempt (made
or refused) up to `longest`, so hammering only lengthens the attacker's own wait. A
successful login forgets the address's count. The owner, logging in from their own
address, never waits for an attacker's guesses; an attacker's guesses across many accounts
are capped by the per-address limit of the login mutation.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from redis.asyncio import Redis

from specialistly.infra.ratelimit import RateLimitedError

# How long a count of attempts is remembered after the last one.
MEMORY = timedelta(days=1)

# Atomic, so that concurrent attempts cannot all slip through before one sets the wait.
# KEYS: count, wait. ARGV: memory ms, free attempts, first wait ms, longest wait ms.
# Returns the ms the previous wait still had to run (<= 0: none) and the new wait in ms.
_ATTEMPT = """
local count = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local free = tonumber(ARGV[2])
if count < free then return {0, 0} end
local waiting = redis.call('PTTL', KEYS[2])
local wait = tonumber(ARGV[4])
if count - free < 40 then
  wait = math.min(tonumber(ARGV[3]) * 2 ^ (count - free), wait)
end
wait = math.floor(wait)
redis.call('SET', KEYS[2], '1', 'PX', wait)
return {waiting, wait}
"""


class LoginThrottle:
    def __init__(
        self,
        redis: Redis,
        *,
        free: int,
        longest: timedelta,
        first_wait: timedelta = timedelta(seconds=1),
        prefix: str = "login",
    ) -> None:
        self._redis = redis
        self._args = (
            int(MEMORY.total_seconds() * 1000),
            free,
            max(1, int(first_wait.total_seconds() * 1000)),
            max(1, int(longest.total_seconds() * 1000)),
        )
        self._prefix = prefix

    async def attempt(self, account: str, address: str) -> None:
        """Count an attempt; RATE_LIMITED if the wait after the previous one is not over."""
        waiting_ms, wait_ms = await self._redis.eval(
            _ATTEMPT, 2, *self._keys(account, address), *self._args
        )
        if int(waiting_ms) > 0:
            raise RateLimitedError(
                "login attempts for this account from this address",
                math.ceil(int(wait_ms) / 1000),
            )

    async def succeeded(self, account: str, address: str) -> None:
        await self._redis.delete(*self._keys(account, address))

    def _keys(self, account: str, address: str) -> tuple[str, str]:
        # Hashed: keys stay short and carry no email addresses.
        who = hashlib.sha256(f"{account}\0{address}".encode()).hexdigest()[:32]
        return f"{self._prefix}:count:{who}", f"{self._prefix}:wait:{who}"
