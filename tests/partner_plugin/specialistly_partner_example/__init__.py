"""A partner's email provider and GraphQL field, shipped as its own distribution."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

from specialistly.hookspecs import GraphQLContribution, hookimpl
from specialistly.providers import EmailMessage


class PartnerMail:
    name = "partner-mail"
    display_name = "Partner Mail"

    async def send(self, message: EmailMessage) -> str:
        return f"partner-{len(message.to)}"


@strawberry.type
class Query:
    @strawberry.field(description="Proves that a separately installed plugin adds fields.")
    def partner_status(self) -> str:
        return "installed"


@hookimpl
def email_providers() -> Sequence[PartnerMail]:
    return [PartnerMail()]


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query)
