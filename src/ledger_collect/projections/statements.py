"""What a customer's letters show: their invoices and credits as the open-items model holds
them, read for one customer (the mailer, synchronously; the API's preview, through asyncpg).

The account statement covers the invoices still open and those closed within
``STATEMENT_DAYS`` before the day it is made, and the credits the customer holds; the open-item
list is its open invoices. Amounts are the model's, exact to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from ledger_collect.projections.open_items import CREDIT_TABLE, ITEM_TABLE, Credit, OpenItem

#: How far back the statement shows invoices closed since.
STATEMENT_DAYS = 90

_ITEMS = (f"SELECT {ITEM_TABLE.select()} FROM {ITEM_TABLE.name} WHERE customer_id = {{0}} "
          f"AND (status = 'open' OR closed_on >= {{1}}) ORDER BY due_date, document_number")
_CREDITS = (f"SELECT {CREDIT_TABLE.select()} FROM {CREDIT_TABLE.name} WHERE customer_id = {{0}} "
            f"ORDER BY document_date, source_id")


@dataclass(frozen=True)
class Account:
    """A customer's invoices (open, and closed lately) and credits on ``as_of``."""

    as_of: date
    invoices: list[OpenItem]
    credits: list[Credit]

    @property
    def open_items(self) -> list[OpenItem]:
        return [item for item in self.invoices if item.status == "open"]

    @property
    def since(self) -> date:
        return self.as_of - timedelta(days=STATEMENT_DAYS)


def account(conn: psycopg.Connection[Any], customer_id: UUID, as_of: date) -> Account:
    """The customer's account, read on a psycopg connection to the app's schema."""
    since = as_of - timedelta(days=STATEMENT_DAYS)
    with conn.cursor(row_factory=dict_row) as cursor:
        items = cursor.execute(_ITEMS.format("%s", "%s"), (customer_id, since)).fetchall()
        credits = cursor.execute(_CREDITS.format("%s"), (customer_id,)).fetchall()
    return Account(as_of, [ITEM_TABLE.make(r) for r in items],
                   [CREDIT_TABLE.make(r) for r in credits])


async def account_of(pool: Any, customer_id: UUID, as_of: date) -> Account:
    """The same, through an asyncpg pool."""
    since = as_of - timedelta(days=STATEMENT_DAYS)
    items = await pool.fetch(_ITEMS.format("$1", "$2"), customer_id, since)
    credits = await pool.fetch(_CREDITS.format("$1"), customer_id)
    return Account(as_of, [ITEM_TABLE.make(r) for r in items],
                   [CREDIT_TABLE.make(r) for r in credits])
