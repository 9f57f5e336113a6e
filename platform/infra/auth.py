"""Access and refresh tokens.

An access token is a short-lived JWT (HS256) naming the user and the session it belongs to.
A refresh token is an opaque random string, stored only as its SHA-256 in the session, and
rotated on each use; logging out revokes the session, which stops its access tokens too.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from beanie import Document, PydanticObjectId
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from pymongo import ASCENDING, IndexModel, ReturnDocument
from starlette.requests import HTTPConnection

from specialistly.core.accounts import get_user
from specialistly.core.clock import as_utc, utcnow
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.locks import LockTimeoutError, document_lock
from specialistly.core.users import User
from specialistly.settings import Settings

ISSUER = "specialistly"


def token_expired() -> DomainError:
    return DomainError.of(ErrorCode.TOKEN_EXPIRED, "The access token has expired; refresh it.")


def token_invalid() -> DomainError:
    return DomainError.of(ErrorCode.TOKEN_INVALID, "The access token is not valid.")


def refresh_invalid() -> DomainError:
    return DomainError.of(
        ErrorCode.REFRESH_TOKEN_INVALID,
        "The refresh token is not valid; log in again.",
        "refresh_token",
    )


class AuthSession(Document):
    user_id: PydanticObjectId
    refresh_hash: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    class Settings:
        name = "auth_sessions"
        indexes = [
            IndexModel([("refresh_hash", ASCENDING)], unique=True),
            IndexModel([("user_id", ASCENDING)]),
        ]


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


@dataclass(frozen=True, slots=True)
class Identity:
    user: User
    session_id: PydanticObjectId


def _digest(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self._key = OctKey.import_key(settings.jwt_secret.get_secret_value())
        self._access_ttl = settings.access_token_ttl
        self._refresh_ttl = settings.refresh_token_ttl

    async def start_session(self, user: User) -> Tokens:
        assert user.id is not None
        refresh_token = secrets.token_urlsafe(32)
        now = utcnow()
        session = AuthSession(
            user_id=user.id,
            refresh_hash=_digest(refresh_token),
            created_at=now,
            expires_at=now + self._refresh_ttl,
        )
        await session.insert()
        return self._tokens(user.id, session, refresh_token)

    async def refresh(self, refresh_token: str) -> tuple[User, Tokens]:
        """Rotate the refresh token: the old one works exactly once."""
        new_token = secrets.token_urlsafe(32)
        now = utcnow()
        old = _digest(refresh_token or "")
        try:
            # Two refreshes with one token race to rotate it; FerretDB needs the lock for
            # only one of them to win (see core/locks.py).
            async with document_lock(AuthSession, old, wait=timedelta(seconds=2)):
                found = await AuthSession.get_pymongo_collection().find_one_and_update(
                    {"refresh_hash": old, "revoked_at": None},
                    {"$set": {"refresh_hash": _digest(new_token)}},
                    return_document=ReturnDocument.AFTER,
                )
        except LockTimeoutError:
            raise refresh_invalid() from None
        if found is None:
            raise refresh_invalid()
        session = AuthSession.model_validate(found)
        if as_utc(session.expires_at) <= now:
            raise refresh_invalid()
        user = await get_user(session.user_id)
        return user, self._tokens(session.user_id, session, new_token)

    async def end_session(self, session_id: PydanticObjectId) -> None:
        await AuthSession.find_one(AuthSession.id == session_id).update(
            {"$set": {"revoked_at": utcnow()}}
        )

    def verified_claims(self, access_token: str) -> tuple[str, str]:
        """(user id, session id) of a token whose signature and expiry are good; no I/O.

        Raises TOKEN_EXPIRED or TOKEN_INVALID.
        """
        try:
            claims = jwt.decode(access_token, self._key, algorithms=["HS256"]).claims
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": ISSUER},
                sub={"essential": True},
                sid={"essential": True},
                exp={"essential": True},
            ).validate(claims)
        except JoseError as exc:
            raise (token_expired() if exc.error == "expired_token" else token_invalid()) from None
        except ValueError:
            raise token_invalid() from None
        sub, sid = str(claims["sub"]), str(claims["sid"])
        if not (PydanticObjectId.is_valid(sid) and PydanticObjectId.is_valid(sub)):
            raise token_invalid()
        return sub, sid

    async def identify(self, access_token: str) -> Identity:
        """The user behind a bearer token of a live session, or TOKEN_EXPIRED/TOKEN_INVALID."""
        sub, sid = self.verified_claims(access_token)
        session = await AuthSession.get(sid)
        if session is None or session.revoked_at is not None or str(session.user_id) != sub:
            raise token_invalid()
        user = await User.get(sub)
        if user is None:
            raise token_invalid()
        assert session.id is not None
        return Identity(user, session.id)

    def _tokens(
        self, user_id: PydanticObjectId, session: AuthSession, refresh_token: str
    ) -> Tokens:
        now = utcnow()
        expires = now + self._access_ttl
        claims = {
            "iss": ISSUER,
            "sub": str(user_id),
            "sid": str(session.id),
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
        }
        access = jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, self._key)
        return Tokens(access, expires, refresh_token, as_utc(session.expires_at))


def bearer_token(connection: HTTPConnection, params: dict[str, Any] | None = None) -> str | None:
    """The token of an `Authorization: Bearer` header, or of the same key in a WebSocket's
    connection_init payload (`params`)."""
    value = (params or {}).get("authorization") or connection.headers.get("authorization")
    if isinstance(value, str) and value[:7].lower() == "bearer ":
        return value[7:].strip() or None
    return None
