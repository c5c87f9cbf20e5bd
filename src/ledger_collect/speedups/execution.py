"""GraphQL execution with a short way for plain fields.

graphql-core resolves every field of every object on its own: a resolve-info object, a path, a
resolver call, the completion of the value. Most fields of a worklist page or an overview are
plain: a strawberry field without a resolver (it reads an attribute) whose type is a scalar or
an enum (or a list of them), asked for without arguments; their machinery was most of those
queries' CPU (``docs/performance.md``).

``FastExecutionContext`` reads an object's plain fields itself (the attribute, then the type's
own ``serialize``) and leaves every other field to graphql-core. It answers what graphql-core
answers, in the selection's order; whenever a plain value would need graphql-core's care (null
where the type says non-null, a value the scalar refuses), the whole object, or the whole list
of objects, goes the ordinary way, which reports the error as it always did. Middleware (schema
extensions resolving fields) disables the short way: those must see every field.

It overrides ``execute_fields``, ``complete_iterable_value``, ``collect_subfields`` and
``build_response`` of graphql-core's executor (through strawberry's execution context), and
reads strawberry's field definitions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
    is_leaf_type,
)
from graphql.pyutils import Path, Undefined
from strawberry.resolvers import is_default_resolver
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from ledger_collect.api.memos import HELD, ByIdentity

#: How a plain field's value becomes its answer; raises ``_Refused`` when graphql-core should.
Complete = Callable[[Any], Any]
#: A selection's plain fields: (response name, reader, completion); None when it has none.
Plan = list[tuple[str, Callable[[Any], Any], Complete]] | None


class _Refused(Exception):
    pass


def _leaf(leaf_type: Any, non_null: bool) -> Complete:
    serialize = leaf_type.serialize

    def complete(value: Any) -> Any:
        if value is None:
            if non_null:
                raise _Refused
            return None
        try:
            answer = serialize(value)
        except Exception:  # noqa: BLE001 - graphql-core reports it, the ordinary way
            raise _Refused from None
        if answer is None or answer is Undefined:
            raise _Refused
        return answer

    # Values that are their own answer: graphql-core's serialize returns them as they are.
    if leaf_type is GraphQLString:
        return lambda value: value if type(value) is str else complete(value)
    if leaf_type is GraphQLInt:  # 32 bits; a bool is serialized as 0 or 1
        return lambda value: (value if type(value) is int and -2**31 <= value < 2**31
                              else complete(value))
    if leaf_type is GraphQLBoolean:
        return lambda value: value if type(value) is bool else complete(value)
    return complete


def _completion(field_type: Any) -> Complete | None:
    """How a value of this type is completed, if it is a leaf or a list of leaves."""
    non_null = isinstance(field_type, GraphQLNonNull)
    inner = field_type.of_type if non_null else field_type
    if is_leaf_type(inner):
        return _leaf(inner, non_null)
    if isinstance(inner, GraphQLList):
        item_type = inner.of_type
        item_non_null = isinstance(item_type, GraphQLNonNull)
        item = item_type.of_type if item_non_null else item_type
        if not is_leaf_type(item):
            return None
        one = _leaf(item, item_non_null)

        def complete(value: Any) -> Any:
            if value is None:
                if non_null:
                    raise _Refused
                return None
            if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
                raise _Refused
            return [one(v) for v in value]

        return complete
    return None


def _plain_reader(field_def: Any) -> Callable[[Any], Any] | None:
    """The attribute a strawberry field without a resolver reads, if the field is one."""
    if not is_default_resolver(field_def.resolve):
        return None
    definition = field_def.extensions.get("strawberry-definition")
    if definition is None or definition.base_resolver is not None or definition.extensions:
        return None  # a field extension (a guard) must see the field resolved
    default_resolver, name = definition.default_resolver, definition.python_name
    if default_resolver is getattr:  # strawberry's default: read in C, no Python call a field
        return attrgetter(name)
    return lambda source: default_resolver(source, name)


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with plain fields read in one pass (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per object type and selection (graphql-core hands the same selection object to
        # every item of a list): the plain fields, or None when none is. The selection is
        # kept alive with its plan, so its id cannot be reused during the request.
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[Any, Plan]] = {}
        # A document without directives selects the same fields whatever its variables: its
        # subfields and plans are kept across requests (see ``_ACROSS``), if it is short
        # enough to be kept at all.
        self._kept = HELD.admit(self.operation)
        self._static = self._kept and _is_static(self.operation, self.fragments)
        roots = (self.schema.query_type, self.schema.mutation_type)
        self._roots = {root for root in roots if root is not None}

    def collect_subfields(self, return_type: GraphQLObjectType,
                          field_details_list: Any) -> Any:
        """graphql-core's, kept across requests for a document without directives: keyed by
        the type and the field nodes (the same objects request after request, parsed
        documents being cached), so the selections handed on are the same objects too."""
        if not self._static:
            return super().collect_subfields(return_type, field_details_list)
        nodes = [details.node for details in field_details_list]
        return _ACROSS.get((return_type, *nodes), lambda: super(
            FastExecutionContext, self).collect_subfields(return_type, field_details_list))

    def build_response(self, data: dict[str, Any] | None) -> Any:
        """graphql-core's response; then this request's memos (collected subfields, plans)
        are dropped. The context is in a reference cycle with itself (its helpers hold bound
        methods of it), so whatever it still held would wait for the cyclic garbage
        collector: hundreds of objects a request, more than the objects of the answer."""
        response = super().build_response(data)
        self._relevant_sub_fields.clear()
        self._plans.clear()
        return response

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any,
                       path: Path | None, grouped_field_set: Any,
                       position_context: Any) -> Any:
        plain = self._plan(parent_type, grouped_field_set)
        if not plain:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set,
                                          position_context)
        read: dict[str, Any] = {}
        try:
            for response_name, reader, complete in plain:
                read[response_name] = complete(reader(source_value))
        except _Refused:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set,
                                          position_context)
        if len(read) == len(grouped_field_set):
            return read
        others = {name: details for name, details in grouped_field_set.items()
                  if name not in read}
        rest = super().execute_fields(parent_type, source_value, path, others,
                                      position_context)
        order = list(grouped_field_set)
        if self.is_awaitable(rest):
            async def merged() -> dict[str, Any]:
                return _in_order(order, read, await rest)

            return merged()
        return _in_order(order, read, rest)

    def complete_iterable_value(self, item_type: Any, field_details_list: Any, info: Any,
                                path: Path, items: Any, position_context: Any) -> Any:
        if not isinstance(items, (list, tuple)):
            items = list(items)  # read once: the ordinary way may have to read it again
        rows = self._plain_rows(item_type, field_details_list, path, items)
        if rows is not None:
            return rows
        return super().complete_iterable_value(item_type, field_details_list, info, path,
                                               items, position_context)

    def _plain_rows(self, item_type: Any, field_details_list: Any, path: Path,
                    items: list[Any] | tuple[Any, ...]) -> list[Any] | None:
        """The list's answers when its items are objects with only plain fields selected."""
        non_null = isinstance(item_type, GraphQLNonNull)
        object_type = item_type.of_type if non_null else item_type
        if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of is not None:
            return None
        grouped_field_set, defer_usages, forbidden = self.collect_subfields(
            object_type, field_details_list)
        if defer_usages or forbidden:
            return None
        plain = self._plan(object_type, grouped_field_set)
        if plain is None or len(plain) != len(grouped_field_set):
            return None
        if self.get_stream_usage(field_details_list, path):
            return None
        is_awaitable = self.is_awaitable
        rows: list[Any] = []
        try:
            for item in items:
                if item is None:
                    if non_null:
                        return None
                    rows.append(None)
                elif is_awaitable(item):
                    return None
                else:
                    rows.append({name: complete(read(item)) for name, read, complete in plain})
        except _Refused:
            return None
        return rows

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> Plan:
        if self._static and parent_type not in self._roots:  # the selection is kept: above
            return _ACROSS.get((parent_type, grouped_field_set),  # type: ignore[no-any-return]
                               lambda: self._make_plan(parent_type, grouped_field_set))
        key = (parent_type, id(grouped_field_set))
        found = self._plans.get(key)
        if found is None:
            found = self._plans[key] = (grouped_field_set,
                                        self._make_plan(parent_type, grouped_field_set))
        return found[1]

    def _make_plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> Plan:
        middleware = self.middleware_manager
        plain = None
        if middleware is None or not middleware.middlewares:
            # the names of a document too long to be kept are not kept either
            plan = _plain_fields if self._kept else _plain_fields.__wrapped__
            plain = plan(self.schema, parent_type, tuple(
                (response_name, details[0].node.name.value, bool(details[0].node.arguments))
                for response_name, details in grouped_field_set.items()))
        return plain


