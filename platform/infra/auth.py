"""Access and refresh tokens.

An access token is a short-lived JWT (HS256) naming the user and the session it belongs to.
A session's id is 128 random bits, so a token for a live session cannot be made up even by
someone who guessed the user's id. A refresh token is the session id and a random secret,
stored only as its SHA-256 in the session, and rotated on each use. A refresh token used a
second time means two parties hold it (the rightful client and a thief): the whole session
is revoked, so the tokens already rotated from it stop too. Logging out revokes the session,
which stops its access tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from beanie import Document, PydanticObjectId
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from pydantic import Field
from pymongo import ASCENDING, IndexModel
from starlette.requests import HTTPConnection

from specialistly.core.accounts import get_user, session_outlived
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


_SESSION_ID = re.compile(r"[0-9a-f]{32}")

log = logging.getLogger("specialistly.auth")


def new_session_id() -> str:
    return secrets.token_hex(16)


class AuthSession(Document):
    id: str = Field(default_factory=new_session_id)  # type: ignore[assignment]
    user_id: PydanticObjectId
    refresh_hash: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    class Settings:
        name = "auth_sessions"
        indexes = [IndexModel([("user_id", ASCENDING)])]


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


@dataclass(frozen=True, slots=True)
class Identity:
    user: User
    session_id: str


def _digest(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


def _refresh_token(session_id: str) -> str:
    """The session's id (to find it by) and a fresh random secret."""
    return f"{session_id}.{secrets.token_urlsafe(32)}"


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self._key = OctKey.import_key(settings.signing_secret())
        self._access_ttl = settings.access_token_ttl
        self._refresh_ttl = settings.refresh_token_ttl

    async def start_session(self, user: User) -> Tokens:
        assert user.id is not None
        now = utcnow()
        session = AuthSession(
            user_id=user.id,
            refresh_hash="",
            created_at=now,
            expires_at=now + self._refresh_ttl,
        )
        refresh_token = _refresh_token(session.id)
        session.refresh_hash = _digest(refresh_token)
        await session.insert()
        return self._tokens(user.id, session, refresh_token)

    async def refresh(self, refresh_token: str) -> tuple[User, Tokens]:
        """Rotate the refresh token: the old one works exactly once.

        A token of the session that is no longer its current one revokes the session.
        """
        session_id, _, secret = (refresh_token or "").partition(".")
        if not (_SESSION_ID.fullmatch(session_id) and secret):
            raise refresh_invalid()
        new_token = _refresh_token(session_id)
        now = utcnow()
        try:
            # Two refreshes with one token race to rotate it; FerretDB needs the lock for
            # only one of them to win (see core/locks.py).
            async with document_lock(AuthSession, session_id, wait=timedelta(seconds=2)):
                session = await AuthSession.get(session_id)
                if session is None or session.revoked_at is not None:
                    raise refresh_invalid()
                if not hmac.compare_digest(session.refresh_hash, _digest(refresh_token)):
                    await self._revoke(session_id, now)
                    log.warning(
                        "refresh token used again: session revoked",
                        extra={"session_id": session_id, "user_id": str(session.user_id)},
                    )
                    raise refresh_invalid()
                if as_utc(session.expires_at) <= now:
                    raise refresh_invalid()
                await AuthSession.get_pymongo_collection().update_one(
                    {"_id": session_id}, {"$set": {"refresh_hash": _digest(new_token)}}
                )
        except LockTimeoutError:
            raise refresh_invalid() from None
        user = await get_user(session.user_id)
        if session_outlived(user, session.created_at):
            raise refresh_invalid()
        return user, self._tokens(session.user_id, session, new_token)

    async def end_session(self, session_id: str) -> None:
        async with document_lock(AuthSession, session_id):
            await self._revoke(session_id, utcnow())

    async def end_all_sessions(self, user_id: PydanticObjectId) -> None:
        """Revoke every live session of the user (after a password reset)."""
        live = AuthSession.get_pymongo_collection().find(
            {"user_id": user_id, "revoked_at": None, "expires_at": {"$gt": utcnow()}}, {"_id": 1}
        )
        for session_id in [doc["_id"] async for doc in live]:
            await self.end_session(session_id)

    async def _revoke(self, session_id: str, now: datetime) -> None:
        await AuthSession.get_pymongo_collection().update_one(
            {"_id": session_id, "revoked_at": None}, {"$set": {"revoked_at": now}}
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
        if not (_SESSION_ID.fullmatch(sid) and PydanticObjectId.is_valid(sub)):
            raise token_invalid()
        return sub, sid

    async def identify(self, access_token: str) -> Identity:
        """The user behind a bearer token of a live session, or TOKEN_EXPIRED/TOKEN_INVALID."""
        sub, sid = self.verified_claims(access_token)
        # Both by the token's signed claims: read side by side, then checked together.
        session, user = await asyncio.gather(AuthSession.get(sid), User.get(sub))
        if session is None or session.revoked_at is not None or str(session.user_id) != sub:
            raise token_invalid()
        if user is None or session_outlived(user, session.created_at):
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
