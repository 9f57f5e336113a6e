"""Accounts in GraphQL: register, log in, refresh, log out, `me`, profile editing, email
verification and password reset."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from beanie import PydanticObjectId
from strawberry import relay
from strawberry.types import Info
from strawberry.types.base import get_object_definition

from specialistly.api.context import Context
from specialistly.api.errors import UserError, graphql_error
from specialistly.core import account_tokens, accounts, events, validation
from specialistly.core.account_tokens import Purpose
from specialistly.core.errors import Check, DomainError, ErrorCode
from specialistly.core.users import Role, SpecialistProfile, User
from specialistly.features.account_mail import seal
from specialistly.hookspecs import GraphQLContribution, hookimpl
from specialistly.infra.auth import Tokens
from specialistly.infra.login_throttle import LoginThrottle

strawberry.enum(Role, name="Role")


@strawberry.type(name="SpecialistProfile")
class SpecialistProfileType:
    slug: str
    display_name: str
    headline: str
    bio: str
    expertise: list[str]
    timezone: str
    currency: str
    photo_url: str | None
    published: bool

    @classmethod
    def of(cls, p: SpecialistProfile) -> SpecialistProfileType:
        return cls(
            slug=p.slug,
            display_name=p.display_name,
            headline=p.headline,
            bio=p.bio,
            expertise=p.expertise,
            timezone=p.timezone,
            currency=p.currency,
            photo_url=p.photo_url,
            published=p.published,
        )


@strawberry.type(name="User")
class UserType(relay.Node):
    id: relay.NodeID[str]
    display_name: str
    roles: list[Role]
    created_at: datetime
    _email: strawberry.Private[str]
    _email_verified: strawberry.Private[bool] = False
    _is_viewer: strawberry.Private[bool] = False  # returned to the user themself (login)

    @strawberry.field(description="Only the user themself and admins may read it.")
    async def email(self, info: Info[Context, None]) -> str:
        await self._check_owner_or_admin(info)
        return self._email

    @strawberry.field(
        description="Whether the user opened a link sent to their email. Unverified users may"
        " do everything verified ones do. Only the user themself and admins may read it."
    )
    async def email_verified(self, info: Info[Context, None]) -> bool:
        await self._check_owner_or_admin(info)
        return self._email_verified

    async def _check_owner_or_admin(self, info: Info[Context, None]) -> None:
        if self._is_viewer:
            return
        viewer = await info.context.viewer()
        if viewer is None or (str(viewer.id) != self.id and not viewer.has(Role.ADMIN)):
            raise graphql_error(DomainError.of(ErrorCode.FORBIDDEN, "You may not read this email."))

    @strawberry.field(description="Null until published, except to the user and admins.")
    async def specialist_profile(self, info: Info[Context, None]) -> SpecialistProfileType | None:
        if Role.SPECIALIST not in self.roles:
            return None
        user_id = PydanticObjectId(self.id)
        profile = await info.context.loaders.profile_by_user.load(user_id)
        if profile is None:
            return None
        if not (
            profile.published
            or self._is_viewer
            or accounts.is_self_or_admin(await info.context.viewer(), user_id)
        ):
            return None
        return SpecialistProfileType.of(profile)

    @classmethod
    def of(cls, user: User, *, is_viewer: bool = False) -> UserType:
        return cls(
            id=str(user.id),
            display_name=user.display_name,
            roles=list(user.roles),
            created_at=user.created_at,
            _email=user.email,
            _email_verified=user.email_verified_at is not None,
            _is_viewer=is_viewer,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[UserType | None]:
        """Users the viewer may see (accounts.can_see); null for everyone else, as for an id
        of no one, so ids cannot be probed."""
        keys = [PydanticObjectId(i) if PydanticObjectId.is_valid(i) else None for i in node_ids]
        users = await info.context.loaders.user.load_many([k for k in keys if k])
        found = {u.id: u for u in users if u}
        viewer = await info.context.viewer()
        result: list[UserType | None] = []
        for key in keys:
            user = found.get(key)
            result.append(cls.of(user) if user and await accounts.can_see(viewer, user) else None)
        return result


@strawberry.type
class AuthTokens:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime

    @classmethod
    def of(cls, tokens: Tokens) -> AuthTokens:
        return cls(
            access_token=tokens.access_token,
            access_token_expires_at=tokens.access_expires_at,
            refresh_token=tokens.refresh_token,
            refresh_token_expires_at=tokens.refresh_expires_at,
        )


@strawberry.type
class AuthPayload:
    user: UserType | None = None
    tokens: AuthTokens | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UserPayload:
    user: UserType | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LogoutPayload:
    ok: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class VerifyEmailPayload:
    ok: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ResendVerificationEmailPayload:
    ok: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RequestPasswordResetPayload:
    ok: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ResetPasswordPayload:
    ok: bool = False
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ResetPasswordInput:
    token: str
    password: str


@strawberry.enum
class RegisterRole(Enum):
    CUSTOMER = "customer"
    SPECIALIST = "specialist"


@strawberry.input
class RegisterInput:
    email: str
    password: str
    display_name: str
    role: RegisterRole = RegisterRole.CUSTOMER


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.input
class UpdateProfileInput:
    display_name: str | None = None
    headline: str | None = None
    bio: str | None = None
    expertise: list[str] | None = None
    timezone: str | None = None
    currency: str | None = None
    slug: str | None = None
    photo_url: str | None = None
    published: bool | None = None


@strawberry.type
class Query:
    @strawberry.field(description="The logged-in user, or null when not logged in.")
    async def me(self, info: Info[Context, None]) -> UserType | None:
        ctx = info.context
        if ctx.bearer is None:
            return None
        return UserType.of(await ctx.require_user(), is_viewer=True)

    @strawberry.field(
        description="Any object by its global id; null if there is none the viewer may see."
    )
    async def node(self, info: Info[Context, None], id: relay.GlobalID) -> relay.Node | None:
        try:
            node_type = id.resolve_type(info)
        except (ValueError, KeyError):  # a type name that is not an object type
            return None
        if get_object_definition(node_type, strict=True).is_interface:  # "Node" itself
            return None
        node: relay.Node | None = await id.resolve_node(info, required=False)
        return node


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def register(self, info: Info[Context, None], input: RegisterInput) -> AuthPayload:
        ctx = info.context
        await ctx.runtime.limiter.enforce(
            f"register:ip:{ctx.client_ip}",
            limit=ctx.runtime.settings.login_attempts_per_ip,
            window=ctx.runtime.settings.login_window,
            what="registrations",
        )
        user = await accounts.register(
            accounts.Registration(
                email=input.email,
                password=input.password,
                display_name=input.display_name,
                role=Role(input.role.value),
            )
        )
        settings = ctx.runtime.settings
        await account_tokens.issue(
            Purpose.VERIFY_EMAIL,
            user.id,
            ttl=settings.email_verification_ttl,
            seal=seal(settings),
            event=events.USER_REGISTERED,  # its handler sends the welcome and the link
        )
        tokens = await ctx.runtime.tokens.start_session(user)
        return AuthPayload(user=UserType.of(user, is_viewer=True), tokens=AuthTokens.of(tokens))

    @strawberry.mutation
    async def login(self, info: Info[Context, None], input: LoginInput) -> AuthPayload:
        ctx = info.context
        settings = ctx.runtime.settings
        throttle = LoginThrottle(
            ctx.runtime.redis, free=settings.login_free_attempts, longest=settings.login_delay_max
        )
        account = input.email.strip().lower()[:254]
        await ctx.runtime.limiter.enforce(
            f"login:ip:{ctx.client_ip}",
            limit=settings.login_attempts_per_ip,
            window=settings.login_window,
            what="login attempts",
        )
        await throttle.attempt(account, ctx.client_ip)
        user = await accounts.authenticate(input.email, input.password)
        await throttle.succeeded(account, ctx.client_ip)
        tokens = await ctx.runtime.tokens.start_session(user)
        return AuthPayload(user=UserType.of(user, is_viewer=True), tokens=AuthTokens.of(tokens))

    @strawberry.mutation(description="Trade a refresh token for new tokens; the old one stops.")
    async def refresh_token(self, info: Info[Context, None], refresh_token: str) -> AuthPayload:
        user, tokens = await info.context.runtime.tokens.refresh(refresh_token)
        return AuthPayload(user=UserType.of(user, is_viewer=True), tokens=AuthTokens.of(tokens))

    @strawberry.mutation(description="End this session: its tokens stop working.")
    async def logout(self, info: Info[Context, None]) -> LogoutPayload:
        ctx = info.context
        await ctx.require_user()
        identity = await ctx.identity()
        assert identity is not None
        await ctx.runtime.tokens.end_session(identity.session_id)
        return LogoutPayload(ok=True)

    @strawberry.mutation
    async def update_profile(
        self, info: Info[Context, None], input: UpdateProfileInput
    ) -> UserPayload:
        user = await info.context.require_user()
        user = await accounts.update_profile(user, accounts.ProfileChanges(**_given(input)))
        return UserPayload(user=UserType.of(user, is_viewer=True))

    @strawberry.mutation(description="Open an email verification link (its `token`).")
    async def verify_email(self, info: Info[Context, None], token: str) -> VerifyEmailPayload:
        await accounts.verify_email(token)
        return VerifyEmailPayload(ok=True)

    @strawberry.mutation(description="Email the viewer a new verification link.")
    async def resend_verification_email(
        self, info: Info[Context, None]
    ) -> ResendVerificationEmailPayload:
        ctx = info.context
        user = await ctx.require_user()
        if user.email_verified_at is not None:
            raise DomainError.of(
                ErrorCode.EMAIL_ALREADY_VERIFIED, "Your email address is verified already."
            )
        await _limit_account_email(ctx, user.email_key)
        settings = ctx.runtime.settings
        await account_tokens.issue(
            Purpose.VERIFY_EMAIL,
            user.id,
            ttl=settings.email_verification_ttl,
            seal=seal(settings),
            event=events.EMAIL_VERIFICATION_REQUESTED,
        )
        return ResendVerificationEmailPayload(ok=True)

    @strawberry.mutation(
        description="Email a password reset link to this address if an account has it. The"
        " answer is the same either way."
    )
    async def request_password_reset(
        self, info: Info[Context, None], email: str
    ) -> RequestPasswordResetPayload:
        ctx = info.context
        check = Check()
        address = validation.email(check, "email", email)
        check.raise_if_any()
        await _limit_account_email(ctx, address.lower())
        user = await accounts.find_by_email(address)
        settings = ctx.runtime.settings
        # Issued whether or not the account exists (with no user, nothing is sent), so that
        # both answers do the same work.
        await account_tokens.issue(
            Purpose.RESET_PASSWORD,
            user.id if user is not None else None,
            ttl=settings.password_reset_ttl,
            seal=seal(settings),
            event=events.PASSWORD_RESET_REQUESTED,
        )
        return RequestPasswordResetPayload(ok=True)

    @strawberry.mutation(
        description="Open a password reset link with a new password; every session of the"
        " account ends."
    )
    async def reset_password(
        self, info: Info[Context, None], input: ResetPasswordInput
    ) -> ResetPasswordPayload:
        user = await accounts.reset_password(input.token, input.password)
        assert user.id is not None
        await info.context.runtime.tokens.end_all_sessions(user.id)
        return ResetPasswordPayload(ok=True)


async def _limit_account_email(ctx: Context, address_key: str) -> None:
    """Count one account email asked for by this client and to this address."""
    settings = ctx.runtime.settings
    await ctx.runtime.limiter.enforce(
        f"account-email:ip:{ctx.client_ip}",
        limit=settings.account_emails_per_ip,
        window=settings.account_emails_window,
        what="account emails",
    )
    recipient = hashlib.sha256(address_key.encode()).hexdigest()[:32]
    await ctx.runtime.limiter.enforce(
        f"account-email:to:{recipient}",
        limit=settings.account_emails_per_recipient,
        window=settings.account_emails_window,
        what="emails to this address",
    )


def _given(input: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(input).items() if v is not None and v is not strawberry.UNSET}


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query, mutation=Mutation)
