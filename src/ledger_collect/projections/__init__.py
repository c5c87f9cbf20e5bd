"""Read models: tables rebuilt from the event log, one module pair per model.

A read model is ``projections/<name>.sql`` (its tables, indexes and views: everything that can be
thrown away and rebuilt from events) and ``ledger_collect/projections/<name>.py`` (same stem: a
``Projection`` subclass that turns a page of events into rows, and the async readers the API
uses), or the package ``ledger_collect/projections/<name>/`` when one module would not hold it
(the worklist). ``engine`` keeps each model in step with the log — catch-up, live following,
rebuild, status, read-your-writes — whatever the model; a model only says what it handles and
how.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Iterable, Sequence
from functools import cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

import psycopg
from eventsourcing.utils import get_topic
from psycopg import sql
from psycopg.rows import dict_row

from ledger_collect.projections import forgetting
from ledger_collect.projections.tolerant import clip_keys
from ledger_collect.storage.resources import sql_folder

if TYPE_CHECKING:
    from ledger_collect.projections.tables import Table

_UUID_INT = attrgetter("int")

#: Modules holding one Projection subclass each; a new read model adds its stem here.
MODULES: tuple[str, ...] = (
    "open_items", "timeline", "customers", "casework", "disputes", "correspondence",
    "worklist", "teams", "dunning", "agency", "job_runs", "retention_streams")


class Projection:
    """What a read model declares; the engine does the rest.

    ``apply`` receives one page of decoded domain events, in log order, inside the transaction
    that will also move the model's position: it must not commit, and it should cost a handful
    of statements per page, not one per event (load the touched rows with ``= ANY``, fold the
    events in memory, write back with one upsert). Table names stay unqualified: the engine
    points ``search_path`` at the live schema, or at a scratch schema during a rebuild.
    """

    #: The file stem: ``projections/<name>.sql`` and this module's name.
    name: ClassVar[str]
    #: Tables the model owns (dropped and replaced when it is rebuilt): those of ``declared``
    #: and ``caches`` unless the model names them itself.
    tables: ClassVar[tuple[str, ...]]
    #: The model's tables declared in Python (``tables.Table``: columns, types, keys), from
    #: which its writer and readers work; a test checks them against the model's SQL.
    declared: ClassVar[tuple[Table[Any], ...]] = ()
    #: Tables that keep what readers would otherwise compute again, written by the model's SQL
    #: alone (not declared): not part of what a rebuild must equal.
    caches: ClassVar[tuple[str, ...]] = ()
    #: Event classes the model reads; the log is filtered on their pinned topics.
    handles: ClassVar[tuple[type, ...]]
    #: Tables whose rows each belong to one stream, with the column holding its id: rows of a
    #: stream purged from the store are dropped when the model meets the purge (``purged``).
    stream_rows: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: Where the model's tables hold customers' personal data (``forgetting.Personal``): the
    #: engine blanks it when a customer's erasure completes.
    personal: ClassVar[tuple[Any, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "declared" in vars(cls):
            cls.tables = (*(table.name for table in cls.declared), *cls.caches)

    @classmethod
    def topics(cls) -> tuple[str, ...]:
        return (*(get_topic(event_class) for event_class in cls.handles),
                *forgetting.topics(cls), *((purged_topic(),) if cls.stream_rows else ()))

    @classmethod
    def sql(cls) -> str:
        return _definition(cls.name)[0]

    @classmethod
    def checksum(cls) -> str:
        """Of the definition the tables are built from: a change calls for a rebuild."""
        return _definition(cls.name)[1]

    #: True while the engine builds the model from zero in a scratch schema: per-page work
    #: that only readers need may wait for ``built``, which runs once, after the last page.
    building: bool = False

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        raise NotImplementedError

    def built(self, conn: psycopg.Connection[Any]) -> None:
        """A build has applied every page (the tail and the swap come next, page by page)."""

    def purge(self, conn: psycopg.Connection[Any], event: Any) -> None:
        """Streams left the store (``ComplianceRun.StreamsPurged``): their rows are dropped.
        A model whose figures are folded over many streams overrides this to keep them as a
        rebuild, which never sees the purged events, has them (``purged``)."""
        from ledger_collect.projections.purged import drop_streams

        drop_streams(conn, self.stream_rows, event.stream_ids)

    #: NOTIFY channels on which a notification whose payload is the schema calls for the
    #: model's upkeep at once rather than at the follower's next round.
    upkeep_channels: ClassVar[tuple[str, ...]] = ()

    def upkeep(self, conn: psycopg.Connection[Any]) -> None:
        """Work on the live model that no event asks for, done by the follower now and then
        (``follower.UPKEEP_SECONDS``) and when asked on ``upkeep_channels``, in a transaction
        of its own, holding the model's lock: e.g. the worklist's ranking of a new business
        day. Nothing by default."""


@cache
def _definition(name: str) -> tuple[str, str]:
    """A model's SQL and its checksum, read once per process (checked on every page)."""
    text = (sql_folder("projections") / f"{name}.sql").read_text()
    return text, hashlib.sha256(text.encode()).hexdigest()


