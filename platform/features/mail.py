"""The emails that lifecycle events send (a built-in plugin).

Each event names the messages it causes (`RULES`): which party of the booking gets which
template, with a calendar invitation or not. Each message is recorded under a key of the
event (or, for the confirmation, of the booking), the recipient and the template, then
sent (see `outgoing`): a redelivered event sends nothing twice, and a failed send makes the
dispatcher deliver the event again later.

A cancellation that refunds a payment waits for the refund, so that its emails tell the
amount actually refunded: `payment.refunded` (for the cancellation) sends them.

The confirmation waits for the meeting: `booking.confirmed` sends it when the booking has
its meeting already, otherwise `meeting.created` (with the link) or `meeting.failed`
(without it) does, whichever comes first. Events of plugins that do not exist yet
(``recording.ready``, ``meeting.pending``, ``zoom.disconnected``) are handled by name.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from beanie import Document, PydanticObjectId

from specialistly.core import events, payments
from specialistly.core.bookings import Booking, BookingStatus
from specialistly.core.events import Event
from specialistly.core.users import User
from specialistly.features import booking_reads, deliveries, outgoing
from specialistly.features.booking_mail import (
    BookingFacts,
    booking_facts,
    invitation,
    moves_until,
)
from specialistly.features.email_preferences import (
    KIND_OF_TEMPLATE,
    EmailPreferences,
    unsubscribe_headers,
    unsubscribe_url,
    wants,
)
from specialistly.features.email_templates import EmailTemplates
from specialistly.features.invites import attachment
from specialistly.hookspecs import hookimpl
from specialistly.providers import Attachment
from specialistly.runtime import Runtime
from specialistly.settings import Settings

log = logging.getLogger("specialistly.features.mail")

# Emails a recipient can do without: they carry an unsubscribe link and are not sent to a
# user who turned their kind off, nor to an address that bounced or reported spam.
NON_ESSENTIAL = frozenset(KIND_OF_TEMPLATE)

RECORDING_READY = "recording.ready"
MEETING_PENDING = "meeting.pending"
ZOOM_DISCONNECTED = "zoom.disconnected"


class To(StrEnum):
    CUSTOMER = "customer"
    SPECIALIST = "specialist"


@dataclass(frozen=True)
class Wanted:
    to: To
    template: str
    once_per_booking: bool = False  # keyed by the booking rather than by the event
    invite: bool = False


CONFIRMATION = (
    Wanted(To.CUSTOMER, "booking_confirmed_customer", once_per_booking=True, invite=True),
    Wanted(To.SPECIALIST, "booking_confirmed_specialist", once_per_booking=True, invite=True),
)

RULES: dict[str, tuple[Wanted, ...]] = {
    events.BOOKING_CONFIRMED: CONFIRMATION,
    events.MEETING_CREATED: CONFIRMATION,
    events.MEETING_FAILED: (*CONFIRMATION, Wanted(To.SPECIALIST, "meeting_failed")),
    MEETING_PENDING: (Wanted(To.SPECIALIST, "meeting_pending"),),
    events.BOOKING_RESCHEDULED: (
        Wanted(To.CUSTOMER, "booking_rescheduled", invite=True),
        Wanted(To.SPECIALIST, "booking_rescheduled", invite=True),
    ),
    events.BOOKING_CANCELLED: (
        Wanted(To.CUSTOMER, "booking_cancelled", invite=True),
        Wanted(To.SPECIALIST, "booking_cancelled", invite=True),
    ),
    events.BOOKING_EXPIRED: (Wanted(To.CUSTOMER, "payment_hold_expired"),),
    events.BOOKING_COMPLETED: (Wanted(To.CUSTOMER, "review_request"),),
    RECORDING_READY: (
        Wanted(To.CUSTOMER, "recording_ready"),
        Wanted(To.SPECIALIST, "recording_ready"),
    ),
}

_templates: dict[int, EmailTemplates] = {}


def templates(settings: Settings) -> EmailTemplates:
    """The templates of these settings, loaded once per process."""
    if id(settings) not in _templates:
        _templates[id(settings)] = EmailTemplates(settings)
    return _templates[id(settings)]


@hookimpl
def document_models() -> Sequence[type[Document]]:
    return [outgoing.OutgoingEmail, deliveries.EmailSuppression, EmailPreferences]


@hookimpl
async def on_event(event: Event, runtime: Runtime) -> None:
    if event.name == ZOOM_DISCONNECTED:
        await _zoom_disconnected(event, runtime)
        return
    if event.name == payments.PAYMENT_REFUNDED:
        found = await _refunded_cancellation(event)
        if found is None:
            return
        event = found
    wanted = RULES.get(event.name)
    booking_id = event.data.get("booking_id")
    if not wanted or not PydanticObjectId.is_valid(booking_id):
        return
    booking = await booking_reads.booking(PydanticObjectId(booking_id))
    if booking is None or not _due(event, booking):
        return
    facts = await booking_facts(booking, event, runtime.settings)
    moves = await moves_until(event, booking) if any(want.invite for want in wanted) else 0
    for want in wanted:
        await _send_one(want, facts, event, moves, runtime)


def _due(event: Event, booking: Booking) -> bool:
    """Whether the event's messages are still worth sending."""
    if event.name in (events.BOOKING_CONFIRMED, events.MEETING_CREATED, events.MEETING_FAILED):
        if booking.status != BookingStatus.CONFIRMED:
            return False  # cancelled meanwhile: the cancellation says all
        if event.name == events.BOOKING_CONFIRMED:
            return booking.meeting is not None or booking.meeting_error is not None
    if event.name == events.BOOKING_CANCELLED and booking.payment is not None:
        # A refund still to be made: the cancellation is told once it is (the refund's
        # `payment.refunded`), with the amount actually refunded.
        share = int(event.data.get("refund_percent") or 0)
        return payments.refund_owed(booking.payment, payments.REFUND_CANCELLATION, share) == 0
    return True


