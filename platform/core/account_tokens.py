"""Single-use tokens of the links that account emails carry (email verification, password
reset).

A token is 256 random bits. The database keeps its SHA-256 only (``token_hash``), so a
copy of the database opens no link. Its email is rendered with a placeholder where the
token goes and recorded that way (see ``features/account_mail.py``); the token itself
waits, encrypted under a key derived from the token secret, in ``sealed`` until that email
was sent, and is erased then. Issuing a token writes the event that sends its email in the
same insert (the document's outbox).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from beanie import Document, PydanticObjectId
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from specialistly.core.clock import as_utc, utcnow
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.events import OutboxEvent, insert_with_events, new_event
from specialistly.core.locks import document_lock
from specialistly.core.users import random_object_id

# Longer input cannot be a token we made; it is refused before any lookup.
MAX_TOKEN_LENGTH = 100


class Purpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 (a name, not a secret)


class AccountToken(Document):
    id: PydanticObjectId | None = Field(default_factory=random_object_id)
    purpose: Purpose
    token_hash: str  # SHA-256 of the token, hex; unique
    # None for a reset asked for an address of no account: it is issued all the same, so
    # that both answers do the same work, and no email is sent for it.
    user_id: PydanticObjectId | None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    sealed: str | None = None  # the token, encrypted, until its email is sent
    outbox: list[OutboxEvent] = []
    outbox_waiting: bool = False

    class Settings:
        name = "account_tokens"
        indexes = [
            IndexModel([("token_hash", ASCENDING)], unique=True),
            IndexModel([("user_id", ASCENDING), ("purpose", ASCENDING)]),
            IndexModel([("purpose", ASCENDING), ("expires_at", ASCENDING)]),
        ]


class TokenSeal:
    """Encrypts tokens for the short time between issuing one and sending its email."""

    def __init__(self, secret: str) -> None:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"account tokens")
        self._aead = AESGCM(hkdf.derive(secret.encode()))

    def seal(self, token: str) -> str:
        nonce = secrets.token_bytes(12)
        return base64.urlsafe_b64encode(
            nonce + self._aead.encrypt(nonce, token.encode(), None)
        ).decode()

    def unseal(self, sealed: str) -> str | None:
        """The token, or None if this key did not seal it (the secret changed since)."""
        raw = base64.urlsafe_b64decode(sealed)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], None).decode()
        except InvalidTag:
            return None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_invalid() -> DomainError:
    return DomainError.of(
        ErrorCode.LINK_INVALID, "This link is not valid or was used already.", "token"
    )


async def issue(
    purpose: Purpose,
    user_id: PydanticObjectId | None,
    *,
    ttl: timedelta,
    seal: TokenSeal,
    event: str,
) -> AccountToken:
    """Store a new token with `event` (data: token_id, user_id) in its outbox; the token
    itself is only in `sealed`."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    document = AccountToken(
        purpose=purpose,
        token_hash=digest(token),
        user_id=user_id,
        created_at=now,
        expires_at=now + ttl,
        sealed=seal.seal(token),
    )
    user = str(user_id) if user_id is not None else None
    document.outbox = [new_event(event, token_id=str(document.id), user_id=user)]
    return await insert_with_events(document)


async def usable(token: str, purpose: Purpose, now: datetime | None = None) -> AccountToken:
    """The unused, unexpired token of this purpose; LINK_INVALID or LINK_EXPIRED otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise link_invalid()
    found = await AccountToken.find_one(AccountToken.token_hash == digest(token))
    if found is None or found.purpose != purpose or found.used_at is not None:
        raise link_invalid()
    if found.user_id is None:
        raise link_invalid()
    if as_utc(found.expires_at) <= (now or utcnow()):
        raise DomainError.of(
            ErrorCode.LINK_EXPIRED, "This link has expired; ask for a new one.", "token"
        )
    return found


async def use(token_id: PydanticObjectId, now: datetime | None = None) -> None:
    """Mark the token used; LINK_INVALID if it was used meanwhile (it works once)."""
    async with document_lock(AccountToken, token_id):
        current = await AccountToken.get(token_id)
        if current is None or current.used_at is not None:
            raise link_invalid()
        await AccountToken.get_pymongo_collection().update_one(
            {"_id": token_id}, {"$set": {"used_at": now or utcnow()}}
        )


async def use_all(user_id: PydanticObjectId, purpose: Purpose) -> None:
    """Mark every unused token of the user for this purpose used (after a reset, for
    example, the other reset links stop)."""
    found = await AccountToken.find(
        {"user_id": user_id, "purpose": purpose.value, "used_at": None}
    ).to_list()
    for token in found:
        assert token.id is not None
        with contextlib.suppress(DomainError):  # used meanwhile
            await use(token.id)


async def redact(token_id: PydanticObjectId) -> None:
    """Erase the sealed token: its email was sent (or will never be)."""
    async with document_lock(AccountToken, token_id):
        await AccountToken.get_pymongo_collection().update_one(
            {"_id": token_id}, {"$set": {"sealed": None}}
        )


async def delete_expired(now: datetime, keep: timedelta) -> int:
    """Delete tokens that expired more than `keep` ago; returns how many."""
    deleted = 0
    for purpose in Purpose:
        result = await AccountToken.get_pymongo_collection().delete_many(
            {"purpose": purpose.value, "expires_at": {"$lt": now - keep}, "outbox": []}
        )
        deleted += result.deleted_count
    return deleted
