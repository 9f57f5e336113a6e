"""The per-request context over HTTP: what every resolver of one request sees."""

from __future__ import annotations

from tests.client import GraphQLClient, register


async def test_root_fields_resolved_together_all_see_the_viewer(client: GraphQLClient) -> None:
    customer = await register(client)
    fields = " ".join(f"f{n}: myBookings {{ totalCount }}" for n in range(5))
    data = await customer.client.data(f"{{ me {{ id }} {fields} }}")
    assert data["me"] == {"id": customer.id}
    assert [data[f"f{n}"] for n in range(5)] == [{"totalCount": 0}] * 5
