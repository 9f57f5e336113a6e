"""A plugin whose root fields fail on purpose, loaded by the error boundary's tests."""

from __future__ import annotations

import strawberry

from specialistly.api.accounts import LogoutPayload
from specialistly.core.errors import DomainError, ErrorCode, Problem
from specialistly.hookspecs import GraphQLContribution, hookimpl


@strawberry.input
class EchoInput:
    fail: bool


@strawberry.type
class Query:
    @strawberry.field
    async def failing_lookup(self) -> str:
        raise DomainError.of(ErrorCode.NOT_FOUND, "Nothing here.", "key")


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def echo(self, key: str, input: EchoInput) -> LogoutPayload:
        """Answers in a payload of the platform's, with its `errors` list."""
        if input.fail:
            raise DomainError(
                Problem(ErrorCode.INVALID, "Out of range.", "policy.refund_percent"),
                Problem(ErrorCode.REQUIRED, "Give a key.", "key"),
                Problem(ErrorCode.FORBIDDEN, "Not yours.", None),
            )
        return LogoutPayload(ok=True)

    @strawberry.mutation
    def echo_sync(self, slot_start: str) -> LogoutPayload:
        raise DomainError.of(ErrorCode.CONFLICT, "Changed meanwhile.", "slot_start")

    @strawberry.mutation
    async def without_payload(self) -> bool:
        raise DomainError.of(ErrorCode.CONFLICT, "No payload to carry it.", "anything")


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query, mutation=Mutation)
