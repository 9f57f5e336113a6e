"""The Stripe plugin: the payment provider for paid bookings and its webhook endpoint."""

from __future__ import annotations

from collections.abc import Sequence

from beanie import Document
from pydantic_settings import BaseSettings
from starlette.routing import BaseRoute, Route

from specialistly.hookspecs import GraphQLContribution, PluginSettings, hookimpl
from specialistly.providers import PaymentProvider
from specialistly_stripe.connect import StripeAccount
from specialistly_stripe.earnings import Query
from specialistly_stripe.ledger import LedgerEntry
from specialistly_stripe.onboarding import Mutation
from specialistly_stripe.provider import StripeProvider
from specialistly_stripe.records import StripePayment
from specialistly_stripe.settings import StripeSettings
from specialistly_stripe.webhooks import PATH, StripeEvent, endpoint


@hookimpl
def settings_class() -> type[BaseSettings]:
    return StripeSettings


@hookimpl
def document_models() -> Sequence[type[Document]]:
    return [StripeEvent, StripePayment, LedgerEntry, StripeAccount]


@hookimpl
def graphql_contribution() -> GraphQLContribution:
    return GraphQLContribution(query=Query, mutation=Mutation)


@hookimpl
def payment_providers(plugin_settings: PluginSettings) -> Sequence[PaymentProvider]:
    return [StripeProvider(plugin_settings.of(StripeSettings))]


@hookimpl
def http_routes(plugin_settings: PluginSettings) -> Sequence[BaseRoute]:
    return [Route(PATH, endpoint(plugin_settings.of(StripeSettings)), methods=["POST"])]
