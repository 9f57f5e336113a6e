"""Field checks shared by the domain's operations. Each adds a Problem instead of raising.

Patterns are applied with `fullmatch`: `$` also matches before a final newline.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from specialistly.core.errors import Check, ErrorCode

EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
URL = re.compile(r"https://[^\s/$.?#]\S*")

# Instants the platform takes: wide enough for any booking or listing, narrow enough that
# no time zone arithmetic on them leaves the range of datetime.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

# Invisible characters that change how text around them is shown (bidi overrides can make
# "exe.txt" read "txt.exe") or hide that a name is empty. Zero-width (non-)joiners stay:
# scripts such as Persian and emoji sequences need them.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e") | frozenset(
    "\u2066\u2067\u2068\u2069"
)
_JOINERS = frozenset("\u200c\u200d")
# Letters and symbols that print as nothing (Hangul fillers, the blank Braille pattern).
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Names in a host's zoneinfo directory that are not places: the host's own setting and
# files of the tz build.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})

# ISO 4217 codes of the currencies the payment providers we know settle in.
CURRENCIES = frozenset(
    {
        "aed",
        "aud",
        "brl",
        "cad",
        "chf",
        "clp",
        "cny",
        "czk",
        "dkk",
        "eur",
        "gbp",
        "hkd",
        "huf",
        "idr",
        "ils",
        "inr",
        "jpy",
        "krw",
        "mxn",
        "myr",
        "nok",
        "nzd",
        "php",
        "pln",
        "ron",
        "sek",
        "sgd",
        "thb",
        "try",
        "twd",
        "usd",
        "zar",
    }
)


def text(
    check: Check,
    field: str,
    value: str | None,
    *,
    max_length: int,
    required: bool = True,
    multiline: bool = True,
) -> str:
    """The value stripped; a problem if missing, too long, holding control or invisible
    formatting characters, or with nothing visible in it."""
    value = (value or "").strip()
    if not value:
        if required:
            check.add(ErrorCode.REQUIRED, "This field is required.", field)
        return value
    allowed = "\n\t" if multiline else ""
    if len(value) > max_length:
        check.add(ErrorCode.TOO_LONG, f"At most {max_length} characters.", field)
    elif any(unicodedata.category(c) == "Cc" and c not in allowed for c in value):
        check.add(ErrorCode.INVALID, "Control characters are not allowed.", field)
    elif any(_hidden(c) for c in value):
        check.add(ErrorCode.INVALID, "Invisible formatting characters are not allowed.", field)
    elif not any(_visible(c) for c in value):
        check.add(ErrorCode.INVALID, "Write at least one visible character.", field)
    return value


def _hidden(c: str) -> bool:
    """A format or private character other than the joiners (and emoji tag characters)."""
    category = unicodedata.category(c)
    if category in ("Co", "Cs"):
        return True
    return category == "Cf" and c not in _JOINERS and not "\U000e0020" <= c <= "\U000e007f"


def _visible(c: str) -> bool:
    return unicodedata.category(c)[0] not in "ZCM" and c not in _BLANKS


def email(check: Check, field: str, value: str | None) -> str:
    before = len(check.problems)
    value = text(check, field, value, max_length=254, multiline=False)
    if value and len(check.problems) == before and not EMAIL.fullmatch(value):
        check.add(ErrorCode.INVALID, "This is not a valid email address.", field)
    return value


def timezone(check: Check, field: str, value: str | None) -> str:
    value = (value or "").strip()
    if value not in _zones():
        check.add(ErrorCode.INVALID, f"{value[:64]!r} is not an IANA time zone name.", field)
    return value


def instant(check: Check, field: str, value: datetime) -> datetime:
    """The instant in UTC; a problem if it has no offset or is before 1970 or after 2199."""
    if value.tzinfo is None or value.utcoffset() is None:
        check.add(
            ErrorCode.INVALID,
            "Give an instant with a UTC offset, like 2030-01-31T09:00:00Z.",
            field,
        )
        return value
    # The local year first: converting year 1 or 9999 to UTC may overflow.
    if EARLIEST.year <= value.year < LATEST.year:
        utc = value.astimezone(UTC)
        if EARLIEST <= utc < LATEST:
            return utc
    check.add(ErrorCode.INVALID, "Give an instant between 1970 and 2199.", field)
    return value


def currency(check: Check, field: str, value: str | None) -> str:
    value = (value or "").strip().lower()
    if value not in CURRENCIES:
        check.add(ErrorCode.INVALID, "This is not a supported ISO 4217 currency code.", field)
    return value


def slug(check: Check, field: str, value: str | None) -> str:
    value = (value or "").strip()
    if not (3 <= len(value) <= 60 and SLUG.fullmatch(value)):
        check.add(
            ErrorCode.INVALID, "Use 3 to 60 lower-case letters, digits and single dashes.", field
        )
    return value


def https_url(check: Check, field: str, value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if len(value) > 2000 or not URL.fullmatch(value):
        check.add(
            ErrorCode.INVALID, "This must be an https:// URL of at most 2000 characters.", field
        )
    return value


def tags(check: Check, field: str, values: list[str] | None, *, max_items: int = 20) -> list[str]:
    values = values or []
    if len(values) > max_items:
        check.add(ErrorCode.TOO_LONG, f"At most {max_items} items.", field)
        return []
    cleaned = [
        text(check, f"{field}.{i}", v, max_length=40, multiline=False) for i, v in enumerate(values)
    ]
    return list(dict.fromkeys(v.lower() for v in cleaned if v))


def slugify(value: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:50] or "specialist"


@cache
def _zones() -> frozenset[str]:
    """IANA names: the zones the host and tzdata know, without what is not a place."""
    return frozenset(
        name
        for name in available_timezones()
        if name not in _NOT_ZONES and not name.startswith(("posix/", "right/"))
    )


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
