"""Query arguments meet the rules a command's arguments meet (``commands.values``).

A string with a NUL, a search term of megabytes or the date 0001-01-01 would otherwise reach
SQL and come back as an internal error. ``guard_arguments`` wraps the resolver of every field
that takes arguments, outside the mutations (whose commands check their own and answer
``RuleBroken``), so each is checked in this one place before it resolves: a refusal is a
GraphQL error with ``extensions.code`` ``BAD_USER_INPUT`` naming the argument. Fields without
arguments (nearly all of them) are left as they are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, GraphQLObjectType, GraphQLSchema

from ledger_collect.commands import values
from ledger_collect.domain.base import ValidationError

#: Rules for string arguments by name (the last part of the path for input fields); every other
#: string argument is a code (a segment, a specialist, a strategy code, a status).
STRING_RULES: dict[str, Callable[[Any, str, values.Limits], str]] = {
    "search": values.name,
    "label": values.name,
    # A cursor holds the sort value of the last row (a name, say), encoded: as long as a text.
    "after": lambda value, label, limits: values.code(
        value, label, replace(limits, code_length=limits.text_length)),
}


class BadArgument(GraphQLError):
    """An argument a query cannot work with; the message names it."""

    def __init__(self, message: str, argument: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT", "argument": argument})


def guard_arguments(schema: GraphQLSchema) -> None:
    """Check the arguments of every field outside the mutations before it resolves."""
    for kind in schema.type_map.values():
        if (not isinstance(kind, GraphQLObjectType) or kind is schema.mutation_type
                or kind.name.startswith("__")):
            continue
        for field in kind.fields.values():
            if field.args and field.resolve is not None:
                field.resolve = _guarded(field.resolve)


def _guarded(resolve: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(resolve)
    def guarded(source: Any, info: Any, **arguments: Any) -> Any:
        limits = info.context.collections.limits
        for name, value in arguments.items():
            if value is not None and type(value) is not int and type(value) is not bool:
                _check(value, name, name, limits)
        return resolve(source, info, **arguments)

    return guarded


def _check(value: Any, path: str, name: str, limits: values.Limits) -> None:
    """``path`` names the argument (``filter.dateFrom``); ``name`` is its last part."""
    try:
        if type(value) is str:
            STRING_RULES.get(name, values.code)(value, path, limits)
        elif isinstance(value, date):
            values.day(value, path)
        elif isinstance(value, Decimal):
            values.amount(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                if item is not None:
                    _check(item, f"{path}.{key}", key, limits)
        elif isinstance(value, list):
            for item in value:
                if item is not None:
                    _check(item, path, name, limits)
    except ValidationError as error:
        raise BadArgument(str(error), path.split(".")[0]) from None
