"""A booking's payment in GraphQL: what a client needs to pay, and the refunds made."""

from __future__ import annotations

from datetime import datetime

import strawberry
from beanie import PydanticObjectId
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.core.bookings import BookingPayment, PaymentStatus

strawberry.enum(PaymentStatus, name="PaymentStatus")


@strawberry.type(name="PaymentRefund")
class RefundType:
    reason: str = strawberry.field(
        description="cancellation, meeting_failed, slot_released, or the provider's own"
    )
    amount: int = strawberry.field(description="In minor units of the payment's currency.")
    created_at: datetime


@strawberry.type(name="BookingPaymentDetails")
class PaymentType:
    provider: str
    status: PaymentStatus
    amount: int = strawberry.field(description="In minor units of `currency`.")
    currency: str
    publishable_key: str | None = strawberry.field(
        description="The public key the client's payment form is set up with."
    )
    failure: str | None = strawberry.field(description="Why the last attempt to pay failed.")
    refunded_amount: int = strawberry.field(description="Refunded so far, in minor units.")
    refunds: list[RefundType]
    dispute: str | None = strawberry.field(
        description="The status of a dispute the customer opened with their bank, if any."
    )
    _client_secret: strawberry.Private[str | None]
    _customer_id: strawberry.Private[PydanticObjectId]

    @strawberry.field(
        description="What the customer's client confirms the payment with (Stripe.js, the"
        " mobile SDKs); only the customer sees it, and only while it is still to be paid."
    )
    async def client_secret(self, info: Info[Context, None]) -> str | None:
        viewer = await info.context.viewer()
        waiting = self.status in (PaymentStatus.PENDING, PaymentStatus.FAILED)
        if viewer is None or viewer.id != self._customer_id or not waiting:
            return None
        return self._client_secret

    @classmethod
    def of(cls, payment: BookingPayment, customer_id: PydanticObjectId) -> PaymentType:
        return cls(
            provider=payment.provider,
            status=payment.status,
            amount=payment.amount,
            currency=payment.currency,
            publishable_key=payment.publishable_key,
            failure=payment.failure,
            refunded_amount=payment.refunded,
            refunds=[
                RefundType(reason=reason, amount=r.amount, created_at=r.created_at)
                for reason, r in sorted(payment.refunds.items(), key=lambda i: i[1].created_at)
            ],
            dispute=payment.dispute,
            _client_secret=payment.client_secret,
            _customer_id=customer_id,
        )
