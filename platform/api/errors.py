"""How expected failures reach clients: `errors { field code message }` in every payload."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from specialistly.core.errors import DomainError


@strawberry.type(description="An expected failure: bad input, a conflict, a permission.")
class UserError:
    field: str | None = strawberry.field(description="The input path, e.g. `input.email`.")
    code: str = strawberry.field(description="Stable machine-readable code, e.g. EMAIL_TAKEN.")
    message: str


def user_errors(error: DomainError) -> list[UserError]:
    return [UserError(field=p.field, code=p.code, message=p.message) for p in error.problems]


def graphql_error(error: DomainError) -> GraphQLError:
    """For queries, which have no payload: the first problem as a GraphQL error with a code."""
    first = error.problems[0]
    return GraphQLError(first.message, extensions={"code": first.code})
