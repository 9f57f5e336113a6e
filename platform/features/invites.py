"""Calendar invitations (`.ics`, RFC 5545) for bookings, made with `icalendar`.

The UID is the booking's, so every invitation of one booking (confirmed, moved, cancelled)
replaces the one before in the recipient's calendar; SEQUENCE grows with each change (the
confirmation is 0, each move adds one, and the cancellation comes after them all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import icalendar

from specialistly.core.clock import as_utc
from specialistly.providers import Attachment


@dataclass(frozen=True, slots=True)
class Invitation:
    booking_id: str
    summary: str
    start: datetime
    end: datetime
    organizer: str  # an email address
    attendee: str
    location: str | None
    description: str
    changed_at: datetime
    sequence: int
    cancelled: bool = False


def uid(booking_id: str, public_url: str) -> str:
    host = urlsplit(public_url).hostname or "specialistly"
    return f"booking-{booking_id}@{host}"


def ics(invitation: Invitation, public_url: str) -> bytes:
    method = "CANCEL" if invitation.cancelled else "REQUEST"
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Specialistly//Bookings//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = icalendar.Event()
    event.add("uid", uid(invitation.booking_id, public_url))
    event.add("sequence", invitation.sequence)
    event.add("dtstamp", as_utc(invitation.changed_at))
    event.add("dtstart", as_utc(invitation.start))
    event.add("dtend", as_utc(invitation.end))
    event.add("summary", invitation.summary)
    event.add("description", invitation.description)
    event.add("status", "CANCELLED" if invitation.cancelled else "CONFIRMED")
    event.add("organizer", f"mailto:{invitation.organizer}")
    event.add("attendee", f"mailto:{invitation.attendee}")
    if invitation.location:
        event.add("location", invitation.location)
        event.add("url", invitation.location)
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def attachment(invitation: Invitation, public_url: str) -> Attachment:
    method = "CANCEL" if invitation.cancelled else "REQUEST"
    return Attachment(
        filename="invite.ics",
        content_type=f"text/calendar; method={method}; charset=utf-8",
        content=ics(invitation, public_url),
    )
