"""The catch-all mail server of `specialistly dev`: every message sent is kept and shown.

An aiosmtpd server on loopback accepts mail for any address; each message is saved as an
``.eml`` file in the run directory's ``mail/`` folder and summed up on standard error
(sender, recipients, subject and the plain-text part), so a developer sees the emails that
bookings send without a mail account.
"""

from __future__ import annotations

import email
import email.policy
import sys
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TextIO

from aiosmtpd.controller import Controller


class CatchAll:
    """aiosmtpd handler: keeps every message in `folder` and prints a summary to `out`."""

    def __init__(self, folder: Path, out: TextIO = sys.stderr) -> None:
        self.folder = folder
        self.out = out
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        raw: bytes = envelope.original_content or envelope.content
        path = self.folder / f"{self.count:05d}.eml"
        path.write_bytes(raw)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.out.write(summary(message, envelope.rcpt_tos, path))
        self.out.flush()
        return "250 Message accepted"


def summary(message: EmailMessage, recipients: list[str], path: Path) -> str:
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    rule = "-" * 72
    return (
        f"\n{rule}\n  mail to {', '.join(recipients)} (saved as {path})\n"
        f"  From: {message['From']}\n  Subject: {message['Subject']}\n{rule}\n{text}{rule}\n"
    )


def start_mail_server(folder: Path, port: int, out: TextIO = sys.stderr) -> Controller:
    """Start the catch-all server on 127.0.0.1:`port` in its own thread; stop() ends it."""
    controller = Controller(CatchAll(folder, out), hostname="127.0.0.1", port=port)
    controller.start()
    return controller
