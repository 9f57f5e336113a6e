"""Load run: `specialistly serve` in production mode, with its worker, under locust.

Seeds a database of its own (load_<random>, dropped afterwards), starts the API server and
a worker on this machine, and lets `--users` virtual customers (bench/load/locustfile.py)
search, read pages and calendars of free slots, log in, book, list and cancel for
`--seconds`. Prints the throughput, p50/p95/p99 per operation, bookings per second, every
error, where the CPU went and how soon after the load the worker had delivered every event
the run published (bookings per second count as sustained only if it caught up within
seconds); exits 1 when any request failed. Needs the real services
(`scripts/bench` starts them):

    python bench/load/run.py [--users 100] [--seconds 60] [--specialists 30]

The request and login limits are lifted for the run, and said so: every virtual user comes
from one address, which the per-address limits would otherwise refuse within seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from bench.load import commands, cpu
from bench.load.seed import seed
from specialistly.core.events import Event
from specialistly.infra.metrics import directory
from specialistly.runtime import start_runtime
from specialistly.settings import Settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
UNLIMITED = str(10**9)
LIFTED = {
    "SPECIALISTLY_REQUESTS_PER_MINUTE_ANONYMOUS": UNLIMITED,
    "SPECIALISTLY_REQUESTS_PER_MINUTE_USER": UNLIMITED,
    "SPECIALISTLY_LOGIN_ATTEMPTS_PER_IP": UNLIMITED,
}
# The targets; noisy on a shared machine, so reported, never enforced. Bookings
# are sustained when the worker delivers their events within CAUGHT_UP seconds of the end.
READ_P99_MS = 200
BOOKING_P99_MS = 500
BOOKINGS_PER_SECOND = 10
CAUGHT_UP = 10  # seconds
CATCH_UP_WAIT = 60  # seconds
READS = ("search", "specialistPage", "calendar", "myBookings")
LOGS = {"API server": "api.log", "worker": "worker.log"}
METRICS = {"API server": "metrics-api", "worker": "metrics-worker"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=100)
    # Users arrive two a second: each logs in first, and a login is 0.1-0.3 s of Argon2
    # work on purpose; a hundred at once would measure a login storm, not a working day.
    parser.add_argument("--spawn-rate", type=float, default=2)
    parser.add_argument("--seconds", type=int, default=60, help="measured, after spawning")
    parser.add_argument("--specialists", type=int, default=30)
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds between clicks")
    parser.add_argument(
        "--api-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="`serve --workers`: one per core, as the API is deployed (default)",
    )
    parser.add_argument("--report", type=Path, help="also write the summary here, as JSON")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the API server with py-spy (pip install py-spy) into this speedscope file",
    )
    args = parser.parse_args()

    name = f"load_{secrets.token_hex(4)}"
    mail_port = _free_port()
    env = {
        **os.environ,
        "SPECIALISTLY_ENVIRONMENT": "production",
        "SPECIALISTLY_DATABASE": name,
        "SPECIALISTLY_BROKER_NAMESPACE": name,
        "SPECIALISTLY_JWT_SECRET": secrets.token_urlsafe(32),
        **_sandbox_providers(mail_port),
        **LIFTED,
    }
    print("rate limits lifted for this run: " + ", ".join(f"{k}={v}" for k, v in LIFTED.items()))
    print("paid bookings pay through stripe-mock; emails go to a mail server of the run")
    print(f"the API server runs {args.api_processes} processes (`serve --workers`) and one worker")
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        work = Path(tmp)
        sink = MailSink()
        mail = Controller(sink, hostname="127.0.0.1", port=mail_port)
        mail.start()
        plan = work / "plan.json"
        plan.write_text(json.dumps(asyncio.run(_seed(env, args.specialists, args.users))))
        print(f"seeded {args.specialists} specialists and {args.users} customers in {name}")
        try:
            with _platform(env, work, args.api_processes) as (url, pids):
                with _profiling(pids["API server"], args):
                    summary = _locust(url, plan, work, args, pids)
                summary["catching_up"] = asyncio.run(_catch_up(env))
        finally:
            mail.stop()
            asyncio.run(_drop(env))
    summary["emails_accepted"] = sink.accepted
    _print(summary, args)
    if args.report:
        args.report.write_text(json.dumps(summary, indent=2))
    return 1 if summary["failures"] else 0


class MailSink:
    """The run's mail server (an aiosmtpd handler): accepts every message and counts it.
    Unlike `specialistly dev`'s catch-all it neither parses nor keeps them: parsing took half
    of this process's CPU, taken from the two cores the measured platform runs on."""

    def __init__(self) -> None:
        self.accepted = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.accepted += 1
        return "250 Message accepted"


async def _seed(env: dict[str, str], specialists: int, customers: int) -> dict[str, object]:
    runtime = await start_runtime(_settings(env))
    try:
        return (await seed(specialists, customers)).as_json()
    finally:
        await runtime.close()


