"""Amounts of money as people read them: integer minor units shown with their currency's
ISO 4217 exponent (5000 JPY is "5000 JPY", 1250 KWD is "1.250 KWD", 5000 EUR "50.00 EUR").
"""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 (list one, as published by SIX) currencies whose minor unit is not a hundredth;
# every other currency has two decimals.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        (
            "bif",
            "clp",
            "djf",
            "gnf",
            "isk",
            "jpy",
            "kmf",
            "krw",
            "pyg",
            "rwf",
            "ugx",
            "uyi",
            "vnd",
            "vuv",
            "xaf",
            "xof",
            "xpf",
        ),
        0,
    ),
    **dict.fromkeys(("bhd", "iqd", "jod", "kwd", "lyd", "omr", "tnd"), 3),
    **dict.fromkeys(("clf", "uyw"), 4),
}


def exponent(currency: str) -> int:
    """How many decimals the currency's minor unit has."""
    return _EXPONENTS.get(currency.lower(), 2)


def money(minor: int, currency: str) -> str:
    """e.g. "50.00 EUR" for 5000 EUR, "5000 JPY" for 5000 JPY."""
    digits = exponent(currency)
    return f"{Decimal(minor).scaleb(-digits):.{digits}f} {currency.upper()}"
