"""Registering, authenticating and editing accounts; who may see whom; granting roles."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError, OperationFailure

from specialistly.core import account_tokens, read_cache, validation
from specialistly.core.account_tokens import Purpose
from specialistly.core.bookings import Booking
from specialistly.core.clock import as_utc, utcnow
from specialistly.core.errors import Check, DomainError, ErrorCode, is_duplicate_key
from specialistly.core.locks import document_lock, edit_lock
from specialistly.core.passwords import (
    MAX_LENGTH,
    check_strength,
    hash_password,
    needs_rehash,
    verify_password,
)
from specialistly.core.users import Role, SpecialistProfile, User


@dataclass(frozen=True, slots=True)
class Registration:
    email: str
    password: str
    display_name: str
    role: Role = Role.CUSTOMER


@dataclass(frozen=True, slots=True)
class ProfileChanges:
    """Fields left as None are not changed."""

    display_name: str | None = None
    headline: str | None = None
    bio: str | None = None
    expertise: list[str] | None = None
    timezone: str | None = None
    currency: str | None = None
    slug: str | None = None
    photo_url: str | None = None
    published: bool | None = None


async def register(data: Registration) -> User:
    check = Check()
    email = validation.email(check, "email", data.email)
    name = display_name(check, "display_name", data.display_name)
    if data.role == Role.ADMIN:
        check.add(ErrorCode.FORBIDDEN, "Admins cannot register themselves.", "role")
    check_strength(check, "password", data.password, email=email)
    check.raise_if_any()

    user = User(
        email=email,
        email_key=email.lower(),
        password_hash=await hash_password(data.password),
        display_name=name,
        roles=[data.role],
    )
    try:
        await user.insert()
    except DuplicateKeyError:
        raise DomainError.of(
            ErrorCode.EMAIL_TAKEN, "An account with this email exists already.", "email"
        ) from None
    if data.role == Role.SPECIALIST:
        try:
            await _create_profile(user)
        except BaseException:
            await user.delete()  # no half-registered specialist without a profile
            raise
    return user


def display_name(check: Check, field: str, value: str) -> str:
    return validation.text(check, field, value, max_length=80, multiline=False)


async def _create_profile(user: User) -> SpecialistProfile:
    base = validation.slugify(user.display_name)
    for attempt in range(5):
        slug = base if attempt == 0 else f"{base}-{secrets.token_hex(3)}"
        assert user.id is not None
        profile = SpecialistProfile(user_id=user.id, slug=slug, display_name=user.display_name)
        try:
            return await profile.insert()
        except DuplicateKeyError as exc:
            if "user_id" in str(exc):
                raise
    raise RuntimeError("could not find a free slug")


async def authenticate(email: str, password: str) -> User:
    if len(email or "") > 254 or len(password or "") > MAX_LENGTH:
        raise _invalid_credentials()  # no such account could exist: spend no hashing on it
    user = await User.find_one(User.email_key == (email or "").strip().lower())
    if not await verify_password(user.password_hash if user else None, password or ""):
        raise _invalid_credentials()
    assert user is not None
    await upgrade_hash(user, password)
    return user


async def upgrade_hash(user: User, password: str) -> None:
    """Hash the password again if its hash was made with older parameters (it is known
    once it verified), unless the password changed since the user was read."""
    old = user.password_hash
    if old is None or not needs_rehash(old):
        return
    new = await hash_password(password)
    await _set_user(user, {"password_hash": new}, where={"password_hash": old})


def _invalid_credentials() -> DomainError:
    return DomainError.of(ErrorCode.INVALID_CREDENTIALS, "The email or password is not correct.")


async def get_user(user_id: PydanticObjectId | str) -> User:
    user = await User.get(user_id) if PydanticObjectId.is_valid(user_id) else None
    if user is None:
        raise DomainError.of(ErrorCode.NOT_FOUND, "No such user.")
    return user


async def profile_of(user: User) -> SpecialistProfile | None:
    return await SpecialistProfile.find_one(SpecialistProfile.user_id == user.id)


def is_self_or_admin(viewer: User | None, user_id: PydanticObjectId | None) -> bool:
    return viewer is not None and (viewer.id == user_id or viewer.has(Role.ADMIN))


async def can_see(viewer: User | None, user: User) -> bool:
    """Whether the viewer may look a user up by id (name, roles, when they joined).

    Public are specialists with a published profile; anyone else only to themself, admins
    and the other party of a booking with them.
    """
    if is_self_or_admin(viewer, user.id):
        return True
    if user.has(Role.SPECIALIST):
        published = {"user_id": user.id, "published": True}
        if await SpecialistProfile.find_one(published) is not None:
            return True
    return viewer is not None and await _share_a_booking(viewer, user)


async def _share_a_booking(a: User, b: User) -> bool:
    for customer, specialist in ((a, b), (b, a)):
        if customer.id is None or specialist.id is None:
            continue
        found = await Booking.get_pymongo_collection().find_one(
            {"customer_id": customer.id, "specialist_id": specialist.id}, {"_id": 1}
        )
        if found is not None:
            return True
    return False


async def set_admin(email: str, *, admin: bool) -> User:
    """Grant (or revoke) the admin role of the account with this email; NOT_FOUND if none."""
    key = (email or "").strip().lower()
    user = await User.find_one(User.email_key == key) if len(key) <= 254 else None
    if user is None:
        raise DomainError.of(ErrorCode.NOT_FOUND, "No account has this email.", "email")
    assert user.id is not None
    change = {"$addToSet" if admin else "$pull": {"roles": Role.ADMIN.value}}
    async with edit_lock(User, user.id):
        await User.get_pymongo_collection().update_one({"_id": user.id}, change)
        await read_cache.user_changed(user.id)
    return await get_user(user.id)


async def set_profile(profile: SpecialistProfile, fields: dict[str, object]) -> None:
    """Write the fields of the profile, whose lock the caller holds, and drop it from the
    read cache under every address it had or has: the one it had as written, not as read
    before the lock."""
    before = await SpecialistProfile.get_pymongo_collection().find_one_and_update(
        {"_id": profile.id}, {"$set": fields}
    )
    addresses = {before["slug"]} if before else set()
    if "slug" in fields:
        addresses.add(str(fields["slug"]))
    await read_cache.profile_changed(profile.user_id, *addresses)


async def update_profile(user: User, changes: ProfileChanges) -> User:
    """Change the user's name and, for a specialist, the public profile; all or nothing."""
    check = Check()
    updates: dict[str, object] = {}
    if changes.display_name is not None:
        updates["display_name"] = display_name(check, "display_name", changes.display_name)
    profile_fields = _profile_updates(check, changes)
    profile = await profile_of(user) if user.has(Role.SPECIALIST) else None
    if profile_fields and profile is None:
        check.add(ErrorCode.FORBIDDEN, "Only specialists have a public profile.", None)
    check.raise_if_any()

    if profile is not None and (profile_fields or "display_name" in updates):
        if "display_name" in updates:
            profile_fields["display_name"] = updates["display_name"]
        try:
            async with edit_lock(SpecialistProfile, profile.id):
                await set_profile(profile, profile_fields)
        except (DuplicateKeyError, OperationFailure) as exc:
            if not is_duplicate_key(exc):
                raise
            raise DomainError.of(
                ErrorCode.SLUG_TAKEN, "Another specialist uses this address.", "slug"
            ) from None
    if updates:
        async with edit_lock(User, user.id):
            await user.set(updates)
            await read_cache.user_changed(user.id)
    return user


