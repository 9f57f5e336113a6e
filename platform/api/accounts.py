"""Accounts in GraphQL: register, log in, refresh, log out, `me`, profile editing."""

from __future__ import annotations

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
from specialistly.core import accounts
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.users import Role, SpecialistProfile, User
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
    _is_viewer: strawberry.Private[bool] = False  # returned to the user themself (login)

    @strawberry.field(description="Only the user themself and admins may read it.")
    async def email(self, info: Info[Context, None]) -> str:
        if self._is_viewer:
            return self._email
        viewer = await info.context.viewer()
        if viewer is None or (str(viewer.id) != self.id and not viewer.has(Role.ADMIN)):
            raise graphql_error(DomainError.of(ErrorCode.FORBIDDEN, "You may not read this email."))
        return self._email

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


def _given(input: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(input).items() if v is not None and v is not strawberry.UNSET}


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query, mutation=Mutation)
