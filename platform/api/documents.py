"""What a GraphQL document must pass before it runs, in one schema extension.

In order: at most `graphql_max_tokens` tokens; parsed once per text and validated once
per document (with the depth and alias limits, and without introspection where it is
off), both kept for the DOCUMENTS_CACHED texts last asked for; then, before execution,
refused when it could cost more than `graphql_max_cost` (see `cost.py`) or is a
subscription over HTTP. One extension rather than one per rule: strawberry prepares every
extension's hooks for every request, which costs more than these rules themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import ASTValidationRule
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from specialistly.api.cost import OperationCosts, too_costly
from specialistly.api.transport import subscription_over_http
from specialistly.settings import Settings

# Query texts whose parsed and validated document is kept: clients send few distinct ones.
DOCUMENTS_CACHED = 256


@dataclass(frozen=True)
class DocumentLimits:
    """One schema's rules, made once: the validation cache knows a document by its rules
    too, and rules made per request would be new ones every time. One per schema (its
    costs are that schema's)."""

    max_tokens: int
    rules: tuple[type[ASTValidationRule], ...]
    max_cost: int
    costs: OperationCosts

    @classmethod
    def of(cls, settings: Settings) -> DocumentLimits:
        rules = [
            *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
        ]
        if not settings.introspection:
            rules.insert(0, NoSchemaIntrospectionCustomRule)
        return cls(
            max_tokens=settings.graphql_max_tokens,
            rules=tuple(rules),
            max_cost=settings.graphql_max_cost,
            costs=OperationCosts(DOCUMENTS_CACHED),
        )


class DocumentRules(SchemaExtension):
    """The rules above for one request (a new instance for each: see `rules_for`)."""

    # strawberry's own module-level caches, the ones its ParserCache and ValidationCache use.
    _parse: Callable[..., Any] = staticmethod(_get_parse_cache(DOCUMENTS_CACHED))
    _validate: Callable[..., Any] = staticmethod(_get_validate_cache(DOCUMENTS_CACHED))

    def __init__(self, limits: DocumentLimits) -> None:
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        run = self.execution_context
        run.parse_options["max_tokens"] = self.limits.max_tokens
        run.validation_rules = run.validation_rules + self.limits.rules
        yield

    def on_parse(self) -> Iterator[None]:
        run = self.execution_context
        run.graphql_document = self._parse(run.query, **run.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        run = self.execution_context
        run.pre_execution_errors = self._validate(
            run.schema._schema, run.graphql_document, run.validation_rules
        )
        yield

    def on_execute(self) -> Iterator[None]:
        run = self.execution_context
        document = run.graphql_document
        if document is not None:
            limits = self.limits
            cost = limits.costs.of(
                run.schema._schema, run.query, document, run.operation_name, run.variables or {}
            )
            if cost > limits.max_cost:
                raise too_costly(cost, limits.max_cost)
        refused = subscription_over_http(run)
        if refused is not None:
            raise refused
        yield


def rules_for(limits: DocumentLimits) -> Callable[[], DocumentRules]:
    """The factory strawberry calls for each request."""
    return lambda: DocumentRules(limits)
