"""A plugin defining a root field that tests.plugins.example defines too."""

import strawberry

from specialistly.hookspecs import GraphQLContribution, hookimpl


@strawberry.type
class Query:
    @strawberry.field
    def example_greeting(self) -> str:
        return "again"


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query)
