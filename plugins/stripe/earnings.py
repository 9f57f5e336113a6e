"""Earnings in GraphQL: a specialist's totals per currency and ledger entries, and the
platform's totals for admins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.api.pagination import Connection, paginate
from specialistly.core import validation
from specialistly.core.errors import Check, DomainError, ErrorCode
from specialistly.core.users import Role
from specialistly_stripe import ledger
from specialistly_stripe.ledger import EntryKind, LedgerEntry, Summary
from specialistly_stripe.onboarding import PayoutAccountType, payout_account

strawberry.enum(EntryKind, name="LedgerEntryKind")

_From = Annotated[
    datetime | None, strawberry.argument(name="from", description="Occurred at or after this.")
]
_To = Annotated[datetime | None, strawberry.argument(name="to", description="Occurred before.")]


@strawberry.type(name="EarningsSummary")
class SummaryType:
    """One currency's totals in minor units; net = gross - platformFees - refunds -
    disputes, the sum of the entries other than payouts."""

    currency: str
    gross: int
    platform_fees: int
    refunds: int
    disputes: int
    net: int
    payouts: int = strawberry.field(description="Sent to the specialist's bank.")
    entries: int = strawberry.field(description="How many ledger entries make these totals.")

    @classmethod
    def of(cls, s: Summary) -> SummaryType:
        return cls(
            currency=s.currency,
            gross=s.gross,
            platform_fees=s.platform_fees,
            refunds=s.refunds,
            disputes=s.disputes,
            net=s.net,
            payouts=s.payouts,
            entries=s.entries,
        )


@strawberry.type(name="LedgerEntry")
class EntryType:
    kind: EntryKind
    amount: int = strawberry.field(description="Signed minor units: + to the specialist.")
    currency: str
    stripe_id: str = strawberry.field(description="The Stripe object that moved the money.")
    occurred_at: datetime
    booking_id: relay.GlobalID | None

    @classmethod
    def of(cls, e: LedgerEntry) -> EntryType:
        booking = relay.GlobalID("Booking", e.booking_id) if e.booking_id else None
        return cls(
            kind=e.kind,
            amount=e.amount,
            currency=e.currency,
            stripe_id=e.stripe_id,
            occurred_at=e.occurred_at,
            booking_id=booking,
        )


Period = tuple[datetime | None, datetime | None]


def _period(start: datetime | None, end: datetime | None) -> Period:
    check = Check()
    found = []
    for name, value in (("from", start), ("to", end)):
        aware = value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
        found.append(validation.instant(check, name, aware) if aware else None)
    check.raise_if_any()
    if found[0] and found[1] and found[0] >= found[1]:
        raise DomainError.of(ErrorCode.INVALID, "`from` must be before `to`.", "to")
    return found[0], found[1]


@strawberry.type
class Query:
    payout_account: PayoutAccountType | None = strawberry.field(
        resolver=payout_account,
        description="The viewer's Stripe payout account, if they started setting it up.",
    )

    @strawberry.field(description="The viewer's earnings per currency (specialists).")
    async def my_earnings(
        self, info: Info[Context, None], start: _From = None, end: _To = None
    ) -> list[SummaryType]:
        viewer = await info.context.require_user(Role.SPECIALIST)
        start, end = _period(start, end)
        return [SummaryType.of(s) for s in await ledger.summary(str(viewer.id), start, end)]

    @strawberry.field(description="The viewer's ledger entries, newest first (specialists).")
    async def my_ledger(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        start: _From = None,
        end: _To = None,
    ) -> Connection[EntryType]:
        viewer = await info.context.require_user(Role.SPECIALIST)
        start, end = _period(start, end)
        page = await paginate(
            LedgerEntry,
            ledger.period_query(str(viewer.id), start, end),
            sort=[("occurred_at", -1)],
            first=first,
            after=after,
            max_page=info.context.runtime.settings.page_size_max,
        )
        return page.connection(EntryType.of)

    @strawberry.field(description="Every specialist's earnings per currency (admins only).")
    async def platform_earnings(
        self, info: Info[Context, None], start: _From = None, end: _To = None
    ) -> list[SummaryType]:
        viewer = await info.context.require_user()
        if not viewer.has(Role.ADMIN):
            raise DomainError.of(ErrorCode.FORBIDDEN, "Only an admin may see platform totals.")
        start, end = _period(start, end)
        return [SummaryType.of(s) for s in await ledger.summary(None, start, end)]
