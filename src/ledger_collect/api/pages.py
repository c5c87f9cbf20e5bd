"""Cursor-paginated lists (connections): ``edges { cursor node }``, ``nodes`` and ``pageInfo``.

A list answers at most ``MAX_PAGE`` rows whatever ``first`` asks for; ``after`` takes the
``endCursor`` of the previous page and continues exactly after its last row. Cursors are
opaque: they record the list's sort order and the last row's place in it (see
``projections.records``); a cursor from another list or sort order is refused with
``BAD_USER_INPUT``, never answered with a wrong page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError

from ledger_collect.projections.records import DEFAULT_PAGE, MAX_PAGE, ListArgumentError, Page

T = TypeVar("T")
R = TypeVar("R")

FIRST_DESCRIPTION = f"Rows per page: {DEFAULT_PAGE} by default, at most {MAX_PAGE}."
AFTER_DESCRIPTION = "The endCursor of the previous page."


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
