"""Parsing and validating each distinct query document once, in bounded memory.

strawberry parses and validates every request's document anew, and validating costs about ten
times parsing. Its own ``ValidationCache`` keys its cache on the parsed document, whose hash
walks the whole syntax tree on every request, and on the validation rules, which its depth and
alias limiters make afresh for every request, so it would never hit. ``QueryDocumentCache``
keys both caches on the query text (and the rules, made once per schema by
``limits.fixed_rules``): the same text always parses to the same document, so it always
validates the same way. Parsed documents being the same objects request after request also lets
``execution`` keep what it worked out from them.

Both caches are bounded by the size of what they hold, not by a number of entries: a client
sending ever new large documents would otherwise fill a worker's memory with them and keep it
there. A document longer than ``CACHED_DOCUMENT_LENGTH`` is not kept at all; it is parsed and
validated in a thread, so that the event loop goes on answering other requests meanwhile.

It replaces strawberry's parsing and validation steps from a schema extension, calling
strawberry's ``validate_document`` on the graphql-core schema it keeps privately.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from typing import Any, Generic, TypeVar

from graphql import GraphQLError, GraphQLSyntaxError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from ledger_collect.api.limits import coded_parse_error
from ledger_collect.speedups import graphql_core_schema

#: The longest query text kept parsed and validated across requests, in characters (a large
#: GraphiQL query is a few thousand).
CACHED_DOCUMENT_LENGTH = 32 * 1024
#: What a parsed document costs in memory per character of its text: about a hundred bytes
#: for a text of short names and punctuation, whose tokens each become a syntax tree node.
PARSED_BYTES_PER_CHARACTER = 100
#: The estimated memory the parsed documents of a schema may take.
PARSED_BYTES = 64 * 1024 * 1024
#: The memory the validated query texts (keys) and their errors may take.
VALIDATED_BYTES = 8 * 1024 * 1024

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A least-recently-used cache bounded by the total size (in bytes) of its entries."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.total_bytes = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V, size: int) -> None:
        """Keep ``value`` (``size`` bytes), dropping the least recently used entries to make
        room; a value larger than the whole cache is not kept."""
        if size > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self.total_bytes -= previous[1]
            self._entries[key] = (value, size)
            self.total_bytes += size
            while self.total_bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.total_bytes -= dropped


class QueryDocuments:
    """The parsed documents and validation errors (none, mostly) of recent query texts."""

    def __init__(self, parsed_bytes: int = PARSED_BYTES,
                 validated_bytes: int = VALIDATED_BYTES) -> None:
        self.parsed: BoundedCache[str, Any] = BoundedCache(parsed_bytes)
        self.validated: BoundedCache[tuple[str, tuple[Any, ...]], list[GraphQLError]] = (
            BoundedCache(validated_bytes))

    def document(self, query: str, options: dict[str, Any]) -> Any:
        found = self.parsed.get(query)
        if found is None:
            found = _parse(query, options)
            self.parsed.put(query, found, len(query) * PARSED_BYTES_PER_CHARACTER)
        return found

    def errors(self, schema: Any, query: str, document: Any,
               rules: tuple[Any, ...]) -> list[GraphQLError]:
        key = (query, rules)
        found = self.validated.get(key)
        if found is None:
            found = validate_document(schema, document, rules)
            size = len(query) + sum(len(error.message) for error in found)
            self.validated.put(key, found, size)
        return found


def _parse(query: str, options: dict[str, Any]) -> Any:
    """The document of ``query``; its syntax error coded as ``limits`` codes them."""
    try:
        return parse(query, **options)
    except GraphQLSyntaxError as error:
        coded_parse_error(error)
        raise


class QueryDocumentCache(SchemaExtension):
    """Per-operation extension over the schema's ``QueryDocuments``: parses and validates a
    query text once while it is kept; a long one every time, in a thread."""

    def __init__(self, documents: QueryDocuments) -> None:
        self.documents = documents

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        query = context.query
        if query is not None and context.graphql_document is None:
            options = context.parse_options
            if len(query) <= CACHED_DOCUMENT_LENGTH:
                context.graphql_document = self.documents.document(query, options)
            else:
                context.graphql_document = await asyncio.to_thread(_parse, query, options)
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        schema, document, rules = (graphql_core_schema(context.schema),
                                   context.graphql_document, context.validation_rules)
        query = context.query
        if query is None or document is None:
            context.pre_execution_errors = validate_document(schema, document, rules)
        elif len(query) <= CACHED_DOCUMENT_LENGTH:
            context.pre_execution_errors = self.documents.errors(schema, query, document, rules)
        else:
            context.pre_execution_errors = await asyncio.to_thread(
                validate_document, schema, document, rules)
        yield
