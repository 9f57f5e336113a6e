"""The GraphQL API: a thin skin over the core services."""
