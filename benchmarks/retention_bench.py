"""Retention at scale: archive and purge half of a 2,000,000-event store, verify, erase one.

What it does, in order:

1. Builds its own store (``retention_load``): a generated portfolio of about ``--events``
   events imported as ``ledger-collect import FILE --jobs 2`` does it, every read model
   rebuilt. The archive date (``--today``, else chosen) is the first day on which the streams
   the archive policies select hold half of the store's events.
2. Starts ``ledger-collect projector`` as a process of its own, and a writer process that runs
   commands the whole time (a conversation, a promise on an open invoice, in turn), timing
   each, while a thread of it takes the event table's lock as the library's writers do and
   times how long it waited: purging must never make a writer wait over 200 ms.
3. The archive run of that day, as ``ledger-collect archive run --date D`` does it: the due
   streams written to segments, verified, purged from the hot store and the read models.
   Printed: events archived and purged per second, the writer's longest command and wait.
4. ``archive verify`` of every segment: MB/s (of the stored, compressed segments).
5. One customer's erasure end to end (the customer given a conversation and a note first):
   ``erase_customer`` timed (target < 100 ms), then the time until every read model has
   handled it (target < 1 s); the read models are then searched for the customer's former
   personal values, which must have been found before and must be gone.

Every archive of the run goes to a temporary folder under a fresh archive key. Exit code 1
when the run is wrong (events neither hot nor archived, verification problems, personal
values left, a writer's command failing), not when a figure misses its target.

    python benchmarks/retention_bench.py [--events 2000000] [--today 2029-06-30] [--keep]
                                         [--reuse SCHEMA] [--max-hold 0.15]
"""

from __future__ import annotations

import base64
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import retention_parts as parts
from api_load import Ticker
from common import arguments, fresh_store, percentile
from psycopg import sql
from retention_load import AS_OF, Eligible, Portfolio, analyze, eligible, load, noted
from retention_writer import WriterReport, writer

from ledger_collect.app import open_database
from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import record_contact
from ledger_collect.commands.receivable_commands import add_customer_note
from ledger_collect.config import Settings
from ledger_collect.projections import select
from ledger_collect.storage.database import Database, redact

MB = 1_000_000
TARGETS = {"archive_rate": 20_000, "wait": 0.200, "erase": 0.100, "forget": 1.0}
NOTE = "Bench note: call Ms Rossignol-Verhaegen on her private line 0612 345 678"


@dataclass
class Figures:
    archived: int = 0
    purged: int = 0
    archive_seconds: float = 0.0
    models_seconds: float = 0.0  # from the run's end until every read model handled it
    verify_bytes: int = 0
    verify_seconds: float = 0.0
    erase_seconds: float = 0.0
    forget_seconds: float = 0.0
    writer: WriterReport | None = None
    wrong: list[str] = field(default_factory=list)


def load_average() -> str:
    """The machine's 1-minute load: other work on the 2 cores skews every figure."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def hot_events(database: Database) -> int:
    with database.connect() as conn:
        return int(conn.execute("SELECT count(*) FROM collections_events").fetchone()[0])


# -- the projector beside the run -----------------------------------------------------------------
class Projector:
    """``ledger-collect projector`` on the bench's schema, as production runs it."""

    def __init__(self, database: Database, logs: Path) -> None:
        settings = database.settings
        env = {**os.environ, "LEDGER_DATABASE_URL": database.url,
               "LEDGER_SCHEMA": settings.schema, "LEDGER_MASTER_KEY": str(settings.master_key),
               "LEDGER_DATA_DIR": str(settings.data_dir), "LEDGER_DEVELOPMENT": ""}
        self.log = logs / "projector.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ledger_collect.cli", "projector"], env=env,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT)

    def check(self) -> None:
        if self.process.poll() is not None:
            raise SystemExit(f"`ledger-collect projector` exited ({self.process.returncode}):\n"
                             f"{self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_for_models(database: Database, notification_id: int, projector: Projector,
                    timeout: float) -> float:
    """Seconds until every read model's position reached ``notification_id``."""
    names = [model.name for model in select(None)]
    started = time.perf_counter()
    with database.connect() as conn:
        while True:
            behind = conn.execute(
                "SELECT count(*) FROM unnest(%s::text[]) AS m(name) LEFT JOIN"
                " projection_positions p USING (name) WHERE coalesce(p.position, 0) < %s",
                (names, notification_id)).fetchone()[0]
            conn.commit()
            if not behind:
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                raise SystemExit(f"{behind} read models not at {notification_id} after "
                                 f"{timeout:.0f} s")
            projector.check()
            time.sleep(0.005)


