"""The worker is wired in one place: `bootstrap` declares its actors on its own broker."""

from __future__ import annotations

import dramatiq.broker

from specialistly.processes.worker import bootstrap
from specialistly.settings import Settings


def test_bootstrap_declares_every_actor_on_its_own_broker(settings: Settings) -> None:
    first, second = bootstrap(settings), bootstrap(settings)
    try:
        assert first.actor_names() == [
            "dispatch_event",
            "sweep_bookings",
            "sweep_events",
            "sweep_plugins",
            "sweep_reminders",
        ]
        assert first.periodic == (
            "sweep_events",
            "sweep_bookings",
            "sweep_plugins",
            "sweep_reminders",
        )
        # Nothing is registered on import or kept in a module: each bootstrap stands alone.
        assert second.broker is not first.broker
        assert second.actor_names() == first.actor_names()
        assert dramatiq.broker.global_broker is None
    finally:
        first.broker.close()
        second.broker.close()