def purged_topic() -> str:
    from ledger_collect.projections.purged import TOPIC

    return TOPIC


class UnknownProjectionError(LookupError):
    def __str__(self) -> str:  # LookupError would show the message quoted
        return str(self.args[0])


@cache
def registry() -> dict[str, type[Projection]]:
    """Every read model by name, in the order of ``MODULES``."""
    found: dict[str, type[Projection]] = {}
    for module_name in MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        classes = [
            value for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, Projection)
            and value is not Projection and _defined_in(value, module.__name__)
        ]
        if len(classes) != 1 or classes[0].name != module_name:
            raise RuntimeError(
                f"projections/{module_name}.py (or package {module_name}/) must define "
                f"exactly one Projection named {module_name!r}")
        found[module_name] = classes[0]
    return found


def _defined_in(cls: type, module_name: str) -> bool:
    """The class is the module's own, or, for a model kept as a package, its package's."""
    return cls.__module__ == module_name or cls.__module__.startswith(f"{module_name}.")


def select(names: Sequence[str] | str | None = None) -> list[type[Projection]]:
    """The named read models (all of them when no name is given); an unknown name is refused
    with the list of known ones."""
    known = registry()
    if names is None:
        return list(known.values())
    if isinstance(names, str):
        names = [names]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UnknownProjectionError(
            f"there is no read model called {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names]


# -- writing a page back --------------------------------------------------------------------
def upsert(conn: psycopg.Connection[Any], table: str, columns: Sequence[tuple[str, str]],
           rows: Sequence[Sequence[Any]], key: str = "id") -> None:
    """Insert or update many rows in one statement: ``INSERT … SELECT FROM unnest(…) ON
    CONFLICT (key) DO UPDATE``. ``columns`` are (name, PostgreSQL type) in row order; an array
    column (``uuid[]``, ``numeric[]``) takes lists of uuids or numbers; a ``key`` column is
    text that an index holds, clipped when too long for one (``tolerant.clip_keys``)."""
    if not rows:
        return
    values = list(zip(*rows, strict=True))
    for i, (_, pgtype) in enumerate(columns):
        if pgtype == "key":
            values[i] = clip_keys(values[i])
    columns = [(name, "text" if pgtype == "key" else pgtype) for name, pgtype in columns]
    params: list[list[Any]] = []
    unnests: list[sql.Composable] = []
    selects: list[sql.Composable] = []
    for i, (name, pgtype) in enumerate(columns):
        alias = sql.Identifier(f"c{i}")
        if pgtype.endswith("[]"):  # unnest flattens 2-D arrays: pass each array as its literal
            params.append([None if v is None else "{" + ",".join(map(str, v)) + "}"
                           for v in values[i]])
            unnests.append(sql.SQL("%b::text[]"))
            selects.append(sql.SQL("{}::{}").format(alias, sql.SQL(pgtype)))
        else:
            params.append(list(values[i]))
            unnests.append(sql.SQL("%b::{}[]").format(sql.SQL(pgtype)))
            selects.append(alias)
    names = [name for name, _ in columns]
    query = sql.SQL(
        "INSERT INTO {table} ({names}) SELECT {selects} FROM unnest({unnests}) AS u({aliases})"
        " ON CONFLICT ({key}) DO UPDATE SET {updates}").format(
        table=sql.Identifier(table),
        names=sql.SQL(", ").join(map(sql.Identifier, names)),
        selects=sql.SQL(", ").join(selects),
        unnests=sql.SQL(", ").join(unnests),
        aliases=sql.SQL(", ").join(sql.Identifier(f"c{i}") for i in range(len(columns))),
        key=sql.Identifier(key),
        updates=sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name))
            for name in names if name != key))
    conn.execute(query, params)


def in_order(ids: Iterable[UUID]) -> list[UUID]:
    """Ids in the fixed order rows are written in: by their integer, which is how UUIDs compare
    (``sorted`` on UUIDs would make a Python call per comparison)."""
    return sorted(ids, key=_UUID_INT)


def load(conn: psycopg.Connection[Any], table: str, columns: Sequence[str], ids: Iterable[Any],
         key: str = "id", by: str | None = None) -> dict[Any, dict[str, Any]]:
    """The rows of ``table`` whose ``by`` column (``key`` unless given) is one of ``ids``, as
    dicts by ``key``: one query."""
    wanted = list(ids)
    if not wanted:
        return {}
    query = sql.SQL("SELECT {} FROM {} WHERE {} = ANY(%s)").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table),
        sql.Identifier(by or key))
    with conn.cursor(row_factory=dict_row) as cursor:
        return {row[key]: row for row in cursor.execute(query, (wanted,))}
