"""Connect (Express): onboarding links, account.updated, the publish gate for paid
services, destination charges with the platform's fee, and payouts in the ledger."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId
from starlette.requests import Request

from specialistly.api.context import Context
from specialistly.api.schema import build_schema
from specialistly.core import catalog
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.services import Service, ServiceStatus
from specialistly.core.users import Role
from specialistly.providers import PaymentProvider, PaymentRequest, Providers, RefundRequest
from specialistly.runtime import Runtime
from specialistly.settings import Settings
from specialistly_stripe import connect, ledger, records
from specialistly_stripe.connect import StripeAccount, application_fee
from specialistly_stripe.provider import StripeProvider
from specialistly_stripe.settings import StripeSettings
from specialistly_stripe.webhooks import PATH
from tests.client import GraphQLClient, register, service_gid, user_id
from tests.factories import VIDEO, make_service, make_user
from tests.stripe_events import STRIPE_CONNECT_WEBHOOK_SECRET, delivery, event, fixture

pytestmark = pytest.mark.usefixtures("runtime")

ONBOARD = """mutation { startPayoutOnboarding { url expiresAt errors { code } } }"""
ACCOUNT = "{ payoutAccount { chargesEnabled payoutsEnabled detailsSubmitted } }"


def stripe_settings(**changes: Any) -> StripeSettings:
    values: dict[str, Any] = {
        "secret_key": "sk_test_specialistly",
        "api_base": "http://127.0.0.1:12111",
        "require_payouts": True,
        "application_fee_bps": 1250,
        **changes,
    }
    return StripeSettings(**values)


async def deliver(api_url: str, body: dict[str, Any], **sign_args: Any) -> dict[str, Any]:
    raw, headers = delivery(body, **sign_args)
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        answer = await http.post(PATH, content=raw, headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def ready_account(specialist_id: str) -> StripeAccount:
    return await StripeAccount(
        specialist_id=specialist_id,
        account_id=f"acct_{secrets.token_hex(6)}",
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
    ).insert()


async def test_a_specialist_onboards_and_account_updated_enables_payouts(api_url: str) -> None:
    specialist = await register(GraphQLClient(api_url), "SPECIALIST")
    first = (await specialist.client.data(ONBOARD))["startPayoutOnboarding"]
    assert first["errors"] == [] and first["url"].startswith("https://")
    again = (await specialist.client.data(ONBOARD))["startPayoutOnboarding"]
    assert again["url"]  # a fresh link, the same account
    [account] = await StripeAccount.find(
        StripeAccount.specialist_id == str(user_id(specialist))
    ).to_list()
    assert account.account_id.startswith("acct_")
    before = (await specialist.client.data(ACCOUNT))["payoutAccount"]
    assert before == {"chargesEnabled": False, "payoutsEnabled": False, "detailsSubmitted": False}

    enabled = fixture(
        "account",
        id=account.account_id,
        type="express",
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
    )
    updated = event("account.updated", enabled)
    updated["account"] = account.account_id
    assert (await deliver(api_url, updated))["outcome"] == "recorded"
    after = (await specialist.client.data(ACCOUNT))["payoutAccount"]
    assert after == {"chargesEnabled": True, "payoutsEnabled": True, "detailsSubmitted": True}

    customer = await register(GraphQLClient(api_url))
    refused = (await customer.client.data(ONBOARD))["startPayoutOnboarding"]
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]


async def test_a_paid_service_goes_on_sale_only_once_payouts_are_enabled() -> None:
    provider = StripeProvider(stripe_settings())

    async def problem(specialist_id: PydanticObjectId) -> str | None:
        return await provider.payout_problem(str(specialist_id))

    specialist = await make_user(Role.SPECIALIST)
    paid = await make_service(specialist, publish=False, price=5000)
    free = await make_service(specialist, publish=False, price=0)
    with pytest.raises(DomainError) as refused:
        await catalog.publish_service(specialist, str(paid.id), payout_problem=problem)
    assert [p.code for p in refused.value.problems] == [ErrorCode.PAYOUTS_NOT_READY]
    published = await catalog.publish_service(specialist, str(free.id), payout_problem=problem)
    assert published.status == ServiceStatus.PUBLISHED

    account = await ready_account(str(specialist.id))
    await account.set({"payouts_enabled": False})
    with pytest.raises(DomainError, match="not enabled"):
        await catalog.publish_service(specialist, str(paid.id), payout_problem=problem)
    await account.set({"payouts_enabled": True})
    published = await catalog.publish_service(specialist, str(paid.id), payout_problem=problem)
    assert published.status == ServiceStatus.PUBLISHED


async def test_a_published_free_service_becomes_paid_only_once_payouts_are_enabled() -> None:
    provider = StripeProvider(stripe_settings())

    async def problem(specialist_id: PydanticObjectId) -> str | None:
        return await provider.payout_problem(str(specialist_id))

    specialist = await make_user(Role.SPECIALIST)
    free = await make_service(specialist, price=0)
    draft = await make_service(specialist, publish=False, price=0)

    async def reprice(service_id: PydanticObjectId | None, price: int) -> Service:
        return await catalog.update_service(
            specialist,
            str(service_id),
            {"price": price},
            video_providers=VIDEO,
            payout_problem=problem,
        )

    with pytest.raises(DomainError) as refused:
        await reprice(free.id, 5000)
    [(code, field)] = [(p.code, p.field) for p in refused.value.problems]
    assert (code, field) == (ErrorCode.PAYOUTS_NOT_READY, "price")
    unchanged = await catalog.find_service(str(free.id))
    assert unchanged is not None and unchanged.price == 0
    # A draft may be priced: publishing it is what waits for payouts.
    assert (await reprice(draft.id, 5000)).price == 5000
    assert (await reprice(free.id, 0)).price == 0  # staying free needs no payouts

    await ready_account(str(specialist.id))
    paid = await reprice(free.id, 5000)
    assert (paid.price, paid.status) == (5000, ServiceStatus.PUBLISHED)


UPDATE = """mutation U($input: UpdateServiceInput!) {
  updateService(input: $input) { service { price } errors { field code } } }"""


async def test_update_service_asks_the_payment_provider_before_pricing(
    runtime: Runtime, settings: Settings
) -> None:
    gated = StripeProvider(stripe_settings())  # the session's own lets every service sell
    payment = Providers[PaymentProvider]("payment", PaymentProvider, [gated])
    strict = dataclasses.replace(
        runtime, providers=dataclasses.replace(runtime.providers, payment=payment)
    )
    specialist = await make_user(Role.SPECIALIST)
    free = await make_service(specialist, price=0)
    tokens = await runtime.tokens.start_session(specialist)
    connection = Request({"type": "http", "headers": [], "client": ("127.0.0.1", 1)})
    context = Context(runtime=strict, connection=connection, bearer=tokens.access_token)
    variables = {"input": {"id": service_gid(free.id), "price": 5000}}
    result = await build_schema(runtime.plugins, settings).execute(
        UPDATE, variables, context_value=context
    )
    assert result.errors is None and result.data is not None
    refused = result.data["updateService"]
    assert refused == {
        "service": None,
        "errors": [{"field": "input.price", "code": "PAYOUTS_NOT_READY"}],
    }


def test_the_application_fee_is_whole_minor_units_in_any_currency() -> None:
    assert application_fee(4500, 1250) == 562  # JPY 4500 (no decimals): 562.5 -> 562
    assert application_fee(1999, 1000) == 199  # EUR 19.99 -> 1.99
    assert application_fee(12_345, 1000) == 1234  # KWD 12.345 (three decimals) -> 1.234
    assert application_fee(1, 1000) == 0
    assert application_fee(5000, 0) == 0


async def test_a_ready_specialist_is_paid_by_destination_charge() -> None:
    """stripe-mock checks each request against Stripe's OpenAPI: the destination charge,
    its fee and the reversing refund are requests Stripe accepts."""
    provider = StripeProvider(stripe_settings())
    specialist = str(PydanticObjectId())
    account = await ready_account(specialist)
    booking_id = str(PydanticObjectId())
    session = await provider.create_payment(
        PaymentRequest(
            booking_id, specialist, 4500, "jpy", "c@example.com", "d", f"booking-{booking_id}"
        )
    )
    stored = await records.find(intent_id=session.external_id)
    assert stored is not None and stored.destination == account.account_id
    refund_id = await provider.refund(
        RefundRequest(session.external_id, 4500, "cancellation", f"booking-{booking_id}-r")
    )
    assert refund_id.startswith("re_")
    # Without an account that can take charges, the platform collects the payment itself.
    other = str(PydanticObjectId())
    plain = await provider.create_payment(
        PaymentRequest("b2", other, 4500, "jpy", "c@example.com", "d", f"booking-b2-{other}")
    )
    unconnected = await records.find(intent_id=plain.external_id)
    assert unconnected is not None and unconnected.destination is None
    assert connect.application_fee(4500, 1250) == 562


async def test_a_payout_enters_the_ledger_apart_from_earnings(api_url: str) -> None:
    specialist = str(PydanticObjectId())
    account = await ready_account(specialist)
    payout = {
        "id": f"po_{secrets.token_hex(6)}",
        "object": "payout",
        "amount": 12_345,
        "currency": "kwd",
        "created": 1_700_000_000,
        "status": "paid",
    }
    paid = event("payout.paid", payout)
    paid["account"] = account.account_id
    # Signed by the Connect endpoint's own secret, as Stripe signs connected accounts' events.
    connect_signed = await deliver(api_url, paid, secret=STRIPE_CONNECT_WEBHOOK_SECRET)
    assert connect_signed["outcome"] == "recorded"
    assert (await deliver(api_url, paid))["outcome"] == "duplicate"
    [summary] = await ledger.summary(specialist, None, None)
    assert (summary.currency, summary.payouts, summary.net) == ("kwd", 12_345, 0)
