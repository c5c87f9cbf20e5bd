"""The API benchmark's portfolio: generated, imported, assigned and projected once, then reused.

Loading 100,000 customers and a million invoices takes minutes, measuring the API a few: so a
loaded schema can be kept (``--keep``) and measured again (``--reuse SCHEMA``). Its personal
data is sealed with a master key that must outlive the run for that; unless LEDGER_MASTER_KEY
is set, the key of a kept schema is written next to the embedded data, in
``<LEDGER_DATA_DIR>/benchmarks/<schema>.key`` (0600), and read back on reuse.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg
from common import fresh_store
from psycopg import sql

from ledger_collect.app import open_database
from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import assign_customers
from ledger_collect.config import Settings
from ledger_collect.domain.customer import Customer
from ledger_collect.feed import DEFAULT_BATCH_SIZE
from ledger_collect.feed.demo import demo_records
from ledger_collect.feed.files import write_feed
from ledger_collect.feed.parallel import run_parallel
from ledger_collect.projections import select
from ledger_collect.projections.engine import rebuild
from ledger_collect.storage.database import Database, redact

SEED = 7
DENSITY = 1.9  # ~10.7 invoices per customer (5.9 at the demo's default density)
ASSIGN_CHUNK = 2000
#: 20 specialists, shared out over the segments by their size; every tenth customer unassigned.
SPECIALISTS = {"KEY-ACCOUNTS": 2, "SME-NORTH": 5, "SME-SOUTH": 5, "SME-EAST": 3,
               "PUBLIC-SECTOR": 1, "RETAIL": 4}


class Ticker:
    """Prints a progress line at most every ``every`` seconds."""

    def __init__(self, label: str, every: float = 30.0) -> None:
        self.label, self.every = label, every
        self.started = self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            share = f" ({done / total:.0%})" if total else ""
            print(f"  {self.label}: {done:,}{share} after {now - self.started:.0f} s", flush=True)


# -- the store ------------------------------------------------------------------------------
def _key_file(settings: Settings, schema: str) -> Path:
    return settings.data_dir / "benchmarks" / f"{schema}.key"


@contextmanager
def bench_store(*, keep: bool, reuse: str | None,
                rebuilding: bool = False) -> Iterator[Database]:
    """A fresh schema (dropped at the end unless ``keep``), or the kept schema ``reuse`` (whose
    read models must exist unless they are about to be rebuilt)."""
    base = Settings.from_env()
    if reuse is None:
        with fresh_store("bench_api", keep=keep) as database:
            if keep and not base.master_key:
                path = _key_file(base, database.schema)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch(mode=0o600)
                path.write_text(str(database.settings.master_key))
                print(f"kept schema {database.schema}: its master key is in {path}")
            yield database
        return
    key = base.master_key
    if not key:
        path = _key_file(base, reuse)
        if not path.exists():
            raise SystemExit(f"no master key for schema {reuse}: {path} is missing (set "
                             f"LEDGER_MASTER_KEY if the schema was loaded with one)")
        key = path.read_text().strip()
    with open_database(base.with_changes(schema=reuse, master_key=key),
                       migrate=False) as database:
        with database.connect() as conn:
            events, models = conn.execute(
                "SELECT to_regclass('collections_events'), to_regclass('customers')").fetchone()
            loaded = events is not None and conn.execute(
                "SELECT EXISTS (SELECT 1 FROM collections_events)").fetchone()[0]
        if not loaded:
            raise SystemExit(f"schema {reuse} holds no loaded portfolio (no events)")
        if models is None and not rebuilding:  # the load stopped before its rebuild
            raise SystemExit(f"schema {reuse} has no read models: add --rebuild")
        print(f"store: {redact(database.url)}, reusing schema {reuse}")
        yield database


# -- loading --------------------------------------------------------------------------------
@dataclass
class Loaded:
    records: int = 0
    customers: int = 0
    invoices: int = 0
    events: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    rebuilt: list[tuple[str, int, float]] = field(default_factory=list)  # model, events, s


def load(app: Collections, customers: int, as_of: date, jobs: int) -> Loaded:
    """Generate the feed, import it with ``jobs`` processes, assign the specialists and
    rebuild every read model (timed: the rebuild figures)."""
    loaded = Loaded()
    segments: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="ledger-api-bench-") as folder:
        path = Path(folder) / "portfolio.jsonl"
        started = time.perf_counter()
        print(f"generating {customers:,} customers (invoice density {DENSITY}) ...", flush=True)

        def noting(records: Iterator[dict[str, object]]) -> Iterator[dict[str, object]]:
            for record in records:
                if record["kind"] == "customer":
                    segments[str(record["number"])] = str(record["segment"])
                elif record["kind"] == "invoice":
                    loaded.invoices += 1
                yield record

        with path.open("w", encoding="utf-8") as out:
            loaded.records = write_feed(
                noting(demo_records(customers, SEED, as_of, invoice_density=DENSITY)),
                out, "jsonl")
        loaded.customers = len(segments)
        loaded.seconds["generate"] = time.perf_counter() - started
        print(f"feed: {loaded.records:,} records, {loaded.customers:,} customers, "
              f"{loaded.invoices:,} invoices ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{loaded.seconds['generate']:.0f} s", flush=True)
        loaded.seconds["import"] = import_feed(app.database, path, jobs, as_of)
    loaded.seconds["assign"] = assign(app, segments, as_of)
    loaded.events = head(app.database)
    rebuild_all(app, loaded)
    started = time.perf_counter()
    with app.database.connect() as conn:  # what autovacuum does after a bulk load, now
        for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                                     (app.database.schema,)).fetchall():
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(app.database.schema, table)))
    loaded.seconds["analyze"] = time.perf_counter() - started
    return loaded


def import_feed(database: Database, path: Path, jobs: int, as_of: date) -> float:
    ticker, done, total = Ticker("imported records"), [0], [0]

    def sized(records: int) -> None:
        total[0] = records

    def progress(records: int) -> None:
        done[0] += records
        ticker(done[0], total[0])

    print(f"importing with {jobs} processes ...", flush=True)
    started = time.perf_counter()
    result = run_parallel(database.settings, database.url, path, jobs,
                          batch_size=DEFAULT_BATCH_SIZE, today=as_of, progress=progress,
                          on_partitioned=sized)
    seconds = time.perf_counter() - started
    if result.rejected:
        raise SystemExit(f"the import rejected {len(result.rejected)} records, e.g. "
                         f"line {result.rejected[0].line}: {result.rejected[0].reason}")
    print(f"import: {result.events:,} events in {seconds:.0f} s "
          f"({result.events / seconds:,.0f} events/s)", flush=True)
    return seconds


def assign(app: Collections, segments: dict[str, str], as_of: date) -> float:
    """Share each segment's customers out to its specialists in turn (``spec-<segment>-<k>``),
    every tenth customer left unassigned; one transaction per ``ASSIGN_CHUNK`` customers."""
    started, ticker = time.perf_counter(), Ticker("assigned customers")
    seen: dict[str, int] = {}
    plan: list[tuple[str, str]] = []
    for number, segment in segments.items():
        n = seen[segment] = seen.get(segment, -1) + 1
        if n % 10 != 9:
            plan.append((number, specialist_name(segment, n % SPECIALISTS[segment])))
    for start in range(0, len(plan), ASSIGN_CHUNK):
        chunk = [(Customer.create_id(number), who) for number, who in
                 plan[start:start + ASSIGN_CHUNK]]
        app.run(assign_customers, dict(chunk), actor="bench", business_date=as_of)
        ticker(start + len(chunk), len(plan))
    seconds = time.perf_counter() - started
    print(f"assigned {len(plan):,} customers to {sum(SPECIALISTS.values())} specialists in "
          f"{seconds:.0f} s", flush=True)
    return seconds


def specialist_name(segment: str, k: int) -> str:
    return f"spec-{segment.lower()}-{k + 1}"


def rebuild_all(app: Collections, loaded: Loaded, names: str | None = None) -> None:
    """``ledger-collect projections rebuild``: every model (or ``names``, comma-separated)
    from zero, one after the other."""
    for model in select(names.split(",") if names else None):
        ticker, done = Ticker(f"rebuilding {model.name}"), [0]

        def progress(count: int, total: int, ticker: Callable[[int, int], None] = ticker,
                     done: list[int] = done) -> None:
            done[0] = count
            ticker(count, total)

        started, cpu = time.perf_counter(), time.process_time()
        rebuild(app, model.name, progress=progress)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        loaded.rebuilt.append((model.name, done[0], seconds))
        # the process's own CPU: what other load on the machine skews less than the time
        print(f"rebuilt {model.name}: {done[0]:,} events in {seconds:.1f} s = "
              f"{done[0] / seconds:,.0f} events/s ({cpu:.1f} s of this process's CPU)",
              flush=True)
    events, seconds = (sum(r[i] for r in loaded.rebuilt) for i in (1, 2))
    print(f"rebuilt every model in {seconds:.0f} s: {events:,} events handled, "
          f"{events / seconds:,.0f} events/s (the log's {loaded.events:,} events: "
          f"{loaded.events / seconds:,.0f} events/s)", flush=True)


def head(database: Database) -> int:
    with psycopg.connect(database.url, autocommit=True) as conn:
        row = conn.execute(sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(
            sql.Identifier(database.schema, "collections_events"))).fetchone()
    return int(row[0]) if row else 0
