"""The per-operation GraphQL context: the runtime, the viewer and the DataLoaders.

An HTTP request gets one; a WebSocket gets one per operation (see `for_operation`), so
that neither the viewer nor anything loaded outlives the operation that looked it up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from specialistly.api.loaders import Loaders
from specialistly.core.errors import DomainError, ErrorCode, Problem
from specialistly.core.users import Role, User
from specialistly.infra.auth import Identity
from specialistly.runtime import Runtime


@dataclass
class Context:
    runtime: Runtime
    connection: HTTPConnection
    bearer: str | None
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: dict[str, Any] | None = None
    _identity: Identity | None = None
    _auth_problems: tuple[Problem, ...] = ()  # why the bearer token failed
    _resolved: bool = False
    _resolving: asyncio.Lock = field(default_factory=asyncio.Lock)

    def for_operation(self, identity: Identity | None) -> Context:
        """A fresh context for one operation on this WebSocket: the same credentials, the
        viewer just checked by the socket (`identity`), and DataLoaders of its own."""
        return Context(
            runtime=self.runtime,
            connection=self.connection,
            bearer=self.bearer,
            connection_params=self.connection_params,
            _identity=identity,
            _resolved=True,
        )

    @property
    def client_ip(self) -> str:
        return self.connection.client.host if self.connection.client else "unknown"

    async def identity(self) -> Identity | None:
        """The logged-in viewer, or None. Bad tokens are remembered for require_user.

        Looked up once: root fields resolve concurrently, and each waits for the first
        lookup rather than reading a half-done one.
        """
        if not self._resolved:
            async with self._resolving:
                if not self._resolved:
                    if self.bearer:
                        try:
                            self._identity = await self.runtime.tokens.identify(self.bearer)
                        except DomainError as exc:
                            self._auth_problems = exc.problems
                    self._resolved = True
        return self._identity

    async def viewer(self) -> User | None:
        identity = await self.identity()
        return identity.user if identity else None

    async def require_user(self, *roles: Role) -> User:
        """The viewer; raises UNAUTHENTICATED (or why the token failed), or FORBIDDEN."""
        identity = await self.identity()
        if identity is None:
            if self._auth_problems:
                raise DomainError(*self._auth_problems)
            raise DomainError.of(ErrorCode.UNAUTHENTICATED, "You must be logged in.")
        user = identity.user
        if roles and not any(user.has(role) for role in (*roles, Role.ADMIN)):
            names = " or ".join(r.value for r in roles)
            raise DomainError.of(ErrorCode.FORBIDDEN, f"Only a {names} may do this.")
        return user
