"""Account emails (a built-in plugin): welcome, email verification and password reset.

They go the way of every email (``mail.deliver``: recorded under a key, then sent once),
and all are essential (no unsubscribe). ``user.registered`` sends the welcome (once per
user) and the verification link issued with it; the other link emails are sent for the
events issued with their tokens (``core/account_tokens.py``). A link's email is rendered
and recorded with a placeholder where the token goes, and the token, unsealed from its
document, fills it in only in the message handed to the provider. Once the email is sent
(or refused for good) the sealed token is erased, so from then on the database holds
nothing that opens the link; a failed send keeps it, and the event's next delivery sends
the same record again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from beanie import Document, PydanticObjectId

from specialistly.core import account_tokens, events
from specialistly.core.account_tokens import AccountToken, Purpose, TokenSeal
from specialistly.core.clock import as_utc, utcnow
from specialistly.core.events import Event
from specialistly.core.users import Role, User
from specialistly.features import outgoing
from specialistly.features.mail import deliver, templates
from specialistly.hookspecs import Sweep, hookimpl
from specialistly.runtime import Runtime
from specialistly.settings import Settings

log = logging.getLogger("specialistly.features.account_mail")

# Stands for the token in the recorded email; only characters that HTML escaping and URL
# quoting leave as they are, so an overriding template may use either on the link.
PLACEHOLDER = "SPECIALISTLY-ACCOUNT-TOKEN"
# Expired tokens are kept this long (a late click then still reads "expired"), then deleted.
KEEP_EXPIRED = timedelta(days=7)

# The events issued with a token, and the purpose of their token.
LINK_EVENTS = {
    events.USER_REGISTERED: Purpose.VERIFY_EMAIL,
    events.EMAIL_VERIFICATION_REQUESTED: Purpose.VERIFY_EMAIL,
    events.PASSWORD_RESET_REQUESTED: Purpose.RESET_PASSWORD,
}
# Per purpose: the template of its email and the frontend page its link opens.
LINKS = {
    Purpose.VERIFY_EMAIL: ("verify_email", "/verify-email"),
    Purpose.RESET_PASSWORD: ("reset_password", "/reset-password"),
}

_seals: dict[int, TokenSeal] = {}


def seal(settings: Settings) -> TokenSeal:
    """The seal of these settings' token secret, made once per process."""
    if id(settings) not in _seals:
        _seals[id(settings)] = TokenSeal(settings.signing_secret())
    return _seals[id(settings)]


def human(duration: timedelta) -> str:
    """`30 minutes`, `2 days`: how long a link works, as its email says it."""
    minutes = int(duration.total_seconds() // 60)
    for unit, size in (("day", 1440), ("hour", 60)):
        if minutes >= size and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@hookimpl
def document_models() -> Sequence[type[Document]]:
    return [AccountToken]


@hookimpl
def sweeps() -> Sequence[Sweep]:
    return [_delete_expired]


async def _delete_expired(now: datetime) -> None:
    await account_tokens.delete_expired(now, KEEP_EXPIRED)


@hookimpl
async def on_event(event: Event, runtime: Runtime) -> None:
    if event.name == events.USER_REGISTERED:
        await _welcome(event, runtime)
    if event.name in LINK_EVENTS:
        await _send_link(event, runtime)


async def _welcome(event: Event, runtime: Runtime) -> None:
    user = await _user(event.data.get("user_id"))
    if user is None:
        return
    values = {
        "recipient_name": user.display_name,
        "is_specialist": user.has(Role.SPECIALIST),
        "start_url": runtime.settings.frontend_url.rstrip("/"),
    }
    draft = outgoing.Draft(
        key=f"user:{user.id}:welcome",
        template="welcome",
        to=user.email,
        rendered=templates(runtime.settings).render("welcome", values),
        user_id=user.id,
    )
    await deliver(draft, runtime)


async def _send_link(event: Event, runtime: Runtime) -> None:
    purpose = LINK_EVENTS[event.name]
    template, page = LINKS[purpose]
    token_id = event.data.get("token_id")
    if not PydanticObjectId.is_valid(token_id):
        return
    token = await AccountToken.get(PydanticObjectId(token_id))
    if token is None or token.purpose != purpose:
        return
    assert token.id is not None
    user = await _user(token.user_id)
    unused = token.used_at is None and as_utc(token.expires_at) > utcnow()
    if user is None or not unused or token.sealed is None:
        # Nobody to mail (a reset asked for an unknown address), or nothing left to send.
        await account_tokens.redact(token.id)
        return
    settings = runtime.settings
    values: dict[str, Any] = {
        "recipient_name": user.display_name,
        "link_url": f"{settings.frontend_url.rstrip('/')}{page}?token={PLACEHOLDER}",
        "expires_in": human(as_utc(token.expires_at) - as_utc(token.created_at)),
    }
    draft = outgoing.Draft(
        key=f"token:{token.id}:{template}",
        template=template,
        to=user.email,
        rendered=templates(settings).render(template, values),
        user_id=user.id,
    )
    secret = seal(settings).unseal(token.sealed)
    if secret is None:
        log.warning("account token %s sealed under another secret: not sent", token.id)
        await account_tokens.redact(token.id)
        return
    # A transient failure raises here, keeping the sealed token for the next delivery.
    await deliver(draft, runtime, fill={PLACEHOLDER: secret})
    await account_tokens.redact(token.id)


async def _user(user_id: object) -> User | None:
    if not isinstance(user_id, str | PydanticObjectId) or not PydanticObjectId.is_valid(user_id):
        return None
    return await User.get(PydanticObjectId(user_id))
