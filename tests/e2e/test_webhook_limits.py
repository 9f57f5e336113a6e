"""Providers' webhooks are not under the anonymous per-address request limit: a burst of
genuine deliveries from Stripe, Zoom or SendGrid, each from one address, all lands. Their
signatures are their protection; the limit counts GraphQL requests only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from specialistly_sendgrid.webhook import PATH as SENDGRID_PATH
from specialistly_sendgrid.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER
from specialistly_stripe.webhooks import PATH as STRIPE_PATH
from specialistly_zoom.webhooks import WEBHOOK_PATH as ZOOM_PATH
from tests.servers import serve
from tests.stripe_events import delivery, intent_event
from tests.zoom_webhooks.deliveries import SECRET as ZOOM_SECRET
from tests.zoom_webhooks.deliveries import encode, example, signed_headers

LIMIT = 3  # anonymous requests per minute and address
BURST = 3 * LIMIT

# SendGrid's own signed request (its known-answer vector), as its Event Webhook sends it.
VECTOR: dict[str, Any] = json.loads(
    (
        Path(__file__).resolve().parents[1] / "specs" / "sendgrid" / "signed-test-vector.json"
    ).read_text()
)


@pytest.fixture(scope="module")
def limited_api(
    test_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An API with a small anonymous limit (in rate limits of its own) and every provider's
    webhook secret."""
    env = {
        **test_env,
        "SPECIALISTLY_BROKER_NAMESPACE": test_env["SPECIALISTLY_BROKER_NAMESPACE"] + "-hooks",
        "SPECIALISTLY_REQUESTS_PER_MINUTE_ANONYMOUS": str(LIMIT),
        "SPECIALISTLY_ZOOM_WEBHOOK_SECRET_TOKEN": ZOOM_SECRET,
        "SPECIALISTLY_SENDGRID_WEBHOOK_PUBLIC_KEY": VECTOR["public_key"],
    }
    yield from serve(env, tmp_path_factory.mktemp("webhook-limits"), "webhook-limits-api")


def stripe_delivery(n: int) -> tuple[str, bytes, dict[str, str]]:
    body, headers = delivery(
        intent_event("payment_intent.succeeded", f"pi_burst_{n}", "", 1, "eur")
    )
    return STRIPE_PATH, body, headers


def zoom_delivery(n: int) -> tuple[str, bytes, dict[str, str]]:
    started = example("meeting.started")
    started["event_ts"] += n
    body = encode(started)
    return ZOOM_PATH, body, signed_headers(body)


def sendgrid_delivery(n: int) -> tuple[str, bytes, dict[str, str]]:
    headers = {SIGNATURE_HEADER: VECTOR["signature"], TIMESTAMP_HEADER: VECTOR["timestamp"]}
    return SENDGRID_PATH, VECTOR["payload"].encode(), headers


async def test_a_burst_of_signed_deliveries_beyond_the_anonymous_limit_all_lands(
    limited_api: str,
) -> None:
    async with httpx.AsyncClient(base_url=limited_api, timeout=30) as http:
        for make in (stripe_delivery, zoom_delivery, sendgrid_delivery):
            answers = []
            for n in range(BURST):
                path, body, headers = make(n)
                answers.append(await http.post(path, content=body, headers=headers))
            assert [a.status_code for a in answers] == [200] * BURST, make.__name__
        # The same address is limited where the limit applies, and the deliveries above did
        # not count against it.
        asked = [
            await http.post("/graphql", json={"query": "{ __typename }"}) for _ in range(LIMIT + 1)
        ]
        assert [a.status_code for a in asked] == [200] * LIMIT + [429]
