"""What the read models' writers and readers share (not a read model itself).

Writing: ``PageRows`` holds, for each table of a model (``tables.Table``), the rows a page of
events touches (``Rows``) — loaded in one query, changed in memory event by event, written back
in one upsert (or one COPY for rows only ever added) — so a page costs a handful of statements
whatever its number of events.

Reading: list readers answer keyset pages (``fetch_page``). A page is ordered by one column
and the row id; its cursors carry the sort, the sort value and the id of their row, so ``after``
continues exactly after that row even while rows are added before or after it, and a cursor of
another sort order is refused instead of silently skipping or repeating rows.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any, Generic, TypeVar
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ledger_collect.projections import in_order, upsert
from ledger_collect.projections.tables import Table

T = TypeVar("T")

#: Rows per page when the client does not say; the most a page holds whatever it says.
DEFAULT_PAGE = 50
MAX_PAGE = 100


def names(columns: Sequence[tuple[str, str]]) -> list[str]:
    return [name for name, _ in columns]


class Rows:
    """One table's rows that a page of events touches, by key: loaded with one query (``load``),
    changed in memory event by event, written back with one statement (``write``), and one
    more for the rows removed.

    A row is a dict of the table's written columns (``Table.written``: a column filled in SQL
    is neither loaded nor written), marked changed when taken with ``get`` or given with
    ``add``. A numbered table's rows are only ever added, as their values in column order
    without the number (``append``), and numbered when written.
    """

    def __init__(self, conn: psycopg.Connection[Any], table: Table[Any]) -> None:
        self.conn = conn
        self.table = table
        self.key = table.key[0]
        self.rows: dict[Any, dict[str, Any]] = {}
        self.changed: set[Any] = set()
        #: Rows removed (their last values, by key): deleted when written.
        self.removed: dict[Any, dict[str, Any]] = {}
        self.appended: list[tuple[Any, ...]] = []
        self.append = self.appended.append  # called once an event: the list's own method

    def load(self, ids: Iterable[Any], by: str | None = None) -> None:
        """Read the rows of ``ids`` (of the key, or of column ``by``) not read (nor removed)
        yet."""
        wanted = set(ids) if by else set(ids) - self.rows.keys() - self.removed.keys()
        for key, row in self.table.load(self.conn, wanted, by).items():
            if key not in self.removed:
                self.rows.setdefault(key, row)

    def add(self, row: dict[str, Any]) -> None:
        key = row[self.key]
        self.rows[key] = row
        self.changed.add(key)

    def get(self, key: Any) -> dict[str, Any] | None:
        """The row to change (None when the model never saw it created)."""
        row = self.rows.get(key)
        if row is not None:
            self.changed.add(key)
        return row

    def remove(self, key: Any) -> dict[str, Any] | None:
        """Take the row out of the table (deleted when written; later events of the page find
        no row): the row removed, None when the model never saw it created."""
        row = self.rows.pop(key, None)
        if row is not None:
            self.changed.discard(key)
            self.removed[key] = row
        return row

    def write(self) -> None:
        if self.table.numbered:
            self._copy()
            return
        if self.removed:  # first: a row added again after its removal is written back
            self.conn.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
                sql.Identifier(self.table.name), sql.Identifier(self.key)),
                (in_order(self.removed),))
        rows = [self.rows[key] for key in in_order(self.changed)]
        jsonb = [c.name for c in self.table.written if c.type == "jsonb"]
        if jsonb:
            rows = [{**row, **{n: Jsonb(row[n]) for n in jsonb if row[n] is not None}}
                    for row in rows]
        values = list(map(itemgetter(*self.table.written_names), rows)) if rows else []
        upsert(self.conn, self.table.name, self.table.upserted, values, self.key)

    def _copy(self) -> None:
        """New rows only, numbered after the highest number so far: COPY, the fastest way in."""
        if not self.appended:
            return
        number, table = self.key, self.table.name
        found = self.conn.execute(f"SELECT coalesce(max({number}), 0) FROM {table}").fetchone()
        start = int(found[0]) if found else 0
        columns = ", ".join(self.table.written_names)
        statement = f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
        with self.conn.cursor().copy(statement) as copy:
            copy.set_types([column.cast for column in self.table.written])
            for n, values in enumerate(self.appended, start + 1):
                copy.write_row((n, *values))


class PageRows(dict[Table[Any], Rows]):
    """The rows one page of events touches in each of a model's tables (a ``Rows`` a table,
    by its ``Table``, or by its name in ``named``), written back together, in the order the
    tables were given."""

    def __init__(self, conn: psycopg.Connection[Any], tables: Iterable[Table[Any]]) -> None:
        super().__init__((table, Rows(conn, table)) for table in tables)
        self.named = {table.name: rows for table, rows in self.items()}

    def write(self) -> None:
        for rows in self.values():
            rows.write()

    def fold_records(self, events: Sequence[Any], table_of: dict[type, Table[Any]],
                     created: dict[type, Callable[[Any], dict[str, Any]]],
                     fold: dict[type, Callable[[dict[str, Any], Any], None]]) -> None:
        """Events that each name their record (the originator), whose rows are in the table
        ``table_of`` says: an event in ``created`` makes its record's row, any other changes
        the row (when the model saw the record created). One load per table."""
        for table, rows in self.items():
            rows.load(e.originator_id for e in events
                      if table_of[type(e)] is table and type(e) not in created)
        for e in events:
            rows = self[table_of[type(e)]]
            if type(e) in created:
                rows.add(created[type(e)](e))
            elif (row := rows.get(e.originator_id)) is not None:
                fold[type(e)](row, e)


def touch(row: dict[str, Any], event: Any) -> None:
    """Who changed the record last, when (business date) and at what record time."""
    row["changed_on"] = event.business_date
    row["changed_by"] = event.actor
    row["changed_at"] = event.timestamp


# -- search keys ----------------------------------------------------------------------------
def search_key(text: str | None) -> str:
    """``text`` as searches compare it: case and accents folded (``Société`` → ``societe``),
    in Python on both sides so that the database's locale cannot make them disagree."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return decomposed.translate(_WITHOUT_COMBINING).casefold()


