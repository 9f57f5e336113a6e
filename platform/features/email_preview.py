"""Sample values for `specialistly preview-email`: every value any template may use."""

from __future__ import annotations

from typing import Any

_BOOKING = "https://app.example.com/bookings/6750a1b2c3d4e5f601234567"

SAMPLE: dict[str, Any] = {
    "party": "customer",
    "recipient_name": "Sam Customer",
    "other_party_name": "Ada Expert",
    "customer_name": "Sam Customer",
    "specialist_name": "Ada Expert",
    "service_title": "Career chat",
    "timezone": "Europe/Berlin",
    "start_local": "Monday 7 December 2026, 10:00 (Europe/Berlin)",
    "end_local": "11:00",
    "previous_start_local": "Friday 4 December 2026, 15:00 (Europe/Berlin)",
    "notes": "I would like to talk about moving into management.",
    "join_url": "https://meet.jit.si/specialistly-0123456789abcdef",
    "host_url": "https://meet.jit.si/specialistly-0123456789abcdef",
    "meeting_error": None,
    "failure_reason": "the video provider refused the meeting",
    "booking_url": _BOOKING,
    "review_url": f"{_BOOKING}/review",
    "recording_url": f"{_BOOKING}/recording",
    "cancelled_by": "specialist",
    "cancel_reason": "I am ill, sorry.",
    "refund": "50.00 EUR",
    "paid": "50.00 EUR",
    "price": "50.00 EUR",
    "reconnect_url": "https://app.example.com/settings/integrations",
    "reminder_before": "24 hours",
    "is_specialist": False,
    "start_url": "https://app.example.com",
    "link_url": "https://app.example.com/verify-email?token=sample-token",
    "expires_in": "2 days",
}
_UNSUBSCRIBE = "https://api.example.com/email/unsubscribe?token=sample"
_NON_ESSENTIAL = {"reminder_customer", "reminder_specialist", "review_request"}

# Messages to the specialist read better with the specialist as recipient.
_TO_SPECIALIST = {
    "booking_confirmed_specialist",
    "meeting_pending",
    "meeting_failed",
    "zoom_reconnect",
    "reminder_specialist",
}


def sample_values(name: str) -> dict[str, Any]:
    values = _values(name)
    if name in _NON_ESSENTIAL:
        values["unsubscribe_url"] = _UNSUBSCRIBE
    return values


def _values(name: str) -> dict[str, Any]:
    if name == "reset_password":
        link = "https://app.example.com/reset-password?token=sample-token"
        return {**SAMPLE, "link_url": link, "expires_in": "30 minutes"}
    if name in _TO_SPECIALIST:
        return {
            **SAMPLE,
            "party": "specialist",
            "recipient_name": "Ada Expert",
            "other_party_name": "Sam Customer",
            "timezone": "America/New_York",
            "start_local": "Monday 7 December 2026, 04:00 (America/New_York)",
            "end_local": "05:00",
        }
    return dict(SAMPLE)
