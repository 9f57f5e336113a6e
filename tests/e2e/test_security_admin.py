"""`specialistly admin grant|revoke EMAIL`: the only way to make an admin, and audited."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.client import GraphQLClient, register

ROOT = Path(__file__).resolve().parents[2]

ROLES = "{ me { roles } }"
ALL_BOOKINGS = "{ bookings(first: 1) { totalCount } }"


async def cli(test_env: dict[str, str], *args: str) -> tuple[int, list[dict[str, Any]], str]:
    """Exit code, JSON log lines and the other output lines of one `specialistly` run."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "specialistly.processes.cli",
        *args,
        env={**os.environ, **test_env},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    logs, other = [], []
    for line in output.decode().splitlines():
        try:
            logs.append(json.loads(line))
        except ValueError:
            other.append(line)
    assert process.returncode is not None
    return process.returncode, logs, "\n".join(other)


async def test_grant_and_revoke_the_admin_role(
    client: GraphQLClient, test_env: dict[str, str]
) -> None:
    account = await register(client)
    refused = await account.client.execute(ALL_BOOKINGS)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    code, logs, _ = await cli(test_env, "admin", "grant", account.email.upper())
    assert code == 0
    audit = [line for line in logs if line.get("audit") == "admin.grant"]
    assert len(audit) == 1
    assert audit[0]["email"] == account.email
    assert audit[0]["roles"] == ["customer", "admin"]
    assert audit[0]["by"]
    assert audit[0]["logger"] == "specialistly.audit"
    # The same session is an admin now: roles are read on every request.
    assert (await account.client.data(ROLES))["me"]["roles"] == ["CUSTOMER", "ADMIN"]
    assert "totalCount" in (await account.client.data(ALL_BOOKINGS))["bookings"]

    code, logs, _ = await cli(test_env, "admin", "grant", account.email)
    assert code == 0  # granting twice changes nothing
    assert (await account.client.data(ROLES))["me"]["roles"] == ["CUSTOMER", "ADMIN"]

    code, logs, _ = await cli(test_env, "admin", "revoke", account.email)
    assert code == 0
    assert [line["audit"] for line in logs if "audit" in line] == ["admin.revoke"]
    assert (await account.client.data(ROLES))["me"]["roles"] == ["CUSTOMER"]
    refused = await account.client.execute(ALL_BOOKINGS)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_unknown_email_changes_nothing(test_env: dict[str, str]) -> None:
    code, logs, output = await cli(test_env, "admin", "grant", "nobody@example.com")
    assert code == 1
    assert "No account has this email" in output
    assert not [line for line in logs if "audit" in line]
