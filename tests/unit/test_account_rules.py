"""Account rules that need no server: password strength, field checks, hashing."""

from __future__ import annotations

import pytest
from argon2 import Type, extract_parameters

from specialistly.core import validation
from specialistly.core.errors import Check
from specialistly.core.passwords import check_strength, hash_password, verify_password


def problems(fn, *args, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    check = Check()
    fn(check, "f", *args, **kwargs)
    return [p.code for p in check.problems]


@pytest.mark.parametrize(
    ("password", "codes"),
    [
        ("short", ["WEAK_PASSWORD"]),
        ("password123", ["WEAK_PASSWORD"]),
        ("aaaaaaaaaaaa", ["WEAK_PASSWORD"]),
        ("x" * 129 + "abc", ["TOO_LONG"]),
        ("mary.smith-secret-42", ["WEAK_PASSWORD"]),  # contains the email's name
        ("correct horse battery", []),
    ],
)
def test_password_strength(password: str, codes: list[str]) -> None:
    assert problems(check_strength, password, email="mary.smith@example.com") == codes


@pytest.mark.parametrize(
    ("email", "ok"),
    [
        ("ann@example.com", True),
        ("ann.o'neil+tag@sub.example.co.uk", True),
        ("no-at-sign.example.com", False),
        ('{"$gt": ""}', False),
        ("ann@example", False),
        ("a" * 250 + "@example.com", False),
        ("", False),
    ],
)
def test_email(email: str, ok: bool) -> None:
    assert (problems(validation.email, email) == []) is ok


def test_text_rejects_control_characters_and_long_values() -> None:
    assert problems(validation.text, "a\x00b", max_length=10) == ["INVALID"]
    assert problems(validation.text, "x" * 11, max_length=10) == ["TOO_LONG"]
    assert problems(validation.text, "  ", max_length=10) == ["REQUIRED"]
    assert problems(validation.text, "line\nbreak", max_length=20) == []


def test_timezone_currency_slug() -> None:
    assert problems(validation.timezone, "Europe/Berlin") == []
    assert problems(validation.timezone, "Mars/Olympus") == ["INVALID"]
    assert problems(validation.currency, "EUR") == []
    assert problems(validation.currency, "xyz") == ["INVALID"]
    assert problems(validation.slug, "ann-smith") == []
    assert problems(validation.slug, "Ann Smith") == ["INVALID"]


def test_slugify() -> None:
    assert validation.slugify("Zoë  O'Brien!") == "zoe-o-brien"
    assert validation.slugify("日本") == "specialist"


async def test_passwords_are_argon2id_and_verify() -> None:
    hashed = await hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert await verify_password(hashed, "correct horse battery")
    assert not await verify_password(hashed, "wrong horse battery")
    assert not await verify_password(None, "anything")  # unknown account: same work, no


async def test_a_hash_fills_rfc_9106s_memory_in_one_lane() -> None:
    """64 MiB and 3 passes, as RFC 9106's low-memory option; one lane, so one core a hash."""
    made = extract_parameters(await hash_password("correct horse battery"))
    assert (made.type, made.memory_cost, made.time_cost) == (Type.ID, 65536, 3)
    assert made.parallelism == 1
