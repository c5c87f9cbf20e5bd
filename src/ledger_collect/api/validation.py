"""Validating each distinct query document once.

Strawberry's ``ValidationCache`` keys its cache on the parsed document, whose hash walks the
whole syntax tree on every request (a few milliseconds for an overview query), and on the
validation rules, which its depth and alias limiters make afresh for every request — so it
never hit. Here the limits' rules are built once per schema and the cache is keyed on the
query text and those rules: the same text always parses to the same document, so it always
validates the same way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from graphql import ASTValidationRule
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.schema.schema import validate_document


class ValidatedQueries:
    """The validation errors (none, mostly) of the last ``maxsize`` query texts."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._found: OrderedDict[tuple[str, tuple[Any, ...]], list[Any]] = OrderedDict()
        self._lock = threading.Lock()

    def errors(self, schema: Any, query: str, document: Any, rules: tuple[Any, ...]) -> list[Any]:
        key = (query, rules)
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
                return found
        found = validate_document(schema, document, rules)
        with self._lock:
            self._found[key] = found
            while len(self._found) > self.maxsize:
                self._found.popitem(last=False)
        return found


class QueryValidationCache(SchemaExtension):
    """Per-operation extension over a ``ValidatedQueries`` shared by the schema's operations."""

    def __init__(self, cache: ValidatedQueries) -> None:
        self.cache = cache

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is None or context.graphql_document is None:
            context.pre_execution_errors = validate_document(
                context.schema._schema, context.graphql_document, context.validation_rules)
        else:
            context.pre_execution_errors = self.cache.errors(
                context.schema._schema, context.query, context.graphql_document,
                context.validation_rules)
        yield


def fixed_rules(*limiters: AddValidationRules) -> Sequence[type[ASTValidationRule]]:
    """The validation rules of limiter extensions made once (each makes its rule classes anew
    when constructed), to be added to every operation by ``AddValidationRules``."""
    return [rule for limiter in limiters for rule in limiter.validation_rules]
