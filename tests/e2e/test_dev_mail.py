"""`specialistly dev` catches every email on loopback, prints it and keeps it."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from specialistly.features.smtp import SmtpProvider, SmtpSettings
from specialistly.providers import EmailMessage
from tests.processes import Process, free_port
from tests.waiting import eventually


async def test_dev_prints_and_keeps_each_email(test_env: dict[str, str], tmp_path: Path) -> None:
    name = f"dev_{secrets.token_hex(4)}"
    env = {
        key: value for key, value in test_env.items() if not key.startswith("SPECIALISTLY_SMTP_")
    }
    env.update(
        SPECIALISTLY_DATABASE=name,
        SPECIALISTLY_BROKER_NAMESPACE=name,
        SPECIALISTLY_RUN=str(tmp_path),
    )
    port, mail_port = free_port(), free_port()
    dev = Process("dev", ["dev", "--port", str(port), "--mail-port", str(mail_port)], env, tmp_path)
    dev.start()
    try:
        dev.wait_until_ready(f"http://127.0.0.1:{port}/readyz", within=60)
        message = EmailMessage(
            to=("sam@example.com",),
            subject="Hello from the tests",
            text="Body line\n",
            sender="a@b.example",
        )
        provider = SmtpProvider(SmtpSettings(port=mail_port))
        try:
            await provider.send(message)
        finally:
            await provider.aclose()

        async def printed() -> str | None:
            shown = dev.log.read_text()
            return shown if "Hello from the tests" in shown else None

        shown = await eventually(printed, within=10)
        assert "Subject: Hello from the tests" in shown
        assert "Body line" in shown
        [kept] = (tmp_path / "mail").glob("*.eml")
        assert b"Hello from the tests" in kept.read_bytes()
    finally:
        dev.stop()
        mongo: MongoClient[dict[str, Any]] = MongoClient(test_env["MONGODB_URL"])
        with mongo:
            mongo.drop_database(name)
