"""The MongoDB connection and the document models of the core and the plugins."""

from __future__ import annotations

from collections.abc import Sequence

from beanie import Document, init_beanie
from beanie.odm.fields import IndexModelField
from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandListener

from specialistly.core import documents
from specialistly.core.events import OUTBOX_WAITING
from specialistly.infra.auth import AuthSession
from specialistly.plugin_system.manager import PluginManager
from specialistly.settings import Settings


def document_models(plugins: PluginManager) -> list[type[Document]]:
    models: list[type[Document]] = [*documents.CORE_MODELS, AuthSession]
    for _, contributed in plugins.collect("document_models"):
        models.extend(contributed or ())
    return models


async def connect(
    settings: Settings,
    plugins: PluginManager,
    *,
    listeners: Sequence[CommandListener] = (),
) -> AsyncMongoClient:  # type: ignore[type-arg]
    client: AsyncMongoClient = AsyncMongoClient(  # type: ignore[type-arg]
        settings.mongodb_url,
        tz_aware=True,
        appname="specialistly",
        serverSelectionTimeoutMS=5000,
        event_listeners=list(listeners),
    )
    await ensure_indexes(await bind(client[settings.database], plugins))
    return client


async def bind(
    database: AsyncDatabase,  # type: ignore[type-arg]
    plugins: PluginManager,
) -> list[type[Document]]:
    """Bind every document model (the core's and the plugins') to `database`; returns them."""
    models = document_models(plugins)
    await init_beanie(database=database, document_models=models, skip_indexes=True)
    return models


async def ensure_indexes(models: Sequence[type[Document]]) -> None:
    """Create the declared indexes that are missing, one command each.

    Beanie sends all of a collection's indexes in one createIndexes command; FerretDB v1
    drops the connection when such a command names several indexes that exist already.
    A model with an outbox (plugins' too) gets an index on its waiting flag, for the sweeper.
    """
    for model in models:
        collection = model.get_pymongo_collection()
        existing = set(await collection.index_information())
        indexes: list[IndexModel | IndexModelField] = list(model.get_settings().indexes or ())
        if "outbox" in model.model_fields:
            indexes.append(IndexModel([(OUTBOX_WAITING, ASCENDING)]))
        for declared in indexes:
            index = declared.index if isinstance(declared, IndexModelField) else declared
            if index.document["name"] not in existing:
                await collection.create_indexes([index])
