"""Prometheus metrics: what is measured (`registry`), where each process keeps its share
(`directory`), and who may read them (`exposition`).

Each measuring module hooks into one library: `http` (ASGI), `mongo` (pymongo's command
listener), `redis_client` (the asyncio Redis client), `jobs` (Dramatiq). The GraphQL
operations are measured by `specialistly.api.metrics`.

This package imports nothing on import: `directory` must run before prometheus_client is
first imported, since that import decides whether values are kept per process in files.
"""