async def verify_email(token: str) -> User:
    """Open a verification link: its user's email is verified from now on."""
    found = await account_tokens.usable(token, Purpose.VERIFY_EMAIL)
    assert found.id is not None and found.user_id is not None
    user = await get_user(found.user_id)
    await account_tokens.use(found.id)
    if user.email_verified_at is None:
        await _set_user(user, {"email_verified_at": utcnow()})
    return await get_user(found.user_id)


async def reset_password(token: str, password: str) -> User:
    """Open a password reset link with a new password. The link then stops, and so do the
    user's other reset links; sessions started before are over (see `session_outlived`).
    The link reached the address, so the address counts as verified."""
    found = await account_tokens.usable(token, Purpose.RESET_PASSWORD)
    assert found.id is not None and found.user_id is not None
    user = await get_user(found.user_id)
    check = Check()
    check_strength(check, "password", password, email=user.email)
    check.raise_if_any()
    password_hash = await hash_password(password)
    await account_tokens.use(found.id)
    now = utcnow()
    changes: dict[str, object] = {"password_hash": password_hash, "password_changed_at": now}
    if user.email_verified_at is None:
        changes["email_verified_at"] = now
    await _set_user(user, changes)
    await account_tokens.use_all(found.user_id, Purpose.RESET_PASSWORD)
    return await get_user(found.user_id)


def session_outlived(user: User, session_started: datetime) -> bool:
    """Whether a session started at `session_started` ended with a later password change."""
    changed = user.password_changed_at
    return changed is not None and as_utc(session_started) < as_utc(changed)


async def find_by_email(email: str) -> User | None:
    key = (email or "").strip().lower()
    return await User.find_one(User.email_key == key) if len(key) <= 254 else None


async def _set_user(
    user: User, changes: dict[str, object], *, where: dict[str, object] | None = None
) -> None:
    """Write the changes, if the user's document still matches `where` (when given)."""
    async with document_lock(User, user.id):
        query = {"_id": user.id, **(where or {})}
        await User.get_pymongo_collection().update_one(query, {"$set": changes})
        await read_cache.user_changed(user.id)


def _profile_updates(check: Check, c: ProfileChanges) -> dict[str, object]:
    fields: dict[str, object] = {}
    if c.headline is not None:
        fields["headline"] = validation.text(
            check, "headline", c.headline, max_length=140, required=False, multiline=False
        )
    if c.bio is not None:
        fields["bio"] = validation.text(check, "bio", c.bio, max_length=5000, required=False)
    if c.expertise is not None:
        fields["expertise"] = validation.tags(check, "expertise", c.expertise)
    if c.timezone is not None:
        fields["timezone"] = validation.timezone(check, "timezone", c.timezone)
    if c.currency is not None:
        fields["currency"] = validation.currency(check, "currency", c.currency)
    if c.slug is not None:
        fields["slug"] = validation.slug(check, "slug", c.slug)
    if c.photo_url is not None:
        fields["photo_url"] = validation.https_url(check, "photo_url", c.photo_url)
    if c.published is not None:
        fields["published"] = c.published
    return fields
