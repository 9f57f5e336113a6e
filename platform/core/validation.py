"""Field checks shared by the domain's operations. Each adds a Problem instead of raising."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from specialistly.core.errors import Check, ErrorCode

EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
URL = re.compile(r"^https://[^\s/$.?#][^\s]*$")

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
    check: Check, field: str, value: str | None, *, max_length: int, required: bool = True
) -> str:
    """The value stripped; a problem if missing, too long or holding control characters."""
    value = (value or "").strip()
    if not value:
        if required:
            check.add(ErrorCode.REQUIRED, "This field is required.", field)
        return value
    if len(value) > max_length:
        check.add(ErrorCode.TOO_LONG, f"At most {max_length} characters.", field)
    elif any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value):
        check.add(ErrorCode.INVALID, "Control characters are not allowed.", field)
    return value


def email(check: Check, field: str, value: str | None) -> str:
    value = text(check, field, value, max_length=254)
    if value and len(value) <= 254 and not EMAIL.match(value):
        check.add(ErrorCode.INVALID, "This is not a valid email address.", field)
    return value


def timezone(check: Check, field: str, value: str | None) -> str:
    value = (value or "").strip()
    if value not in _zones():
        check.add(ErrorCode.INVALID, f"{value[:64]!r} is not an IANA time zone name.", field)
    return value


def currency(check: Check, field: str, value: str | None) -> str:
    value = (value or "").strip().lower()
    if value not in CURRENCIES:
        check.add(ErrorCode.INVALID, "This is not a supported ISO 4217 currency code.", field)
    return value


def slug(check: Check, field: str, value: str | None) -> str:
    value = (value or "").strip()
    if not (3 <= len(value) <= 60 and SLUG.match(value)):
        check.add(
            ErrorCode.INVALID, "Use 3 to 60 lower-case letters, digits and single dashes.", field
        )
    return value


def https_url(check: Check, field: str, value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if len(value) > 2000 or not URL.match(value):
        check.add(
            ErrorCode.INVALID, "This must be an https:// URL of at most 2000 characters.", field
        )
    return value


def tags(check: Check, field: str, values: list[str] | None, *, max_items: int = 20) -> list[str]:
    values = values or []
    if len(values) > max_items:
        check.add(ErrorCode.TOO_LONG, f"At most {max_items} items.", field)
        return []
    cleaned = [text(check, f"{field}.{i}", v, max_length=40) for i, v in enumerate(values)]
    return list(dict.fromkeys(v.lower() for v in cleaned if v))


def slugify(value: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:50] or "specialist"


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