def last_notification(database: Database) -> int:
    with database.connect() as conn:
        return int(conn.execute(
            "SELECT coalesce(max(notification_id), 0) FROM collections_events").fetchone()[0])


# -- the phases ------------------------------------------------------------------------------------
def archive_phase(app: Collections, plan: Eligible, projector: Projector,
                  figures: Figures, max_hold: float | None) -> None:
    before = hot_events(app.database)
    ticker = Ticker("archived streams", every=10.0)
    started = time.perf_counter()
    counts = parts.archive_run(app, plan.today, ticker, max_hold)
    figures.archive_seconds = time.perf_counter() - started
    figures.models_seconds = wait_for_models(
        app.database, last_notification(app.database), projector, 600)
    after, left = hot_events(app.database), parts.archived_but_hot(app)
    held = parts.archived_events(app)  # earlier (interrupted) runs' segments included
    figures.archived, figures.purged = counts["events"], counts["purged_events"]
    rate = figures.purged / figures.archive_seconds if figures.archive_seconds else 0.0
    print(f"archive run of {plan.today}: {figures.archived:,} events archived (the archive "
          f"holds {held:,}), {figures.purged:,} purged from the hot store ({before:,} before, "
          f"{after:,} after, the writer's included; {left} archived events still hot) in "
          f"{figures.archive_seconds:.1f} s = {rate:,.0f} events/s archived and purged "
          f"(target >= {TARGETS['archive_rate']:,}); the read models past it "
          f"{figures.models_seconds:.1f} s later ({load_average()})", flush=True)
    print(f"  the run's counts: {', '.join(f'{k} {v:,}' for k, v in counts.items())}")
    if held < plan.events:
        figures.wrong.append(f"{plan.events:,} events were due, the archive holds {held:,}")
    if figures.purged < plan.events or left:
        figures.wrong.append(f"{plan.events:,} events were due, {figures.purged:,} purged, "
                             f"{left:,} archived but still hot")


def verify_phase(app: Collections, figures: Figures) -> None:
    ticker = Ticker("verified segments", every=10.0)
    started = time.perf_counter()
    problems, figures.verify_bytes = parts.verify(app, ticker)
    figures.verify_seconds = time.perf_counter() - started
    rate = figures.verify_bytes / MB / figures.verify_seconds if figures.verify_seconds else 0.0
    print(f"archive verify: {figures.verify_bytes / MB:,.1f} MB of segments in "
          f"{figures.verify_seconds:.2f} s = {rate:,.1f} MB/s; {len(problems)} problems "
          f"({load_average()})", flush=True)
    figures.wrong += [f"archive verify: {problem}" for problem in problems[:5]]


def pick_subject(app: Collections, portfolio: Portfolio, avoid: set[UUID]) -> UUID:
    """The customer with the most contact persons, among those the writer leaves alone."""
    candidates = sorted((c for c in portfolio.personal if c not in avoid),
                        key=lambda c: (-len(portfolio.personal[c]), str(c)))
    return candidates[0]


def personal_hits(database: Database, subject: UUID, values: list[str],
                  names: list[str]) -> dict[str, int]:
    """Rows of every read model table that hold one of the customer's ``values`` (emails,
    phones, notes: the customer's own), or one of its contacts' ``names`` (which other
    customers' contacts may share) in a row that names the customer."""
    unique = [f"%{value}%" for value in values]
    shared = [f"%{name}%" for name in names]
    hits: dict[str, int] = {}
    with database.connect() as conn:
        for model in select(None):
            for table in model.tables:
                found = conn.execute(sql.SQL(
                    "SELECT count(*) FROM {} AS t WHERE t::text LIKE ANY(%s)"
                    " OR (t::text LIKE %s AND t::text LIKE ANY(%s))").format(
                        sql.Identifier(table)),
                    (unique, f"%{subject}%", shared)).fetchone()[0]
                if found:
                    hits[table] = found
    return hits


