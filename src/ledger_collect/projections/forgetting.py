"""Read models forget an erased customer's personal data at once, without a rebuild.

A model whose tables hold personal fields declares them (``Projection.personal``: per table,
the columns, and for a column whose erased form is not simply ``ERASED`` the SQL that gives
it). The engine does the rest, for every such model alike: it adds
``ErasureRequest.Completed`` to the topics the model reads, keeps those events out of what the
model's ``apply`` sees, and after the page is applied sets the declared columns of that
customer's rows to what a rebuild gives once the key is gone, in the page's transaction.
Amounts, dates and statuses are not touched.

The page is decoded again when it holds a completion: a process that still had the erased key
in its cache would otherwise read the page's other events of that customer in clear.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.utils import get_topic
from psycopg import sql

from ledger_collect.domain.base import ERASED
from ledger_collect.domain.erasure_request import ErasureRequest

COMPLETED = ErasureRequest.Completed
#: The erased form of a text column: erased where it held something.
BLANK = "CASE WHEN {c} IS NULL THEN NULL ELSE " + f"'{ERASED}'" + " END"


@dataclass(frozen=True)
class Personal:
    """The personal columns of one table of a read model, found by the customer's id in
    ``customer`` (a column of the table)."""

    table: str
    columns: tuple[str, ...] = ()
    #: Column → SQL giving its erased form from the column (``{c}``); ``BLANK`` by default.
    expressions: Mapping[str, str] = field(default_factory=dict)
    customer: str = "customer_id"

    def statement(self) -> sql.Composed:
        sets = [sql.SQL("{} = {}").format(
            sql.Identifier(name),
            sql.SQL(self.expressions.get(name, BLANK)).format(c=sql.Identifier(name)))
            for name in (*self.columns, *self.expressions)]
        return sql.SQL("UPDATE {} SET {} WHERE {} = ANY(%s)").format(
            sql.Identifier(self.table), sql.SQL(", ").join(sets),
            sql.Identifier(self.customer))


def not_erased(customer: str) -> str:
    """SQL: the customer (an SQL expression) is not erased. Worklists, the dunning run and
    emails leave erased customers out as they read, from the key ring's own record (in the
    live schema, written with the key's deletion): no read model needs to carry it."""
    return f"NOT EXISTS (SELECT 1 FROM erased_subjects x WHERE x.subject_id = {customer})"


def topics(projection: Any) -> tuple[str, ...]:
    """The completion's topic, for a model that declares personal columns."""
    return (get_topic(COMPLETED),) if getattr(projection, "personal", ()) else ()


def erased_in(events: Sequence[Any]) -> list[UUID]:
    """The customers whose erasure completed in these events."""
    return [e.customer_id for e in events if type(e) is COMPLETED]


def split(events: Sequence[Any]) -> tuple[Sequence[Any], list[UUID]]:
    """The events for the model's ``apply``, and the customers erased in the page."""
    erased = erased_in(events)
    if not erased:
        return events, erased
    return [e for e in events if type(e) is not COMPLETED], erased


def forget(conn: psycopg.Connection[Any], projection: Any, customers: list[UUID]) -> None:
    """Set the declared personal columns of the customers' rows to their erased form."""
    if not customers:
        return
    for declared in projection.personal:
        conn.execute(declared.statement(), (customers,))
