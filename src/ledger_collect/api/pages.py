"""Cursor-paginated lists (connections): ``edges { cursor node }``, ``nodes`` and ``pageInfo``.

A list answers at most ``MAX_PAGE`` rows whatever ``first`` asks for; ``after`` takes the
``endCursor`` of the previous page and continues exactly after its last row. Cursors are
opaque: they record the list's sort order and the last row's place in it (see
``projections.records``); a cursor from another list or sort order is refused with
``BAD_USER_INPUT``, never answered with a wrong page.

Lists nested in an object that a loader reads whole (the customer overview's: one query for
all of a customer's promises, say, so that the overview costs a fixed number of queries) are
paged in memory by ``sliced``: their cursors hold the list's name, the row's id and its place,
so ``after`` continues after that row, or, when the row has left the list since (an invoice
cleared), at the place it had.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError

from ledger_collect.projections.rows import (
    DEFAULT_PAGE,
    MAX_PAGE,
    ListArgumentError,
    Page,
    page_size,
)

T = TypeVar("T")
R = TypeVar("R")

FIRST_DESCRIPTION = f"Rows per page: {DEFAULT_PAGE} by default, at most {MAX_PAGE}."
AFTER_DESCRIPTION = "The endCursor of the previous page."
First = Annotated[int, strawberry.argument(description=FIRST_DESCRIPTION)]
#: ``first`` of a list read page by page from its table: null takes the default.
FirstOrNull = Annotated[int | None, strawberry.argument(description=FIRST_DESCRIPTION)]
After = Annotated[str | None, strawberry.argument(description=AFTER_DESCRIPTION)]


class BadUserInput(GraphQLError):
    """An argument the list cannot work with (a foreign cursor, a page of zero rows)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


@strawberry.type(description="Where a page stands in its list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool = strawberry.field(
        description="True when the page was asked for with a cursor (`after`).")
    start_cursor: str | None
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field(description="The page's rows without their cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def connection(page: Page[Any], nodes: Sequence[T]) -> Connection[T]:
    """The GraphQL page of ``page``; ``nodes`` are its items as GraphQL objects, in order."""
    return Connection(
        edges=[Edge(cursor=cursor, node=node)
               for cursor, node in zip(page.cursors, nodes, strict=True)],
        page_info=PageInfo(has_next_page=page.has_next_page,
                           has_previous_page=page.has_previous_page,
                           start_cursor=page.start_cursor, end_cursor=page.end_cursor))


async def read_page(read: Callable[..., Awaitable[Page[R]]], *args: Any,
                    **kwargs: Any) -> Page[R]:
    """Call a list reader, turning what the client got wrong into ``BadUserInput``."""
    try:
        return await read(*args, **kwargs)
    except ListArgumentError as error:
        raise BadUserInput(str(error)) from None


def sliced(name: str, rows: Sequence[R], first: int | None, after: str | None,
           node: Callable[[R], T]) -> Connection[T]:
    """The page of ``rows`` (a whole list a loader read, in its order) after cursor ``after``,
    as a connection of ``node(row)``; ``name`` tells this list's cursors from others'."""
    try:
        size = page_size(first)
    except ListArgumentError as error:
        raise BadUserInput(str(error)) from None
    start = 0
    if after:
        row_id, place = _read_cursor(name, after)
        ids = [str(row.id) for row in rows]  # type: ignore[attr-defined]
        start = ids.index(row_id) + 1 if row_id in ids else min(place, len(rows))
    shown = rows[start:start + size]
    cursors = [_cursor(name, str(row.id), start + n)  # type: ignore[attr-defined]
               for n, row in enumerate(shown)]
    return connection(Page(items=list(shown), cursors=cursors,
                           has_next_page=start + size < len(rows),
                           has_previous_page=after is not None), [node(row) for row in shown])


def _cursor(name: str, row_id: str, place: int) -> str:
    raw = json.dumps([name, row_id, place], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read_cursor(name: str, cursor: str) -> tuple[str, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        found, row_id, place = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(place, int) or place < 0:
            raise ValueError(place)
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise BadUserInput(f"{cursor!r} is not a cursor of this list") from None
    if found != name:
        raise BadUserInput(f"this cursor belongs to the list {found}, not to {name}; ask "
                           f"again from the first page")
    return str(row_id), place
