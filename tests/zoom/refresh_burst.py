"""Run in a process of its own by test_refresh: create COUNT meetings of one specialist at
once, starting at START (epoch seconds) so that every process starts together; print how
many were created. Zoom settings come from the environment (SPECIALISTLY_ZOOM_*)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime

from beanie import PydanticObjectId

from specialistly.providers import MeetingRequest
from specialistly.runtime import start_runtime
from specialistly.settings import Settings
from specialistly_zoom.provider import ZoomProvider
from specialistly_zoom.settings import ZoomSettings


async def main(specialist_id: str, count: int, start_at: float) -> int:
    runtime = await start_runtime(Settings())
    provider = ZoomProvider(ZoomSettings())
    requests = [
        MeetingRequest(
            booking_id=str(PydanticObjectId()),
            specialist_id=specialist_id,
            topic="Burst",
            start=datetime(2031, 1, 1, 10, tzinfo=UTC),
            duration_minutes=30,
        )
        for _ in range(count)
    ]
    await asyncio.sleep(max(0.0, start_at - time.time()))
    made = await asyncio.gather(*(provider.create_meeting(r) for r in requests))
    await provider.aclose()
    await runtime.close()
    return len({m.external_id for m in made})


if __name__ == "__main__":
    created = asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
    print(f"created {created}", file=sys.stdout)
    sys.exit(0 if os.environ.get("SPECIALISTLY_ZOOM_CLIENT_ID") else 1)
