"""Pagination cursors decode into the sort keys' own types, or are refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from beanie import PydanticObjectId

from specialistly.api.pagination import _decode, _encode, _kinds
from specialistly.core.bookings import Booking
from specialistly.core.errors import DomainError
from specialistly.core.users import SpecialistProfile

OID = "6b075e5629a94d8d4db7e470"


def raw(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def test_cursors_round_trip_in_their_types() -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    kinds = _kinds(Booking, [("start", 1), ("_id", 1)])
    assert _decode(_encode([when, PydanticObjectId(OID)]), kinds) == [when, PydanticObjectId(OID)]
    kinds = _kinds(SpecialistProfile, [("display_name", 1), ("_id", 1)])
    assert _decode(_encode(["Ann", PydanticObjectId(OID)]), kinds) == ["Ann", PydanticObjectId(OID)]


@pytest.mark.parametrize(
    "cursor",
    [
        raw([{"$exists": True}, {"o": OID}]),
        raw(["Ann", {"o": OID}]),  # a name where a start time belongs
        raw([{"d": "2030-01-01T00:00:00"}, {"o": OID}]),  # no offset
        raw([{"d": 5}, {"o": OID}]),
        raw([{"d": "2030-01-01T00:00:00+00:00", "$ne": 1}, {"o": OID}]),
        raw([{"d": "2030-01-01T00:00:00+00:00"}, {"o": "zz"}]),
        raw([{"d": "2030-01-01T00:00:00+00:00"}, OID]),
        raw([None, {"o": OID}]),
        raw([[[[[[1]]]]], {"o": OID}]),
        base64.urlsafe_b64encode(b"[" * 100_000).decode()[:999],
        "%%%",
        "\u00e9",
        "",
    ],
)
def test_other_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(DomainError) as refused:
        _decode(cursor, _kinds(Booking, [("start", 1), ("_id", 1)]))
    assert [(p.code, p.field) for p in refused.value.problems] == [("INVALID", "after")]
