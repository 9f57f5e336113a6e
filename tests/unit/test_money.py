"""Amounts in minor units read with their currency's ISO 4217 exponent."""

from __future__ import annotations

import pytest

from specialistly.features.money import exponent, money


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (5000, "jpy", "5000 JPY"),  # the yen has no minor unit
        (7, "JPY", "7 JPY"),
        (1250, "kwd", "1.250 KWD"),  # the dinar has a thousandth
        (5, "kwd", "0.005 KWD"),
        (5000, "eur", "50.00 EUR"),
        (1, "eur", "0.01 EUR"),
        (0, "eur", "0.00 EUR"),
        (123456789, "usd", "1234567.89 USD"),
    ],
)
def test_amounts_are_shown_with_their_currencys_decimals(
    minor: int, currency: str, shown: str
) -> None:
    assert money(minor, currency) == shown


def test_the_exponents_of_currencies_the_platform_accepts() -> None:
    assert [exponent(c) for c in ("jpy", "krw", "clp", "eur", "usd", "huf")] == [0, 0, 0, 2, 2, 2]