#: A plan per selection shape, kept across requests: clients send the same few queries, and
#: making the plans cost an overview more than reading its plain fields. Bounded against a
#: client sending ever new ones.
@lru_cache(maxsize=2048)
def _plain_fields(schema: Any, parent_type: GraphQLObjectType,
                  shape: tuple[tuple[str, str, bool], ...],
                  ) -> list[tuple[str, Callable[[Any], Any], Complete]] | None:
    """The plain fields of a selection of (response name, field name, has arguments)."""
    plain = []
    for response_name, field_name, has_arguments in shape:
        field_def = schema.get_field(parent_type, field_name)
        if field_def is None or field_def.args or has_arguments:
            continue
        reader = _plain_reader(field_def)
        complete = _completion(field_def.type) if reader else None
        if reader is not None and complete is not None:
            plain.append((response_name, reader, complete))
    return plain or None


def _in_order(order: list[str], read: dict[str, Any], rest: dict[str, Any]) -> dict[str, Any]:
    """The answers in the selection's order (a field the ordinary way left out stays out)."""
    return {name: read[name] if name in read else rest[name] for name in order
            if name in read or name in rest}


#: Subfields and plans of directive-free documents, across requests.
_ACROSS = HELD.add(ByIdentity(8192))
#: Whether an operation (with its document's fragments) is free of directives.
_STATIC = HELD.add(ByIdentity(1024))


def _is_static(operation: Any, fragments: dict[str, Any]) -> bool:
    """No directive anywhere in the operation's selections or its fragments', and no
    fragment variables: which fields are collected then depends on the document alone."""
    definitions = tuple(details.definition for details in fragments.values())
    return _STATIC.get((operation, *definitions), lambda: not any(
        _has_directives(node.selection_set) for node in (operation, *definitions)) and not any(
        details.variable_signatures for details in fragments.values()))


def _has_directives(selection_set: Any) -> bool:
    for selection in selection_set.selections:
        if selection.directives:
            return True
        inner = getattr(selection, "selection_set", None)  # fields and inline fragments
        if inner is not None and _has_directives(inner):
            return True
    return False
