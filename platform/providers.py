"""The contracts of the providers that plugins contribute: video, payment and email.

A provider is any object with these attributes and methods; the platform finds providers
through the ``video_providers``, ``payment_providers`` and ``email_providers`` hooks and
looks them up by ``name`` (a service names the video provider it uses). A provider that
keeps connections open between calls may also have ``async def aclose(self) -> None``,
which the platform awaits, on the event loop that made the calls, when its process stops.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar, runtime_checkable

# --------------------------------------------------------------------------- video


@dataclass(frozen=True, slots=True)
class MeetingRequest:
    """What a video provider needs to create the meeting of one booking."""

    booking_id: str
    specialist_id: str
    topic: str
    start: datetime
    duration_minutes: int
    timezone: str = "UTC"  # the specialist's (IANA)
    auto_recording: str = "none"  # "none", "local" or "cloud", where the provider records


@dataclass(frozen=True, slots=True)
class MeetingDetails:
    """A meeting as the provider created it. ``host_url`` is stored with the booking: a
    provider whose host link is secret leaves it None (see :class:`FreshHostLinks`)."""

    provider: str
    external_id: str
    join_url: str
    host_url: str | None = None


@runtime_checkable
class VideoProvider(Protocol):
    name: str
    display_name: str

    async def create_meeting(self, request: MeetingRequest) -> MeetingDetails:
        """Create the meeting. Called again for the same booking only if no meeting was stored,
        so a provider that can should use ``request.booking_id`` as its idempotency key."""
        ...

    async def reschedule_meeting(
        self, meeting: MeetingDetails, request: MeetingRequest
    ) -> MeetingDetails:
        """Move the meeting to the request's new time; returns it as it now is (a provider
        whose meeting was deleted meanwhile creates a new one)."""
        ...

    async def cancel_meeting(self, meeting: MeetingDetails) -> None:
        """Delete or end the meeting; a meeting already gone is not an error."""
        ...


@runtime_checkable
class HostReadiness(Protocol):
    """Optional for a video provider: whether it can make meetings for a specialist now."""

    async def ready_to_host(self, specialist_id: str) -> bool:
        """False while the provider cannot make this specialist's meetings (their account is
        not connected, its grant was revoked or lacks a permission): their services then
        offer no slots and ``createBooking`` refuses them (``HOST_NOT_READY``). Asked while
        slots are computed, so it reads what the plugin stored and never calls out."""
        ...


@runtime_checkable
class FreshHostLinks(Protocol):
    """Optional for a video provider whose host link is a secret that expires (Zoom's
    ``start_url`` carries the host's key and lasts two hours): its ``create_meeting`` and
    ``reschedule_meeting`` return no ``host_url``, so the platform stores none, and it is
    asked for the link each time the specialist wants it."""

    async def fresh_host_url(self, meeting: MeetingDetails, specialist_id: str) -> str | None:
        """The host's link to the meeting now, or None when it cannot be had (the provider
        is unreachable, the specialist's account disconnected). Calls the provider once,
        without retries: a person is waiting for the answer."""
        ...


async def host_url(
    provider: VideoProvider, meeting: MeetingDetails, specialist_id: str
) -> str | None:
    """The meeting's host link: fresh from the provider if it gives them (see
    :class:`FreshHostLinks`), else the one it returned when it made the meeting."""
    if isinstance(provider, FreshHostLinks):
        return await provider.fresh_host_url(meeting, specialist_id)
    return meeting.host_url


async def ready_to_host(provider: VideoProvider, specialist_id: str) -> bool:
    """The provider's answer if it gives one (see :class:`HostReadiness`), else True."""
    if isinstance(provider, HostReadiness):
        return await provider.ready_to_host(specialist_id)
    return True


# --------------------------------------------------------------------------- payment


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What a payment provider needs to collect the price of one booking."""

    booking_id: str
    specialist_id: str
    amount: int  # minor units of currency, never a float
    currency: str  # ISO 4217, lower case
    customer_email: str
    description: str
    # Derived from the booking: the provider must never charge twice for one key.
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class PaymentSession:
    """A payment as the provider started it: what a client needs to pay, and no secret."""

    provider: str
    external_id: str
    client_secret: str | None  # the customer's client pays with it; shown to the customer only
    status: str
    publishable_key: str | None = None  # the key the client's payment form is set up with


@dataclass(frozen=True, slots=True)
class RefundRequest:
    external_id: str  # the payment's
    amount: int  # minor units
    reason: str
    # One per booking and reason: asking again refunds nothing more.
    idempotency_key: str


@runtime_checkable
class PaymentProvider(Protocol):
    name: str
    display_name: str

    async def create_payment(self, request: PaymentRequest) -> PaymentSession:
        """Start collecting a payment; the same ``request.idempotency_key`` again returns
        the same payment. The provider reports its outcome later (webhooks) through
        :mod:`specialistly.core.payments`."""
        ...

    async def cancel_payment(self, external_id: str) -> None:
        """Stop waiting for a payment; one already settled (paid or cancelled) is left as
        it is, and a payment that arrives anyway is refunded when it is reported."""
        ...

    async def refund(self, request: RefundRequest) -> str:
        """Refund ``request.amount`` of the payment; returns the provider's refund id."""
        ...

    async def payout_problem(self, specialist_id: str) -> str | None:
        """Why the specialist cannot be paid through this provider yet (None if they can):
        a paid service stays off sale until then."""
        ...


# --------------------------------------------------------------------------- email


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=REQUEST"
    content: bytes


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """One email. ``message_id`` is the platform's own id of it, the same on every attempt
    (a provider that can should use it as its idempotency key or Message-ID)."""

    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    sender: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    message_id: str | None = None


@runtime_checkable
class EmailProvider(Protocol):
    name: str
    display_name: str

    async def send(self, message: EmailMessage) -> str:
        """Send the message; returns the provider's message id. Raises
        :class:`ProviderError` (``transient`` when trying again later may succeed)."""
        ...


# --------------------------------------------------------------------------- registry

P = TypeVar("P", VideoProvider, PaymentProvider, EmailProvider)


class ProviderError(Exception):
    """A provider failed. ``transient`` says whether trying again later may succeed."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None):
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class UnknownProviderError(LookupError):
    pass


class Providers(Generic[P]):
    """The providers of one kind, by name."""

    def __init__(self, kind: str, protocol: type, providers: Iterable[P]) -> None:
        self.kind = kind
        self._by_name: dict[str, P] = {}
        for provider in providers:
            if not isinstance(provider, protocol):
                raise TypeError(f"{provider!r} is not a {kind} provider ({protocol.__name__})")
            if provider.name in self._by_name:
                raise ValueError(f"two {kind} providers are named {provider.name!r}")
            self._by_name[provider.name] = provider

    def __getitem__(self, name: str) -> P:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownProviderError(f"no {self.kind} provider named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def all(self) -> list[P]:
        return [self._by_name[name] for name in self.names()]
