"""The earnings ledger: one immutable entry per money movement Stripe reports.

Entries are written once per (kind, Stripe object id), so a webhook delivered twice or
out of order writes nothing twice, and never changed. Amounts are signed integers in minor
units of the entry's currency, from the specialist's side: a charge adds, a platform fee,
a refund and a dispute take away (a fee refunded and a dispute won add back), a payout
moves money to the bank and is kept apart from earnings. A summary is always the sum of
its entries (``summarize``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from specialistly.core.clock import utcnow


class EntryKind(StrEnum):
    CHARGE = "charge"  # + what the customer paid
    FEE = "fee"  # - the platform's application fee (+ when Stripe refunds it)
    REFUND = "refund"  # - what went back to the customer
    DISPUTE = "dispute"  # - taken back by a dispute
    DISPUTE_WON = "dispute_won"  # + given back when the dispute is won
    PAYOUT = "payout"  # - sent to the specialist's bank (not earnings)


class LedgerEntry(Document):
    specialist_id: str
    booking_id: str | None = None
    kind: EntryKind
    amount: int  # signed minor units of currency
    currency: str
    stripe_id: str  # the Stripe object that moved the money (ch_, fr_, re_, dp_, po_)
    occurred_at: datetime
    recorded_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "stripe_ledger"
        indexes = [
            IndexModel([("stripe_id", ASCENDING), ("kind", ASCENDING)], unique=True),
            IndexModel([("specialist_id", ASCENDING), ("occurred_at", DESCENDING)]),
            IndexModel([("occurred_at", ASCENDING)]),
        ]


async def record(entry: LedgerEntry) -> bool:
    """Write the entry unless one of its kind for its Stripe object exists; whether it did."""
    try:
        await entry.insert()
    except DuplicateKeyError:
        return False
    return True


@dataclass(frozen=True)
class Summary:
    """One currency's totals; every figure but net is a magnitude, and net is
    gross - platform_fees - refunds - disputes, the sum of the entries other than payouts."""

    currency: str
    gross: int
    platform_fees: int
    refunds: int
    disputes: int
    net: int
    payouts: int
    entries: int


def summarize(entries: Iterable[LedgerEntry]) -> list[Summary]:
    """Totals per currency (sorted by currency)."""
    totals: dict[str, dict[EntryKind, int]] = {}
    counts: dict[str, int] = {}
    for entry in entries:
        by_kind = totals.setdefault(entry.currency, dict.fromkeys(EntryKind, 0))
        by_kind[entry.kind] += entry.amount
        counts[entry.currency] = counts.get(entry.currency, 0) + 1
    summaries = []
    for currency, by_kind in sorted(totals.items()):
        earned = [k for k in EntryKind if k != EntryKind.PAYOUT]
        summaries.append(
            Summary(
                currency=currency,
                gross=by_kind[EntryKind.CHARGE],
                platform_fees=-by_kind[EntryKind.FEE],
                refunds=-by_kind[EntryKind.REFUND],
                disputes=-by_kind[EntryKind.DISPUTE] - by_kind[EntryKind.DISPUTE_WON],
                net=sum(by_kind[k] for k in earned),
                payouts=-by_kind[EntryKind.PAYOUT],
                entries=counts[currency],
            )
        )
    return summaries


def period_query(
    specialist_id: str | None, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    """Entries of the specialist (everyone's for None) that occurred in [start, end)."""
    query: dict[str, Any] = {}
    if specialist_id is not None:
        query["specialist_id"] = specialist_id
    when: dict[str, datetime] = {}
    if start is not None:
        when["$gte"] = start
    if end is not None:
        when["$lt"] = end
    if when:
        query["occurred_at"] = when
    return query


async def summary(
    specialist_id: str | None, start: datetime | None, end: datetime | None
) -> list[Summary]:
    found = LedgerEntry.find(period_query(specialist_id, start, end))
    return summarize([entry async for entry in found])
