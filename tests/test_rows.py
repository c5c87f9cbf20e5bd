"""The page writer (``rows.Rows``) on a table of its own: a row removed is deleted when the page
is written and no later event of the page finds it (nor a later load brings it back); a row
removed and added again is kept; a column filled in SQL is neither loaded nor written, so
what the model's SQL put there stays and a new row takes the column's default."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from ledger_collect.config import Settings
from ledger_collect.projections.rows import Rows
from ledger_collect.projections.tables import Table, filled_in_sql


@dataclass(frozen=True)
class Account:
    id: UUID
    owner: str
    balance: Decimal
    total: Decimal = filled_in_sql()  # the model's SQL sums it from elsewhere


ACCOUNTS = Table("accounts", Account)
ANN, BOB, CY, DEE = (UUID(int=n) for n in range(1, 5))


@pytest.fixture
def conn(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    """A schema with one table of three accounts (removed by the settings fixture)."""
    with psycopg.connect(settings.database_url, autocommit=True) as connection:
        schema = sql.Identifier(settings.schema)
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        connection.execute(sql.SQL("SET search_path TO {}").format(schema))
        connection.execute(
            "CREATE TABLE accounts (id uuid PRIMARY KEY, owner text NOT NULL,"
            " balance numeric(18,2) NOT NULL, total numeric(18,2) NOT NULL DEFAULT 0)")
        connection.execute("INSERT INTO accounts VALUES (%s, 'ann', 10, 100), (%s, 'bob', 20, 200),"
                           " (%s, 'cy', 30, 300)", (ANN, BOB, CY))
        yield connection


def stored(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT id, owner, balance, total FROM accounts ORDER BY id").fetchall()


def test_a_removed_row_is_deleted_and_the_rest_of_the_page_no_longer_finds_it(
        conn: psycopg.Connection[Any]) -> None:
    rows = Rows(conn, ACCOUNTS)
    rows.load([ANN, BOB])
    rows.get(ANN)["balance"] += 5  # type: ignore[index]
    removed = rows.remove(BOB)
    assert removed is not None and removed["owner"] == "bob"
    assert rows.get(BOB) is None
    rows.load([BOB, CY])  # a later load of the page brings the removed row back no more
    assert rows.get(BOB) is None and CY in rows.rows
    rows.write()
    assert stored(conn) == [(ANN, "ann", Decimal("15.00"), Decimal("100.00")),
                            (CY, "cy", Decimal("30.00"), Decimal("300.00"))]


def test_a_row_removed_then_added_again_in_the_same_page_is_kept(
        conn: psycopg.Connection[Any]) -> None:
    rows = Rows(conn, ACCOUNTS)
    rows.load([BOB])
    rows.remove(BOB)
    rows.add({"id": BOB, "owner": "bea", "balance": Decimal("1.00")})
    rows.write()
    assert stored(conn)[1] == (BOB, "bea", Decimal("1.00"), Decimal("0.00"))  # a new row


def test_removing_a_row_the_page_never_saw_removes_nothing(
        conn: psycopg.Connection[Any]) -> None:
    rows = Rows(conn, ACCOUNTS)
    assert rows.remove(CY) is None
    rows.write()
    assert [row[0] for row in stored(conn)] == [ANN, BOB, CY]


def test_a_column_filled_in_sql_is_neither_loaded_nor_written(
        conn: psycopg.Connection[Any]) -> None:
    rows = Rows(conn, ACCOUNTS)
    rows.load([ANN])
    assert rows.rows[ANN] == {"id": ANN, "owner": "ann", "balance": Decimal("10.00")}
    rows.get(ANN)["owner"] = "anne"  # type: ignore[index]
    rows.add({"id": DEE, "owner": "dee", "balance": Decimal("40.00")})
    rows.write()
    assert stored(conn)[0] == (ANN, "anne", Decimal("10.00"), Decimal("100.00"))  # total kept
    assert stored(conn)[3] == (DEE, "dee", Decimal("40.00"), Decimal("0.00"))  # its default
