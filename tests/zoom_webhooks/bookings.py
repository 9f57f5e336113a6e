"""A confirmed booking whose meeting is a Zoom meeting, between two registered accounts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from specialistly.core.bookings import Booking, MeetingInfo, meeting_ref
from specialistly.core.clock import utcnow
from tests.client import Account, GraphQLClient, booking_gid, register, user_id
from tests.factories import confirmed_booking_document


@dataclass
class ZoomBooking:
    booking: Booking
    meeting_id: str
    host_id: str  # the specialist's Zoom user id
    specialist: Account
    customer: Account

    @property
    def gid(self) -> str:
        return booking_gid(self.booking.id)


async def zoom_booking(api_url: str) -> ZoomBooking:
    specialist = await register(GraphQLClient(api_url), "SPECIALIST", "Sam Specialist")
    customer = await register(GraphQLClient(api_url), "CUSTOMER", "Cleo Customer")
    meeting_id = str(10**10 + secrets.randbelow(9 * 10**10))
    booking = confirmed_booking_document(
        user_id(specialist),
        utcnow() + timedelta(days=1),
        60,
        customer_id=user_id(customer),
    )
    booking.video_provider = "zoom"
    booking.meeting = MeetingInfo(
        provider="zoom", external_id=meeting_id, join_url=f"https://zoom.example/j/{meeting_id}"
    )
    booking.meeting_ref = meeting_ref("zoom", meeting_id)
    await booking.insert()
    return ZoomBooking(booking, meeting_id, f"host-{secrets.token_hex(6)}", specialist, customer)