def erasure_phase(app: Collections, portfolio: Portfolio, subject: UUID,
                  projector: Projector, figures: Figures) -> None:
    today = date.today()
    app.run(record_contact, subject, channel="phone", result="reached",
            contact_person_id=portfolio.contact_ids[subject], summary=NOTE, notes=NOTE,
            actor="bench", business_date=today)
    app.run(add_customer_note, subject, "bench-note", NOTE, actor="bench", business_date=today)
    wait_for_models(app.database, last_notification(app.database), projector, 120)
    contacts = portfolio.personal[subject]
    names, values = contacts[0::3], [*contacts[1::3], *contacts[2::3], NOTE]
    before = personal_hits(app.database, subject, values, names)
    print(f"erasure subject {subject}: {len(names)} contact persons, before erasure in "
          f"{sum(before.values())} rows of {len(before)} read model tables "
          f"({', '.join(sorted(before))})", flush=True)
    if not before:
        figures.wrong.append("the personal values were in no read model before erasure: "
                             "the search is blind")
    started = time.perf_counter()
    parts.erase(app, subject)
    figures.erase_seconds = time.perf_counter() - started
    figures.forget_seconds = wait_for_models(
        app.database, last_notification(app.database), projector, 60)
    after = personal_hits(app.database, subject, values, names)
    print(f"erasure: erase_customer {figures.erase_seconds * 1000:.1f} ms (target < "
          f"{TARGETS['erase'] * 1000:.0f} ms), every read model past it "
          f"{figures.forget_seconds * 1000:.0f} ms later (target < {TARGETS['forget']:.0f} s); "
          f"personal values left in read models: {sum(after.values())} ({load_average()})",
          flush=True)
    if after:
        figures.wrong.append(f"personal values still in {after}")


# -- the run ---------------------------------------------------------------------------------------
def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000,
                        help="about how many events the generated store holds")
    parser.add_argument("--today", type=date.fromisoformat,
                        help="the archive run's date (default: the day half the store is due)")
    parser.add_argument("--jobs", type=int, default=2, help="importing processes")
    parser.add_argument("--pause", type=float, default=0.01,
                        help="seconds the writer rests between two commands")
    parser.add_argument("--max-hold", type=float,
                        help="the purge's longest hold of the writers' lock, seconds "
                             "(default: the program's)")
    parser.add_argument("--reuse", metavar="SCHEMA",
                        help="measure a loaded store kept by an earlier run (its master key "
                             "in LEDGER_MASTER_KEY, its archive in LEDGER_ARCHIVE_URL and "
                             "LEDGER_ARCHIVE_KEY): no generation, import or rebuild")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ledger-retention-bench-") as folder:
        if args.reuse:
            with reused_store(args.reuse) as database:
                figures = run(database, args, Path(folder))
        else:
            os.environ["LEDGER_ARCHIVE_URL"] = (Path(folder) / "archive").as_uri()
            os.environ["LEDGER_ARCHIVE_KEY"] = base64.b64encode(os.urandom(32)).decode()
            with fresh_store("bench_retention", keep=args.keep) as database:
                figures = run(database, args, Path(folder))
    summary(figures)
    if figures.wrong:
        print("WRONG:\n  " + "\n  ".join(figures.wrong))
        sys.exit(1)


@contextmanager
def reused_store(schema: str) -> Iterator[Database]:
    settings = Settings.from_env()
    if not (settings.master_key and settings.archive_url and settings.archive_key):
        raise SystemExit("--reuse needs LEDGER_MASTER_KEY, LEDGER_ARCHIVE_URL and "
                         "LEDGER_ARCHIVE_KEY: those of the run that loaded the store")
    with open_database(settings.with_changes(schema=schema), migrate=True) as database:
        print(f"store: {redact(database.url)}, reusing schema {schema}", flush=True)
        yield database


