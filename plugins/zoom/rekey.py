"""Re-encrypt every stored Zoom secret with the newest key: ``python -m specialistly_zoom.rekey``.

Run it after putting a new key first in ``SPECIALISTLY_ZOOM_TOKEN_KEYS``; once it is done,
the older keys can be removed. Connections are re-encrypted under their lock, since a
refresh may be writing them at the same time. A value that no configured key opens is
left as it is and counted; the command then exits with status 1.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any

from beanie import Document

from specialistly.core.locks import document_lock
from specialistly.runtime import start_runtime
from specialistly.settings import Settings
from specialistly_zoom.crypto import CipherError, TokenCipher
from specialistly_zoom.models import ZoomConnection, ZoomOAuthState
from specialistly_zoom.settings import ZoomSettings

# Each sealed field, and the context it was sealed with.
SEALED: tuple[tuple[type[Document], str, str], ...] = (
    (ZoomConnection, "access_token", "zoom:{_id}"),
    (ZoomConnection, "refresh_token", "zoom:{_id}"),
    (ZoomOAuthState, "code_verifier", "zoom-state:{_id}"),
)


@dataclass
class Rekeyed:
    changed: int = 0
    unreadable: int = 0


async def rekey(cipher: TokenCipher) -> Rekeyed:
    done = Rekeyed()
    for model in (ZoomConnection, ZoomOAuthState):
        fields = [(field, context) for m, field, context in SEALED if m is model]
        async for raw in model.get_pymongo_collection().find({}, {"_id": 1}):
            async with document_lock(model, raw["_id"]):
                await _rekey_one(model, raw["_id"], fields, cipher, done)
    return done


async def _rekey_one(
    model: type[Document],
    doc_id: Any,
    fields: list[tuple[str, str]],
    cipher: TokenCipher,
    done: Rekeyed,
) -> None:
    collection = model.get_pymongo_collection()
    doc = await collection.find_one({"_id": doc_id})
    updates: dict[str, str] = {}
    for field, context in fields:
        sealed = (doc or {}).get(field)
        if not sealed or cipher.is_current(sealed):
            continue
        try:
            updates[field] = cipher.reencrypt(sealed, context=context.format(_id=doc_id))
        except CipherError:
            done.unreadable += 1
    if updates:
        await collection.update_one({"_id": doc_id}, {"$set": updates})
        done.changed += len(updates)


async def main() -> Rekeyed:
    runtime = await start_runtime(Settings())
    try:
        settings = runtime.plugin_settings.of(ZoomSettings)
        cipher = TokenCipher([key.get_secret_value() for key in settings.token_keys])
        return await rekey(cipher)
    finally:
        await runtime.close()


if __name__ == "__main__":
    result = asyncio.run(main())
    print(f"re-encrypted {result.changed} values with the newest key")
    if result.unreadable:
        print(f"{result.unreadable} values open with no configured key", file=sys.stderr)
    sys.exit(1 if result.unreadable else 0)