async def _refunded_cancellation(event: Event) -> Event | None:
    """The cancellation whose emails waited for this refund, if it was one."""
    if event.data.get("reason") != payments.REFUND_CANCELLATION:
        return None
    # One flat filter: FerretDB pushes down the equalities.
    return await Event.find_one({"subject": event.subject, "name": events.BOOKING_CANCELLED})


async def _send_one(
    want: Wanted, facts: BookingFacts, event: Event, moves: int, runtime: Runtime
) -> None:
    user = facts.customer if want.to == To.CUSTOMER else facts.specialist
    if user is None:
        return
    scope = f"booking:{facts.booking.id}" if want.once_per_booking else f"event:{event.id}"
    values = facts.values_for(want.to.value)
    headers = with_unsubscribe(values, user, want.template, runtime.settings)
    rendered = templates(runtime.settings).render(want.template, values)
    attachments: tuple[Attachment, ...] = ()
    if want.invite:
        organizer = email.utils.parseaddr(runtime.settings.email_sender)[1]
        invite = invitation(facts, user, organizer, event, moves)
        attachments = (attachment(invite, runtime.settings.public_url),)
    draft = outgoing.Draft(
        key=f"{scope}:{user.id}:{want.template}",
        template=want.template,
        to=user.email,
        rendered=rendered,
        user_id=user.id,
        booking_id=facts.booking.id,
        headers=headers,
        attachments=attachments,
    )
    await deliver(draft, runtime)


def with_unsubscribe(
    values: dict[str, Any], user: User, template: str, settings: Settings
) -> dict[str, str]:
    """For a non-essential email: its unsubscribe link among the values, and its headers."""
    kind = KIND_OF_TEMPLATE.get(template)
    if kind is None or user.id is None:
        return {}
    url = unsubscribe_url(settings, user.id, kind)
    values["unsubscribe_url"] = url
    return unsubscribe_headers(url)


async def deliver(
    draft: outgoing.Draft, runtime: Runtime, fill: Mapping[str, str] | None = None
) -> outgoing.OutgoingEmail:
    """Record the draft and send it through the deployment's email provider; a
    non-essential one to an address that bounced or reported spam is not sent. `fill`
    goes into the message sent only (see `outgoing.send`)."""
    if draft.template in NON_ESSENTIAL and (
        not await wants(draft.user_id, draft.template) or await deliveries.is_suppressed(draft.to)
    ):
        return await outgoing.suppress(await outgoing.record(draft))
    settings = runtime.settings
    recorded, leased = await outgoing.record_leased(draft, settings.email_send_lease)
    provider = runtime.providers.email[settings.email_provider]
    if leased:
        return await outgoing.send_leased(recorded, provider, settings.email_sender, fill=fill)
    return await outgoing.send(
        recorded, provider, settings.email_sender, lease=settings.email_send_lease, fill=fill
    )


async def _zoom_disconnected(event: Event, runtime: Runtime) -> None:
    user_id = event.data.get("specialist_id") or event.data.get("user_id")
    if not PydanticObjectId.is_valid(user_id):
        return
    user = await User.get(PydanticObjectId(user_id))
    if user is None:
        return
    values: dict[str, Any] = {
        "recipient_name": user.display_name,
        "reconnect_url": f"{runtime.settings.frontend_url.rstrip('/')}/settings/integrations",
    }
    rendered = templates(runtime.settings).render("zoom_reconnect", values)
    draft = outgoing.Draft(
        key=f"event:{event.id}:{user.id}:zoom_reconnect",
        template="zoom_reconnect",
        to=user.email,
        rendered=rendered,
        user_id=user.id,
    )
    await deliver(draft, runtime)
