"""Structured JSON logs carrying the id of the request (or job) they belong to."""

from __future__ import annotations

import logging
import secrets
import time
from contextvars import ContextVar
from typing import IO

from pythonjsonlogger.orjson import OrjsonFormatter
from starlette.types import Scope

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
log = logging.getLogger("specialistly.http")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class _Formatter(OrjsonFormatter):
    """One JSON object a line; each second's timestamp text is made once."""

    _second: tuple[int, str] = (-1, "")  # one tuple, swapped whole: threads log too

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        whole = int(record.created)
        second = self._second
        if second[0] != whole:
            # What logging.Formatter.formatTime makes, to the second.
            second = self._second = (
                whole,
                time.strftime("%Y-%m-%d %H:%M:%S", self.converter(whole)),
            )
        return f"{second[1]},{int(record.msecs):03d}"


def json_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing one JSON object a line (to stderr by default): time, level,
    logger, message, request_id, and the record's extra fields."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        _Formatter(
            "{asctime}{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_RequestIdFilter())
    return handler


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    root.handlers[:] = [json_handler()]
    root.setLevel(level)


def request_id_of(scope: Scope) -> str:
    """The request's id: a sane `X-Request-ID` it came with, else a new one."""
    given = b""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value
    text = given.decode("latin-1")
    return text if 0 < len(text) <= 64 and text.isprintable() else secrets.token_hex(8)


def log_request(method: str, path: str, status: int, seconds: float) -> None:
    """The access log line of a request (or WebSocket: method "WS"), once it is answered.

    Made as `log.info` would make it, but without looking for the caller's file and line,
    which no field of the line shows."""
    if log.isEnabledFor(logging.INFO):
        extra = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        log.handle(log.makeRecord(log.name, logging.INFO, "", 0, "request", (), None, extra=extra))
