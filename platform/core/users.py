"""Accounts: one user document with roles, and the public profile of a specialist."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from specialistly.core.clock import utcnow


class Role(StrEnum):
    CUSTOMER = "customer"
    SPECIALIST = "specialist"
    ADMIN = "admin"


def random_object_id() -> PydanticObjectId:
    """An ObjectId of 96 random bits: unlike a generated one it is not the next after its
    neighbour's and tells nothing of when it was made, so ids cannot be enumerated."""
    return PydanticObjectId(secrets.token_bytes(12))


class User(Document):
    id: PydanticObjectId | None = Field(default_factory=random_object_id)
    email: str
    email_key: str  # the lower-cased email, unique
    password_hash: str
    display_name: str
    roles: list[Role]
    created_at: datetime = Field(default_factory=utcnow)
    # When the owner opened a verification link (or a password reset link) sent to `email`.
    email_verified_at: datetime | None = None
    # Sessions started before this instant are over (a password reset ends them all).
    password_changed_at: datetime | None = None

    class Settings:
        name = "users"
        indexes = [IndexModel([("email_key", ASCENDING)], unique=True)]

    def has(self, role: Role) -> bool:
        return role in self.roles


class SpecialistProfile(Document):
    """What customers see of a specialist. Kept apart from User so its slug can be unique."""

    user_id: PydanticObjectId
    slug: str
    display_name: str
    headline: str = ""
    bio: str = ""
    expertise: list[str] = []
    timezone: str = "UTC"
    currency: str = "usd"
    photo_url: str | None = None
    published: bool = False
    # Lowest and highest price of the published services, kept for marketplace filters.
    price_min: int | None = None
    price_max: int | None = None

    class Settings:
        name = "specialist_profiles"
        indexes = [
            IndexModel([("user_id", ASCENDING)], unique=True),
            IndexModel([("slug", ASCENDING)], unique=True),
            IndexModel([("published", ASCENDING), ("expertise", ASCENDING)]),
        ]
