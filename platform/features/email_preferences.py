"""Which non-essential emails each user gets, and the one-click unsubscribe link.

Reminders and review requests can be turned off, in GraphQL or by the link every such
email carries (and its ``List-Unsubscribe`` header, RFC 8058 one-click). The link holds a
signature of the user and the kind of email, made with a key derived from the token secret,
so it works without logging in and cannot be forged for someone else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from enum import StrEnum
from urllib.parse import quote

from beanie import Document, PydanticObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from specialistly.core.locks import document_lock
from specialistly.settings import Settings

UNSUBSCRIBE_PATH = "/email/unsubscribe"


class EmailKind(StrEnum):
    REMINDERS = "reminders"
    REVIEW_REQUESTS = "review_requests"


# The kind of each non-essential email; the others are always sent.
KIND_OF_TEMPLATE = {
    "reminder_customer": EmailKind.REMINDERS,
    "reminder_specialist": EmailKind.REMINDERS,
    "review_request": EmailKind.REVIEW_REQUESTS,
}


class EmailPreferences(Document):
    user_id: PydanticObjectId
    reminders: bool = True
    review_requests: bool = True

    class Settings:
        name = "email_preferences"
        indexes = [IndexModel([("user_id", ASCENDING)], unique=True)]

    def wants(self, kind: EmailKind) -> bool:
        return bool(getattr(self, kind.value))


async def preferences_of(user_id: PydanticObjectId) -> EmailPreferences:
    found = await EmailPreferences.find_one(EmailPreferences.user_id == user_id)
    return found or EmailPreferences(user_id=user_id)


async def set_preferences(
    user_id: PydanticObjectId, changes: dict[EmailKind, bool]
) -> EmailPreferences:
    if changes:
        stored = await _stored(user_id)
        # Two changes at once (two unsubscribe links followed together) each keep theirs.
        async with document_lock(EmailPreferences, stored.id):
            await EmailPreferences.get_pymongo_collection().update_one(
                {"_id": stored.id},
                {"$set": {kind.value: wanted for kind, wanted in changes.items()}},
            )
    return await preferences_of(user_id)


async def _stored(user_id: PydanticObjectId) -> EmailPreferences:
    """The user's stored preferences, stored now (the defaults) unless they are already."""
    found = await EmailPreferences.find_one(EmailPreferences.user_id == user_id)
    if found is not None:
        return found
    try:
        return await EmailPreferences(user_id=user_id).insert()
    except DuplicateKeyError:  # stored by a concurrent change
        found = await EmailPreferences.find_one(EmailPreferences.user_id == user_id)
        assert found is not None
        return found


async def wants(user_id: PydanticObjectId | None, template: str) -> bool:
    """Whether the user wants this email (always, for an essential one)."""
    kind = KIND_OF_TEMPLATE.get(template)
    if kind is None or user_id is None:
        return True
    return (await preferences_of(user_id)).wants(kind)


def _signature(settings: Settings, user_id: str, kind: EmailKind) -> str:
    key = hashlib.sha256(b"specialistly-unsubscribe:" + settings.signing_secret().encode())
    mac = hmac.new(key.digest(), f"{user_id}:{kind.value}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def unsubscribe_token(settings: Settings, user_id: PydanticObjectId, kind: EmailKind) -> str:
    return f"{user_id}.{kind.value}.{_signature(settings, str(user_id), kind)}"


def read_unsubscribe_token(
    settings: Settings, token: str
) -> tuple[PydanticObjectId, EmailKind] | None:
    """The user and kind a token unsubscribes from, or None for a token we did not make."""
    user_id, _, rest = token.partition(".")
    kind_name, _, signature = rest.partition(".")
    if not PydanticObjectId.is_valid(user_id) or kind_name not in EmailKind._value2member_map_:
        return None
    kind = EmailKind(kind_name)
    if not hmac.compare_digest(signature, _signature(settings, user_id, kind)):
        return None
    return PydanticObjectId(user_id), kind


def unsubscribe_url(settings: Settings, user_id: PydanticObjectId, kind: EmailKind) -> str:
    token = quote(unsubscribe_token(settings, user_id, kind))
    return f"{settings.public_url.rstrip('/')}{UNSUBSCRIBE_PATH}?token={token}"


def unsubscribe_headers(url: str) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
