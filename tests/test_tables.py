"""Every read-model table declared in Python (``projections.tables``) is the table its model's
SQL creates: the same columns in the same order, of the same types, null allowed or not alike,
the same primary key and unique constraints; every text column an index holds is declared a
key (clipped when too long for the index); and the model's tables are exactly those its SQL
creates. A column added, retyped or re-keyed on one side only fails here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from ledger_collect.projections import Projection, select
from ledger_collect.projections.tables import (
    BigInt,
    Column,
    Json,
    Key,
    Number,
    Table,
    derived,
    filled_in_sql,
)
from ledger_collect.storage.database import Database

DECLARED = [cls for cls in select() if cls.declared]


@dataclass(frozen=True)
class Created:
    """A table as PostgreSQL has it."""

    columns: list[Column]
    primary_key: tuple[str, ...]
    unique: set[tuple[str, ...]]
    indexed: set[str]  # every column an index holds, its key or included columns


def created(conn: psycopg.Connection[Any], table: str) -> Created:
    rows = conn.execute(
        "SELECT attnum, attname, format_type(atttypid, atttypmod), NOT attnotnull"
        " FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
        " ORDER BY attnum", (table,)).fetchall()
    name_of = {number: name for number, name, *_ in rows}
    primary: tuple[str, ...] = ()
    unique: set[tuple[str, ...]] = set()
    indexed: set[str] = set()
    for numbers, keys, is_primary, is_unique in conn.execute(
            "SELECT indkey::int2[], indnkeyatts, indisprimary, indisunique FROM pg_index"
            " WHERE indrelid = %s::regclass", (table,)):
        columns = tuple(name_of[n] for n in numbers)
        indexed.update(columns)
        if is_primary:
            primary = columns[:keys]
        elif is_unique:
            unique.add(columns[:keys])
    return Created([Column(name, pgtype, nullable) for _, name, pgtype, nullable in rows],
                   primary, unique, indexed)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory, server_url: str) -> Any:
    """Every declared model's SQL run in a schema of its own; the tables as created."""
    import base64
    import os

    from ledger_collect.config import Settings

    schema = f"t_tables_{os.getpid()}"
    settings = Settings(database_url=server_url, data_dir=tmp_path_factory.mktemp("tables"),
                        schema=schema, master_key=base64.b64encode(os.urandom(32)).decode())
    database = Database(settings).open()
    try:
        with database.connect() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
            conn.execute(f"SET search_path TO {schema}")
            found: dict[str, dict[str, Created]] = {}
            for cls in DECLARED:
                conn.execute(cls.sql())
                names = [name for (name,) in conn.execute(
                    "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace"
                    " AND relkind = 'r' AND relname <> ALL(%s)",
                    (schema, [n for model in found.values() for n in model]))]
                found[cls.name] = {name: created(conn, name) for name in names}
            yield found
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        database.close()


@pytest.mark.parametrize("model", DECLARED, ids=lambda cls: cls.name)
def test_a_model_declares_exactly_the_tables_its_sql_creates(
        model: type[Projection], tables: dict[str, dict[str, Created]]) -> None:
    assert sorted(model.tables) == sorted(tables[model.name])


@pytest.mark.parametrize("table", [t for cls in DECLARED for t in cls.declared],
                         ids=lambda table: table.name)
def test_a_declared_table_is_the_table_its_sql_creates(
        table: Table[Any], tables: dict[str, dict[str, Created]]) -> None:
    found = next(model[table.name] for model in tables.values() if table.name in model)
    declared = [Column(c.name, c.type, c.nullable) for c in table.columns]
    assert declared == found.columns
    assert table.key == found.primary_key
    assert set(table.unique) == found.unique
    text_indexed = {c.name for c in found.columns if c.type == "text"} & found.indexed
    assert text_indexed <= {c.name for c in table.columns if c.key}, (
        "text an index holds must be declared Key, so that a long value is clipped")


def test_a_declaration_reads_types_nulls_keys_and_derived_fields_off_the_record() -> None:
    @dataclass(frozen=True)
    class Example:
        id: UUID
        code: Key
        label: str | None
        amount: Decimal
        rate: Number
        days: list[date]
        counts: list[int] | None
        seq: BigInt
        data: Json
        figure: int | None = filled_in_sql()
        shown: bool = derived(default=False)

    table = Table("examples", Example)
    assert [(c.name, c.type, c.nullable, c.key) for c in table.columns] == [
        ("id", "uuid", False, False), ("code", "text", False, True),
        ("label", "text", True, False), ("amount", "numeric(18,2)", False, False),
        ("rate", "numeric", False, False), ("days", "date[]", False, False),
        ("counts", "integer[]", True, False), ("seq", "bigint", False, False),
        ("data", "jsonb", False, False), ("figure", "integer", True, False)]
    assert table.upserted[1] == ("code", "key")
    assert table.upserted[3] == ("amount", "numeric")  # sent plain, stored as numeric(18,2)
    assert table.written_names == table.names[:-1]  # the figure is the model's SQL's to fill
    assert [name for name, _ in table.upserted] == list(table.written_names)


def test_a_key_filled_in_sql_is_refused() -> None:
    @dataclass(frozen=True)
    class Figures:
        id: UUID = filled_in_sql()
        total: Decimal = filled_in_sql()

    with pytest.raises(TypeError, match="need their key"):
        Table("figures", Figures)


def test_a_type_without_a_column_type_is_refused() -> None:
    @dataclass(frozen=True)
    class Odd:
        id: UUID
        value: complex

    with pytest.raises(TypeError, match="no column type"):
        Table("odd", Odd)