def run(database: Database, args: Any, logs: Path) -> Figures:
    figures = Figures()
    app = Collections(database)
    try:
        if args.reuse:
            portfolio = noted(database)
            analyze(database)
        else:
            portfolio = load(app, args.events, args.jobs)
        plan = eligible(app, args.today)
        print(f"store: {plan.total:,} events; due for archive on {plan.today} "
              f"(feed up to {AS_OF}): {plan.streams:,} streams, {plan.events:,} events "
              f"({plan.events / plan.total:.0%}); {load_average()}", flush=True)
        projector = Projector(database, logs)
        try:
            wait_for_models(database, last_notification(database), projector, 3600)
            stop = multiprocessing.get_context("spawn").Event()
            report = writer_during(database, stop, args.pause,
                                   lambda: archive_phase(app, plan, projector, figures,
                                                                args.max_hold))
            figures.wrong += report.failures[:5]
            print_writer(report)
            figures.writer = report
            verify_phase(app, figures)
            erasure_phase(app, portfolio, pick_subject(app, portfolio, report.customers),
                          projector, figures)
        finally:
            projector.stop()
    finally:
        app.close()
    return figures


def writer_during(database: Database, stop: Any, pause: float, phase: Any) -> WriterReport:
    """Run ``phase`` while the writer process runs commands; the writer's report."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    ready = context.Event()
    process = context.Process(target=writer, args=(database.settings.with_changes(
        database_url=database.url), stop, ready, send, pause), name="bench-writer")
    process.start()
    try:
        if not ready.wait(120):
            raise SystemExit("the writer process did not start")
        time.sleep(1.0)  # a second of commands before the run, for comparison
        phase()
        time.sleep(1.0)
    finally:
        stop.set()
        report: WriterReport = receive.recv() if receive.poll(60) else WriterReport(
            failures=["the writer process sent no report"])
        process.join(30)
    return report


def print_writer(report: WriterReport) -> None:
    commands, waits = sorted(report.commands), sorted(report.waits)
    if not commands:
        print("writer: no command ran")
        return
    print(f"writer: {len(commands):,} commands during the run, {report.refused} refused, "
          f"{len(report.failures)} failed; command time p50 "
          f"{percentile(commands, 0.5) * 1000:.1f} ms, p99 "
          f"{percentile(commands, 0.99) * 1000:.1f} ms, longest {commands[-1] * 1000:.1f} ms",
          flush=True)
    if waits:
        print(f"writer: the event table's lock taken {len(waits):,} times, wait p50 "
              f"{percentile(waits, 0.5) * 1000:.2f} ms, p99 "
              f"{percentile(waits, 0.99) * 1000:.1f} ms, longest {waits[-1] * 1000:.1f} ms "
              f"(target <= {TARGETS['wait'] * 1000:.0f} ms)", flush=True)


def summary(figures: Figures) -> None:
    report = figures.writer
    rate = figures.purged / figures.archive_seconds if figures.archive_seconds else 0.0
    verify = (figures.verify_bytes / MB / figures.verify_seconds
              if figures.verify_seconds else 0.0)
    longest_wait = max(report.waits, default=0.0) if report else 0.0
    longest_command = max(report.commands, default=0.0) if report else 0.0
    rows = [
        ("archive + purge", f"{rate:,.0f} events/s", rate >= TARGETS["archive_rate"]),
        ("longest wait for the event table's lock", f"{longest_wait * 1000:.1f} ms",
         longest_wait <= TARGETS["wait"]),
        ("longest concurrent command", f"{longest_command * 1000:.1f} ms",
         longest_command <= TARGETS["wait"]),
        ("archive verify", f"{verify:,.1f} MB/s", None),
        ("erase_customer", f"{figures.erase_seconds * 1000:.1f} ms",
         figures.erase_seconds < TARGETS["erase"]),
        ("read models forgotten", f"{figures.forget_seconds * 1000:.0f} ms",
         figures.forget_seconds < TARGETS["forget"]),
    ]
    print("summary:")
    for label, value, met in rows:
        verdict = "" if met is None else ("  met" if met else "  MISSED")
        print(f"  {label}: {value}{verdict}")


if __name__ == "__main__":
    main()