class _CombiningMarks(dict[int, int | None]):
    """``str.translate``'s table dropping combining marks: each character is looked up with
    ``unicodedata`` once per process, then in C (not a loop in Python per name)."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_WITHOUT_COMBINING = _CombiningMarks()


def prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds ``low <= key < high`` (in byte order: ``COLLATE "C"``) of the keys starting with
    ``prefix``: a range an index serves even in a prepared statement's generic plan."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates cannot be stored: skip them
        last = 0xE000
    if last > 0x10FFFF:
        return prefix, prefix + "\U0010ffff"
    return prefix, prefix[:-1] + chr(last)


# -- keyset pages -----------------------------------------------------------------------------
class ListArgumentError(ValueError):
    """A list was asked for something it cannot answer (the client's mistake, not a bug)."""


class CursorError(ListArgumentError):
    """A cursor that this list did not hand out (or handed out for another sort order)."""


@dataclass(frozen=True)
class Order:
    """A sort order of a list: ``column`` then the row id, both ascending or both descending."""

    name: str  # what the cursor records, e.g. "due_date"
    column: str
    kind: type  # date, datetime, Decimal or str: how the cursor's value is read back
    descending: bool = False

    @property
    def key(self) -> str:
        return f"{self.name}:{'desc' if self.descending else 'asc'}"

    def cursor(self, value: Any, row_id: UUID) -> str:
        raw = json.dumps([self.key, str(value), str(row_id)], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def read(self, cursor: str) -> tuple[Any, UUID]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            key, value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if key != self.key:
                raise CursorError(
                    f"this cursor belongs to a list sorted by {key.replace(':', ' ')}, not by "
                    f"{self.key.replace(':', ' ')}; ask again from the first page")
            parsed = (datetime.fromisoformat(value) if self.kind is datetime else
                      date.fromisoformat(value) if self.kind is date else
                      Decimal(value) if self.kind is Decimal else str(value))
            if isinstance(parsed, datetime) and parsed.tzinfo is None:
                raise ValueError("a cursor's time has its offset")
            return parsed, UUID(row_id)
        except CursorError:
            raise
        except (ValueError, TypeError, binascii.Error, InvalidOperation, UnicodeError) as exc:
            raise CursorError(f"{cursor!r} is not a cursor of this list") from exc


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None

    @property
    def start_cursor(self) -> str | None:
        return self.cursors[0] if self.cursors else None


def page_size(first: int | None) -> int:
    """What a page holds: ``first`` capped at ``MAX_PAGE``; none or less than 1 is refused."""
    if first is None:
        return DEFAULT_PAGE
    if first < 1:
        raise ListArgumentError(f"ask for at least one row per page (first: {first})")
    return min(first, MAX_PAGE)


@dataclass
class Where:
    """AND-ed conditions with numbered parameters: ``where.add("status = ANY({})", values)``."""

    conditions: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, condition: str, *values: Any) -> Where:
        numbers = []
        for value in values:
            self.params.append(value)
            numbers.append(f"${len(self.params)}")
        self.conditions.append(condition.format(*numbers))
        return self

    def when(self, value: Any, condition: str) -> Where:
        """Add the condition (with ``value`` as its one parameter) unless ``value`` is None."""
        return self if value is None else self.add(condition, value)

    def sql(self) -> str:
        return " AND ".join(self.conditions) if self.conditions else "true"


async def fetch_page(pool: Any, table: Table[T], where: Where, order: Order,
                     first: int | None, after: str | None,
                     make: Callable[[Any], T] | None = None) -> Page[T]:
    """One page of ``table``'s rows matching ``where``, in ``order``, after the row of cursor
    ``after``, as its records (or ``make``'s): one query (one row more than the page tells
    whether another page follows)."""
    size = page_size(first)
    conditions = Where(list(where.conditions), list(where.params))
    direction, compare = ("DESC", "<") if order.descending else ("ASC", ">")
    if after:
        value, row_id = order.read(after)
        conditions.add(f"({order.column}, id) {compare} ({{}}, {{}})", value, row_id)
    conditions.params.append(size + 1)
    rows = await pool.fetch(
        f"SELECT {table.select()} FROM {table.name} WHERE {conditions.sql()}"
        f" ORDER BY {order.column} {direction}, id {direction} LIMIT ${len(conditions.params)}",
        *conditions.params)
    shown = rows[:size]
    return Page(items=list(map(make or table.make, shown)),
                cursors=[order.cursor(row[order.column], row["id"]) for row in shown],
                has_next_page=len(rows) > size, has_previous_page=after is not None)


def orders(**kinds: type) -> dict[str, Order]:
    """The sort orders of a list by name, each on the column of that name."""
    return {name: Order(name, name, kind) for name, kind in kinds.items()}


def grouped(rows: Iterable[Any], keys: Sequence[Any], make: Callable[[Any], T],
            key: str = "customer_id") -> dict[Any, list[T]]:
    """Rows of a batched reader by key, every key asked for present (empty when none), and
    the keys of rows not asked for (a part may read rows the keys point to: head offices)."""
    found: dict[Any, list[T]] = {k: [] for k in keys}
    for row in rows:
        found.setdefault(row[key], []).append(make(row))
    return found


@dataclass(frozen=True)
class Part(Generic[T]):
    """What a batched reader reads: the rows of many keys (``$1``, an array) in a fixed order
    within each key, and how a row becomes a record. Read alone (``fetch``) or with other
    parts in one statement (``fetch_parts``: an overview's dozen lists in one round trip)."""

    query: str  # selects ``columns``, in that order
    columns: tuple[str, ...]
    make: Callable[[Any], T]
    key: str = "customer_id"

    async def fetch(self, pool: Any, keys: Sequence[Any]) -> dict[Any, list[T]]:
        """The records of many keys in one query (every key in the answer): a batched
        reader, ``<things>_by_<key>``."""
        return grouped(await pool.fetch(self.query, list(keys)), keys, self.make, self.key)


def grouped_part(table: Table[T], make: Callable[[Any], T] | None = None, *, order: str,
                 key: str = "customer_id") -> Part[T]:
    """The rows of ``table`` whose ``key`` is one of ``$1``, in ``order`` within each key, as
    its records (or ``make``'s)."""
    return Part(f"SELECT {table.select()} FROM {table.name} WHERE {key} = ANY($1)"
                f" ORDER BY {key}, {order}", table.names, make or table.make, key)


#: Columns of every array type in the read models, null, in front of ``fetch_parts``' arrays:
#: asyncpg decodes the rows inside them (anonymous records) only with codecs it already has,
#: and it makes the codecs of array types when it prepares a statement returning them
#: ("no decoder for composite type element ... of type OID 1182" otherwise, for date[]). In
#: the statement itself, they are there again whenever asyncpg drops its type cache.
_ARRAY_TYPES = ", ".join(f"NULL::{t} AS _{t[:-2]}" for t in (
    "date[]", "numeric[]", "text[]", "uuid[]", "integer[]", "boolean[]"))


async def fetch_parts(pool: Any, parts: dict[str, Part[Any]],
                      keys: Sequence[Any]) -> dict[str, dict[Any, list[Any]]]:
    """Several parts for the same keys in one statement, each an array of rows (decoded by
    asyncpg, in the part's order) in a column named after it (``parts``' keys: identifiers).
    Each part's answer is ``grouped``'s."""
    if not parts:
        return {}
    arrays = ", ".join(f"ARRAY(SELECT x FROM ({part.query}) AS x) AS {name}"
                       for name, part in parts.items())
    found = await pool.fetchrow(f"SELECT {_ARRAY_TYPES}, {arrays}", list(keys))
    return {name: grouped((dict(zip(part.columns, values, strict=True))
                           for values in found[name]), keys, part.make, part.key)
            for name, part in parts.items()}
