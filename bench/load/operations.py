"""The GraphQL documents a load-run customer sends, one per measured operation."""

from __future__ import annotations

SEARCH = """
query Search($expertise: String) {
  specialists(first: 20, expertise: $expertise) {
    totalCount
    nodes { slug displayName headline priceMin priceMax currency }
  }
}
"""

SPECIALIST_PAGE = """
query Page($slug: String!) {
  specialist(slug: $slug, timezone: "Europe/Berlin") {
    specialist { displayName headline bio expertise timezone }
    offers {
      service { id title durationMinutesOptions price currency }
      nextSlots { start startLocal { date time } }
    }
  }
}
"""

# A two-week calendar, as a booking page shows one: the free starts grouped by local day.
CALENDAR = """
query Calendar($id: ID!, $from: DateTime!, $to: DateTime!) {
  slotsByDay(serviceId: $id, from: $from, to: $to, timezone: "Europe/Berlin") {
    date starts times
  }
}
"""

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    tokens { accessToken }
    errors { field code message }
  }
}
"""

CREATE_BOOKING = """
mutation Book($input: CreateBookingInput!) {
  createBooking(input: $input) {
    booking { id status start }
    errors { field code message }
  }
}
"""

MY_BOOKINGS = """
query Mine($from: DateTime!) {
  myBookings(first: 20, from: $from, status: [CONFIRMED, PENDING_PAYMENT]) {
    totalCount
    nodes { id status start end price currency }
  }
}
"""

CANCEL_BOOKING = """
mutation Cancel($id: ID!) {
  cancelBooking(id: $id, reason: "Plans changed") {
    booking { id status }
    errors { field code message }
  }
}
"""
