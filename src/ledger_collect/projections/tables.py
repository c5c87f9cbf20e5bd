"""Read-model tables declared once, as the record a reader hands out.

A table is declared by a frozen dataclass whose fields are its columns, in the table's order,
typed as readers see them: ``UUID`` is ``uuid``, ``str`` ``text``, ``Decimal`` money
(``numeric(18,2)``), ``date``, ``datetime`` (``timestamptz``), ``int`` (``integer``), ``bool``,
``list[X]`` an array of X, ``X | None`` a column that may be null. ``Key`` is text an index
holds, clipped when too long for one (``tolerant.clip_key``); ``BigInt``, ``Number`` (numeric of
any scale) and ``Json`` name the other types. ``Table(name, record)`` reads the columns from the
dataclass; the writer's rows (``rows.Rows``), its upsert and the readers' column lists follow
from it, and a test checks every declaration against ``projections/<name>.sql`` as PostgreSQL
creates it, so that the two cannot drift apart.

A record may carry more than its row: a field declared with ``derived()`` is read (a join, a
computation) but is no column, and properties may present columns in another shape. A column
declared with ``filled_in_sql()`` is the model's SQL's to fill (figures recomputed from its
other tables): the writer's rows neither load nor write it, and a new row takes its default.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin, get_type_hints
from uuid import UUID

import psycopg

from ledger_collect.projections import load

R = TypeVar("R")


@dataclass(frozen=True)
class Stored:
    """How a Python type is stored, where its default mapping does not say it."""

    type: str
    key: bool = False


Key = Annotated[str, Stored("text", key=True)]
BigInt = Annotated[int, Stored("bigint")]
Number = Annotated[Decimal, Stored("numeric")]
Json = Annotated[Any, Stored("jsonb")]

_TYPES: dict[Any, str] = {
    UUID: "uuid", str: "text", Decimal: "numeric(18,2)", date: "date",
    datetime: "timestamp with time zone", int: "integer", bool: "boolean"}
_DERIVED, _FILLED_IN_SQL = "derived", "filled in SQL"


def derived(**options: Any) -> Any:
    """A record's field that is read with its row but is no column of the table."""
    return dataclasses.field(metadata={_DERIVED: True}, **options)


def filled_in_sql(**options: Any) -> Any:
    """A column the model fills with SQL of its own rather than through the page writer."""
    return dataclasses.field(metadata={_FILLED_IN_SQL: True}, **options)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as PostgreSQL writes it (``format_type``): "numeric(18,2)", "uuid[]", ...
    nullable: bool
    key: bool = False  # text an index holds

    @property
    def cast(self) -> str:
        """The type without its modifier (``numeric(18,2)[]`` → ``numeric[]``): what values
        are sent as; the column's own type applies the modifier when they are stored."""
        if "(" not in self.type:
            return self.type
        return self.type[:self.type.index("(")] + self.type[self.type.index(")") + 1:]


def _column(name: str, hint: Any) -> Column:
    nullable = False
    if get_origin(hint) in (Union, types.UnionType):
        kinds = [a for a in get_args(hint) if a is not type(None)]
        nullable, hint = len(kinds) < len(get_args(hint)), kinds[0]
    pgtype, key = _stored(hint)
    return Column(name, pgtype, nullable, key)


def _stored(hint: Any) -> tuple[str, bool]:
    if get_origin(hint) is Annotated:
        marks = [m for m in hint.__metadata__ if isinstance(m, Stored)]
        if marks:
            return marks[0].type, marks[0].key
        hint = get_args(hint)[0]
    if get_origin(hint) is list:
        element, key = _stored(get_args(hint)[0])
        return element + "[]", key
    if hint not in _TYPES:
        raise TypeError(f"no column type for {hint!r}: use a type of tables.py")
    return _TYPES[hint], False


@dataclass(frozen=True, eq=False)
class Table(Generic[R]):
    """One read-model table: its name, columns (from ``record``), primary key and unique
    constraints. ``numbered``: rows are only ever added, the key numbering them in the order
    they were added after the highest so far (``rows.Rows``). Each table is declared once:
    it is equal to itself only (and hashed as fast as an object is)."""

    name: str
    record: type[R]
    key: tuple[str, ...] = ("id",)
    unique: tuple[tuple[str, ...], ...] = ()
    numbered: bool = False
    columns: tuple[Column, ...] = dataclasses.field(init=False)
    names: tuple[str, ...] = dataclasses.field(init=False)
    #: The columns the writer's rows hold, loaded and written back: all but those filled in SQL.
    written: tuple[Column, ...] = dataclasses.field(init=False)
    written_names: tuple[str, ...] = dataclasses.field(init=False)
    #: The written columns as ``projections.upsert`` takes them (a key column: type ``key``).
    upserted: tuple[tuple[str, str], ...] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        hints = get_type_hints(self.record, include_extras=True)
        fields = [f for f in dataclasses.fields(self.record) if not f.metadata.get(_DERIVED)]
        columns = tuple(_column(f.name, hints[f.name]) for f in fields)
        written = tuple(column for column, f in zip(columns, fields, strict=True)
                        if not f.metadata.get(_FILLED_IN_SQL))
        if not set(self.key) <= {column.name for column in written}:
            raise TypeError(f"{self.name}: the writer's rows need their key, not filled in SQL")
        if self.numbered and (len(self.key) != 1 or written[0].name != self.key[0]
                              or any(c.key for c in written)):
            raise TypeError(f"{self.name}: a numbered table's key is its first column, and "
                            "it holds no Key text (its rows are copied in as they are)")
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "names", tuple(column.name for column in columns))
        object.__setattr__(self, "written", written)
        object.__setattr__(self, "written_names", tuple(column.name for column in written))
        object.__setattr__(self, "upserted", tuple(
            (c.name, "key" if c.key else c.cast) for c in written))

    def select(self, prefix: str = "") -> str:
        """The column list of a SELECT (``prefix``: a table alias and its dot)."""
        return ", ".join(prefix + name for name in self.names)

    def make(self, row: Any) -> R:
        """The record of a row read by its column names (an asyncpg record, a dict)."""
        return self.record(**dict(row))

    def load(self, conn: psycopg.Connection[Any], ids: Iterable[Any],
             by: str | None = None) -> dict[Any, dict[str, Any]]:
        """The rows whose ``by`` column (the key unless given) is one of ``ids``, as dicts of
        their written columns by key: one query."""
        return load(conn, self.name, self.written_names, ids, self.key[0], by)