async def _drop(env: dict[str, str]) -> None:
    settings = _settings(env)
    runtime = await start_runtime(settings)
    try:
        await runtime.mongo.drop_database(settings.database)
    finally:
        await runtime.close()


async def _catch_up(env: dict[str, str]) -> dict[str, float]:
    """Wait, after the load, for the worker to deliver every event the run published (the
    emails, meetings and payments of its bookings), at most CATCH_UP_WAIT seconds: how long
    it took, and how many were left."""
    runtime = await start_runtime(_settings(env))
    try:
        started = time.monotonic()
        while True:
            left = await Event.find({"pending": True}).count()
            waited = time.monotonic() - started
            if left == 0 or waited >= CATCH_UP_WAIT:
                return {"seconds": waited, "events_left": left}
            await asyncio.sleep(0.5)
    finally:
        await runtime.close()


def _sandbox_providers(mail_port: int) -> dict[str, str]:
    """Stripe in its sandbox (scripts/services' stripe-mock) and mail to a local server, as
    `specialistly dev` has them: paid bookings and their emails cost what they do."""
    return {
        "SPECIALISTLY_STRIPE_SECRET_KEY": "sk_test_load",
        "SPECIALISTLY_STRIPE_PUBLISHABLE_KEY": "pk_test_load",
        "SPECIALISTLY_STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:12111"),
        "SPECIALISTLY_STRIPE_REQUIRE_PAYOUTS": "false",
        "SPECIALISTLY_SMTP_HOST": "127.0.0.1",
        "SPECIALISTLY_SMTP_PORT": str(mail_port),
    }


