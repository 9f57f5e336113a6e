"""What the worker spends per booking: database commands, enqueued jobs, Redis calls and
CPU time to deliver every event of free and paid bookings (their emails sent over SMTP),
and what one round of the periodic sweeps costs while there is nothing to do.

The deliveries run in this process, as the worker runs them (each job in a unit of work),
so that the commands and the CPU time counted are the worker's alone: the SMTP server
(aiosmtpd's sink) runs as a process of its own, payments go to stripe-mock. Every command
costs FerretDB and PostgreSQL CPU time besides (about 1 ms each on the reference machine).

    python -m bench.bench_worker --bookings 25
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import subprocess
import sys
import time as clock
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import monitoring

from bench.common import bench_settings, make_specialist, make_user
from specialistly.core import payments, reservations
from specialistly.core.events import Event
from specialistly.core.working_hours import DayHours
from specialistly.features import payments as payment_path
from specialistly.features.outgoing import EmailStatus, OutgoingEmail
from specialistly.processes import jobs
from specialistly.runtime import Runtime, start_runtime
from tests.processes import free_port


class Commands(monitoring.CommandListener):
    """Counts the commands sent to the database, by command and collection."""

    def __init__(self) -> None:
        self.counted: Counter[tuple[str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        self.counted[(event.command_name, str(collection))] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class QueuedJobs:
    """Stands for the broker: keeps the jobs sent, to run them here."""

    def __init__(self) -> None:
        self.queue: deque[tuple[str, tuple[Any, ...]]] = deque()
        self.sent = 0

    async def send(self, actor_name: str, *args: Any, delay_ms: int | None = None) -> None:
        self.sent += 1
        self.queue.append((actor_name, args))

    def close(self) -> None:
        pass


class CountedRedis:
    """Counts the Redis calls of the runtime's client."""

    def __init__(self, runtime: Runtime) -> None:
        self.calls = 0
        original = runtime.redis.execute_command

        async def counted(*args: Any, **options: Any) -> Any:
            self.calls += 1
            return await original(*args, **options)  # type: ignore[no-untyped-call]

        runtime.redis.execute_command = counted  # type: ignore[method-assign]


@contextmanager
def smtp_sink() -> Iterator[int]:
    """aiosmtpd's sink (it accepts and drops every message) in a process of its own."""
    port = free_port()
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink"]
    proc = subprocess.Popen([*command, "-l", f"127.0.0.1:{port}"])
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait()


async def book(runtime: Runtime, paid: bool, count: int) -> None:
    """`count` bookings of one specialist's free or paid service, the paid ones paid."""
    _, service = await make_specialist(
        [DayHours(d, [("00:00", "23:55")]) for d in range(7)], price=1000 if paid else 0
    )
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for n in range(count):
        customer = await make_user()
        request = reservations.BookingRequest(
            service_id=str(service.id),
            start=first + timedelta(days=2 + n // 40, minutes=30 * (n % 40)),
            duration_minutes=30,
            customer_timezone="Europe/Berlin",
            idempotency_key=f"bench-key-{n}",
        )
        starter = payment_path.payment_starter(runtime, customer) if paid else None
        async with runtime.unit_of_work():
            booking = await reservations.create_booking(
                customer, request, payment_hold=timedelta(minutes=15), start_payment=starter
            )
            if booking.payment is not None:
                payment = booking.payment
                await payments.succeeded(str(booking.id), payment.provider, payment.external_id)


async def deliver(runtime: Runtime, queued: QueuedJobs) -> int:
    """Run the queued deliveries (and those they cause) as the worker does; how many."""
    done = 0
    while queued.queue:
        actor, args = queued.queue.popleft()
        assert actor == "dispatch_event", actor
        async with runtime.unit_of_work():
            await jobs.dispatch_event(runtime, *args)
        done += 1
    return done


def show(title: str, counted: Counter[tuple[str, str]], per: int) -> None:
    total = sum(counted.values())
    print(f"{title}: {total} commands, {total / per:.1f} per booking")
    for (command, collection), n in counted.most_common():
        print(f"  {n / per:6.2f}  {command:<15} {collection}")


async def measure(runtime: Runtime, listener: Commands, bookings: int) -> None:
    queued = QueuedJobs()
    runtime = dataclasses.replace(runtime, jobs=queued)  # type: ignore[arg-type]
    redis = CountedRedis(runtime)
    await book(runtime, paid=False, count=bookings)
    await book(runtime, paid=True, count=bookings)
    everyone = 2 * bookings
    published, jobs_sent = await Event.find({}).count(), queued.sent
    listener.counted.clear()
    queued.sent, redis.calls = 0, 0
    cpu = clock.process_time()
    delivered = await deliver(runtime, queued)
    cpu = clock.process_time() - cpu
    counted = listener.counted.copy()  # the deliveries', not the counts below
    events = await Event.find({}).count()
    pending = await Event.find({"pending": True}).count()
    sent = await OutgoingEmail.find({"status": EmailStatus.SENT.value}).count()
    print(
        f"{bookings} free and {bookings} paid bookings, confirmed: {published} events"
        f" published in {jobs_sent} jobs"
    )
    print(
        f"{delivered} jobs delivered {events} events ({events - published} caused by the"
        f" deliveries), {pending} still pending, {sent} emails sent"
    )
    print(f"worker CPU: {1000 * cpu / everyone:.1f} ms per booking")
    print(f"Redis calls: {redis.calls / everyone:.1f} per booking")
    show("delivery", counted, everyone)

    listener.counted.clear()
    cpu = clock.process_time()
    for sweep in (jobs.sweep_events, jobs.sweep_bookings, jobs.sweep_plugins, jobs.sweep_reminders):
        async with runtime.unit_of_work():
            await sweep(runtime)
    cpu = clock.process_time() - cpu
    show(f"one idle round of sweeps ({1000 * cpu:.1f} ms CPU)", listener.counted, 1)


async def main(bookings: int) -> None:
    with smtp_sink() as smtp_port:
        os.environ.update(
            {
                "SPECIALISTLY_SMTP_PORT": str(smtp_port),
                "SPECIALISTLY_STRIPE_API_BASE": os.environ.get(
                    "STRIPE_API_BASE", "http://127.0.0.1:12111"
                ),
                "SPECIALISTLY_STRIPE_SECRET_KEY": "sk_test_specialistly",
                "SPECIALISTLY_STRIPE_REQUIRE_PAYOUTS": "false",
            }
        )
        settings = bench_settings()
        listener = Commands()
        monitoring.register(listener)
        runtime = await start_runtime(settings)
        try:
            await measure(runtime, listener, bookings)
        finally:
            await runtime.mongo.drop_database(settings.database)
            await runtime.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=25, help="free ones, and as many paid")
    asyncio.run(main(parser.parse_args().bookings))
