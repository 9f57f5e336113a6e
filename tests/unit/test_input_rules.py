"""Field rules for the inputs at the edges: invisible text, zone names, instants, patterns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from specialistly.core import validation
from specialistly.core.errors import Check


def codes(fn, *args, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    check = Check()
    fn(check, "f", *args, **kwargs)
    return [p.code for p in check.problems]


@pytest.mark.parametrize(
    "value",
    [
        "\u200b",
        "a\u200bb",
        "a\ufeffb",
        "a\u2060b",
        "abc\u202edef",
        "\u202aabc\u202c",
        "\u2066abc\u2069",
        "abc\u200f",
        "\u061cabc",
        "\ue000",  # private use
        "\u3164",
        "\u115f\u1160",
        "\u2800",
        "\u0301",
    ],
)
def test_invisible_or_direction_changing_text_is_refused(value: str) -> None:
    assert codes(validation.text, value, max_length=80) == ["INVALID"]
    assert codes(validation.text, value, max_length=80, required=False) == ["INVALID"]


@pytest.mark.parametrize(
    "value",
    [
        "Ann",
        "Zahra\u200cKarimi",
        "\U0001f469\u200d\U0001f4bb",
        "\u05e9\u05dc\u05d5\u05dd",
        "Ji\u0301",
    ],
)
def test_visible_text_in_any_script_is_taken(value: str) -> None:
    assert codes(validation.text, value, max_length=80) == []


def test_single_line_fields_refuse_line_breaks() -> None:
    assert codes(validation.text, "a\nb", max_length=80) == []
    assert codes(validation.text, "a\nb", max_length=80, multiline=False) == ["INVALID"]
    assert codes(validation.text, "a\tb", max_length=80, multiline=False) == ["INVALID"]


@pytest.mark.parametrize("name", ["localtime", "posixrules", "Factory", "posix/UTC", "right/UTC"])
def test_host_files_are_not_time_zones(name: str) -> None:
    assert codes(validation.timezone, name) == ["INVALID"]


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"])
def test_iana_names_are_time_zones(name: str) -> None:
    assert codes(validation.timezone, name) == []


@pytest.mark.parametrize(
    "value",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-10))),
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
        datetime(2200, 1, 1, tzinfo=UTC),
        datetime(2030, 1, 1),  # no offset
    ],
)
def test_instants_out_of_range_are_refused(value: datetime) -> None:
    assert codes(validation.instant, value) == ["INVALID"]


def test_instants_in_range_come_back_in_utc() -> None:
    check = Check()
    local = datetime(2030, 1, 1, 9, tzinfo=timezone(timedelta(hours=2)))
    assert validation.instant(check, "f", local) == datetime(2030, 1, 1, 7, tzinfo=UTC)
    assert validation.instant(check, "f", datetime(2199, 12, 31, 23, 59, tzinfo=UTC)).year == 2199
    assert check.problems == []


@pytest.mark.parametrize(
    ("fn", "value"),
    [
        (validation.slug, "ann-smith\n"),
        (validation.https_url, "https://example.com/\n"),
        (validation.email, "ann@example.com\n"),
    ],
)
def test_patterns_match_the_whole_value(fn, value: str) -> None:  # type: ignore[no-untyped-def]
    # Inputs are stripped first, so the patterns are checked on their own too.
    pattern = {
        validation.slug: validation.SLUG,
        validation.https_url: validation.URL,
        validation.email: validation.EMAIL,
    }[fn]
    assert pattern.fullmatch(value) is None
    assert pattern.fullmatch(value.strip()) is not None
    assert pattern.match(value.strip() + "\n") is not None  # why fullmatch, not match


def test_a_bad_email_is_one_problem() -> None:
    assert codes(validation.email, "ann\x00@example.com") == ["INVALID"]
    assert codes(validation.email, "ann\u202e@example.com") == ["INVALID"]