def _settings(env: dict[str, str]) -> Settings:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _platform(
    env: dict[str, str], work: Path, api_processes: int
) -> Iterator[tuple[str, dict[str, int]]]:
    """The API server and a worker, as `specialistly serve` and `specialistly worker`,
    each with a metrics directory of its own (METRICS) so that the run can tell them apart."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    serve = ["serve", "--port", str(port), "--workers", str(api_processes)]
    processes = [
        _start(serve, env, work, "API server"),
        _start(["worker"], env, work, "worker"),
    ]
    try:
        _wait_ready(url, processes[0], work / LOGS["API server"])
        yield url, {"API server": processes[0].pid, "worker": processes[1].pid}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _show_problems(work)


@contextmanager
def _profiling(pid: int, args: argparse.Namespace) -> Iterator[None]:
    """py-spy sampling the API server (all its processes) for the whole run, when asked to."""
    if args.profile is None:
        yield
        return
    seconds = round(args.users / args.spawn_rate + args.seconds)
    command = ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--duration", str(seconds)]
    command += ["--format", "speedscope", "--output", str(args.profile), "--nonblocking"]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        spy.wait()
        print(f"profile of the API server: {args.profile} (open it in speedscope)")


def _start(args: list[str], env: dict[str, str], work: Path, part: str) -> subprocess.Popen[bytes]:
    with (work / LOGS[part]).open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "specialistly.processes.cli", *args],
            env={**env, directory.ENV: str(work / METRICS[part])},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the API server did not start:\n{log.read_text(errors='replace')}")


def _show_problems(work: Path) -> None:
    """The server's and the worker's logged errors, which the requests may not show."""
    for log in LOGS.values():
        lines = (work / log).read_text(errors="replace").splitlines()
        problems = [line for line in lines if '"levelname": "ERROR"' in line or "Traceback" in line]
        if problems:
            print(f"{log}: {len(problems)} error lines, the first ones:")
            for line in problems[:5]:
                print(f"  {line[:300]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _locust(
    url: str, plan: Path, work: Path, args: argparse.Namespace, pids: dict[str, int]
) -> dict[str, Any]:
    summary = work / "summary.json"
    spawning = args.users / args.spawn_rate
    command = [
        sys.executable,
        "-m",
        "locust",
        "--locustfile",
        str(HERE / "locustfile.py"),
        "--headless",
        "--only-summary",
        "--reset-stats",  # measure from the moment every user runs
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        f"{round(spawning + args.seconds)}s",
        "--stop-timeout",
        "30",
        "--host",
        url,
        "--plan-file",
        str(plan),
        "--summary-file",
        str(summary),
        "--think",
        str(args.think),
        "--exit-code-on-error",
        "0",  # the summary decides
    ]
    with (work / "locust.log").open("wb") as out:
        # From the repository root, where the locustfile imports bench.load.operations.
        locust = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        measured = _while_measured(locust, pids, work, spawning, args.seconds)
        returncode = locust.wait()
    if returncode != 0 or not summary.exists():
        log = (work / "locust.log").read_text(errors="replace")
        raise SystemExit(f"locust failed ({returncode}):\n{log[-4000:]}")
    result: dict[str, Any] = json.loads(summary.read_text())
    if measured is not None:
        used, sent = measured
        result["cpu"] = {**used.parts, "machine busy": used.machine_busy}
        result["cpu_available"] = used.machine_total
        result["commands"] = sent
    return result


def _while_measured(
    locust: subprocess.Popen[bytes],
    pids: dict[str, int],
    work: Path,
    spawning: float,
    seconds: float,
) -> tuple[cpu.Sample, commands.Commands] | None:
    """CPU used by each part, and database commands sent by the API server and the
    worker, from the moment every user runs until just before locust stops them (while it
    still runs, so that its own share can be read)."""
    trees = {**pids, "load client": locust.pid}
    database = {"database": cpu.DATABASE}
    directories = {part: work / name for part, name in METRICS.items()}
    started = time.monotonic()

    def running_until(moment: float) -> bool:
        while time.monotonic() < started + moment:
            if locust.poll() is not None:
                return False
            time.sleep(0.1)
        return True

    if not running_until(spawning):
        return None
    first, first_sent = cpu.sample(trees, database), commands.sample(directories)
    if not running_until(spawning + seconds - 1):
        return None
    used = cpu.sample(trees, database).since(first)
    return used, commands.since(commands.sample(directories), first_sent)


def _print(summary: dict[str, Any], args: argparse.Namespace) -> None:
    seconds = summary["seconds"] or 1
    print(
        f"\n{args.users} users, {seconds:.0f} s measured: {summary['requests']} requests,"
        f" {summary['requests'] / seconds:.1f}/s, {summary['failures']} errors"
    )
    columns = ("requests", "per s", "errors", "p50", "p95", "p99")
    print(f"{'operation':<16}" + "".join(f"{c:>9}" for c in columns))
    for name, op in summary["operations"].items():
        print(
            f"{name:<16}{op['requests']:>9}{op['requests'] / seconds:>9.1f}{op['failures']:>9}"
            f"{op['p50']:>9.0f}{op['p95']:>9.0f}{op['p99']:>9.0f}"
        )
    print("latencies in ms; locust rounds those above 100 ms to two significant digits")
    if "cpu" in summary:
        _print_cpu(summary, seconds)
        for line in commands.report(summary["commands"], summary["requests"], _booked(summary)):
            print(line)
    for outcome, count in summary["outcomes"].items():
        print(f"outcome {outcome}: {count} (an answer, not an error)")
    for error in summary["errors"]:
        first = (error["error"].strip().splitlines() or [""])[0]
        print(f"error  {error['operation']}: {first[:300]} (x{error['count']})")
    late = summary["catching_up"]
    print(
        f"worker: {late['events_left']} events left undelivered {late['seconds']:.1f} s after"
        f" the load stopped; {summary['emails_accepted']} emails accepted by the run's mail"
        " server"
    )
    _verdict(summary, seconds)


def _print_cpu(summary: dict[str, Any], seconds: float) -> None:
    """Where the machine's CPU went while measured, and what each request cost each part."""
    used: dict[str, float] = summary["cpu"]
    available = summary["cpu_available"]
    requests = summary["requests"] or 1
    print(
        f"CPU while measured: {used['machine busy']:.0f} of {available:.0f} core-seconds busy;"
        " per request: "
        + ", ".join(
            f"{part} {used[part] / requests * 1000:.1f} ms"
            for part in ("API server", "worker", "database", "load client")
        )
        + f"; all processes {used['machine busy'] / requests * 1000:.1f} ms"
    )


def _booked(summary: dict[str, Any]) -> int:
    """Bookings made: createBooking requests that neither failed nor found the slot taken."""
    booking = summary["operations"].get("createBooking", {"requests": 0, "failures": 0})
    taken = summary["outcomes"].get("createBooking SLOT_TAKEN", 0)
    return int(booking["requests"] - booking["failures"] - taken)


def _verdict(summary: dict[str, Any], seconds: float) -> None:
    ops = summary["operations"]
    booking = ops.get("createBooking", {"p99": 0})
    booked = _booked(summary)
    late = summary["catching_up"]
    caught_up = late["events_left"] == 0 and late["seconds"] <= CAUGHT_UP
    slow_reads = [n for n in READS if n in ops and ops[n]["p99"] >= READ_P99_MS]
    checks = [
        ("0 errors", summary["failures"] == 0),
        (f"reads p99 < {READ_P99_MS} ms", not slow_reads),
        (f"createBooking p99 < {BOOKING_P99_MS} ms", booking["p99"] < BOOKING_P99_MS),
        (
            f">= {BOOKINGS_PER_SECOND} bookings/s sustained ({booked / seconds:.1f},"
            f" worker caught up within {CAUGHT_UP} s: {'yes' if caught_up else 'no'})",
            booked / seconds >= BOOKINGS_PER_SECOND and caught_up,
        ),
    ]
    print(
        "targets (the machine is shared, figures are noisy): "
        + "; ".join(f"{label} {'met' if ok else 'MISSED'}" for label, ok in checks)
    )


if __name__ == "__main__":
    sys.exit(main())
