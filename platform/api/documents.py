"""What a GraphQL document must pass before it runs (applied by `api.operation`).

In order: at most `graphql_max_tokens` tokens; parsed once per text and validated once
per document (with the depth and alias limits, and without introspection where it is
off), both kept for the DOCUMENTS_CACHED texts last asked for; then, before execution,
refused when it could cost more than `graphql_max_cost` (see `cost.py`) or is a
subscription over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graphql import ASTValidationRule, DocumentNode, GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache
from strawberry.types import ExecutionContext

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


# strawberry's own module-level caches, the ones its ParserCache and ValidationCache use.
_parse: Callable[..., DocumentNode] = _get_parse_cache(DOCUMENTS_CACHED)
_validate: Callable[..., list[GraphQLError]] = _get_validate_cache(DOCUMENTS_CACHED)


def prepare(run: ExecutionContext, limits: DocumentLimits) -> None:
    """Before parsing: the token limit and the validation rules."""
    run.parse_options["max_tokens"] = limits.max_tokens
    run.validation_rules = run.validation_rules + limits.rules


def parse(run: ExecutionContext) -> None:
    run.graphql_document = _parse(run.query, **run.parse_options)


def validate(run: ExecutionContext) -> None:
    run.pre_execution_errors = _validate(
        run.schema._schema, run.graphql_document, run.validation_rules
    )


def check(run: ExecutionContext, limits: DocumentLimits) -> None:
    """Before execution: raises the refusal of a document too costly, or of a
    subscription asked for over HTTP."""
    document = run.graphql_document
    if document is not None:
        cost = limits.costs.of(
            run.schema._schema, run.query, document, run.operation_name, run.variables or {}
        )
        if cost > limits.max_cost:
            raise too_costly(cost, limits.max_cost)
    refused = subscription_over_http(run)
    if refused is not None:
        raise refused
