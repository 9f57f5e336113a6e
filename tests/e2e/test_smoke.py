from tests.client import GraphQLClient, register


async def test_register_and_me(client: GraphQLClient) -> None:
    account = await register(client, "SPECIALIST", "Ann Smith")
    data = await account.client.data("{ me { id email specialistProfile { slug } } }")
    assert data["me"]["email"] == account.email
