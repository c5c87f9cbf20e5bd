"""ERP import throughput: a generated portfolio imported into a fresh schema, in events/s.

1. ``demo_records`` writes a portfolio of ``--customers`` customers (default 20,000: about
   300,000 ERP records) to a JSON Lines file, as ``ledger-collect demo-data`` does.
2. The file is imported into a fresh schema exactly as ``ledger-collect import FILE`` does it
   (``open_feed`` + ``Importer``, 500 records per transaction), by one process; then, into
   another fresh schema, as ``ledger-collect import FILE --jobs 2`` does it (``run_parallel``:
   the records split by customer group — a branch goes with its head office, a payment,
   credit memo, clearing or reversal with the invoice's customer — so that the processes never
   touch the same aggregate; the split and the workers' start count in the time).
   The library serialises writers with a table lock, but the Python work, which is most of the
   cost, then runs on both cores. Printed: events/s over the whole import and per tenth of the
   events (sustained: the rate must not fall as the table grows).
3. For comparison, the library's plain path on the first ``--plain-records`` records of the same
   file, into a third fresh schema: the stock recorder and JSON transcoder of eventsourcing
   (``LEDGER_SPEEDUPS=-recorder,-transcoder``), one record per ``save()`` (one transaction per
   record).

LEDGER_SPEEDUPS turns speed-ups off for all three (``-events``: what the domain's fast events
bring). Target: >= 20,000 events/s sustained on this 2-core machine; the plain path manages
under 1,000.

    python benchmarks/import_bench.py [--customers 20000] [--processes 1,2] [--plain-records 3000]
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date
from itertools import islice, pairwise
from pathlib import Path

import psycopg
from common import arguments, fresh_store

from ledger_collect.commands.application import Collections
from ledger_collect.feed import DEFAULT_BATCH_SIZE, Importer, ImportResult
from ledger_collect.feed.demo import demo_records
from ledger_collect.feed.files import open_feed, write_feed
from ledger_collect.feed.parallel import run_parallel
from ledger_collect.speedups import RECORDER, TRANSCODER, Speedups
from ledger_collect.storage.database import Database

AS_OF = date(2026, 11, 23)
SEED = 7
POLL_SECONDS = 0.25


def library_defaults(database: Database) -> Collections:
    """Collections with the library's own recorder and transcoder: the plain path."""
    settings = database.settings
    plain = Speedups(settings.speedups.off | {RECORDER, TRANSCODER})
    return Collections(database, settings.with_changes(speedups=plain))


# -- the portfolio ------------------------------------------------------------------------------
def generate(customers: int, folder: Path) -> Path:
    started = time.perf_counter()
    path = folder / "portfolio.jsonl"
    with path.open("w", encoding="utf-8") as out:
        count = write_feed(demo_records(customers, SEED, AS_OF), out, "jsonl")
    print(f"portfolio: {customers:,} customers, {count:,} ERP records "
          f"({path.stat().st_size / 1e6:.0f} MB JSON Lines) generated in "
          f"{time.perf_counter() - started:.1f} s")
    return path


# -- importing ----------------------------------------------------------------------------------
@dataclass
class Run:
    result: ImportResult  # summed over the processes
    seconds: float
    samples: list[tuple[float, int]]  # (seconds since the start, events in the store)

    @property
    def rate(self) -> float:
        return self.result.events / self.seconds

    def tenths(self) -> list[float]:
        """Events/s over each tenth of the events written: the moment each tenth was reached
        is interpolated between the two samples around it (the samples' own boundaries would
        make the last "tenth" whatever is left after nine, often a sliver of the end)."""
        total = self.samples[-1][1]
        points = [(0.0, 0), *self.samples]
        reached = []
        for k in range(1, 11):
            goal = total * k / 10
            (t0, n0), (t1, n1) = next((a, b) for a, b in pairwise(points) if b[1] >= goal)
            reached.append(t1 if n1 == n0 else t0 + (t1 - t0) * (goal - n0) / (n1 - n0))
        return [total / 10 / (b - a) for a, b in pairwise([0.0, *reached]) if b > a]


def import_file(app: Collections, path: Path, batch_size: int,
                limit: int | None = None) -> ImportResult:
    """What ``ledger-collect import FILE`` does, on (the first ``limit`` records of) the file."""
    reader, stream = open_feed(path)
    with stream:
        items = reader if limit is None else islice(reader, limit)
        return Importer(app, batch_size=batch_size, today=AS_OF).run(items)


def import_in_processes(database: Database, path: Path, processes: int,
                        batch_size: int) -> Run:
    """Import the file as ``ledger-collect import FILE --jobs N`` does (N = 1: in this process,
    as ``Importer``; more: ``run_parallel``, which splits the file by customer group and starts
    the workers: their start is in the time); sample the store's size meanwhile."""
    samples: list[tuple[float, int]] = []
    done = threading.Event()
    began = time.monotonic()

    def sample() -> None:
        with psycopg.connect(database.url, autocommit=True) as conn:
            count = f'SELECT max(notification_id) FROM "{database.schema}".collections_events'
            while not done.wait(POLL_SECONDS):
                samples.append((time.monotonic() - began,
                                conn.execute(count).fetchone()[0] or 0))

    sampler = threading.Thread(target=sample, daemon=True)
    if processes == 1:
        app = Collections(database)
        try:
            began = time.monotonic()
            sampler.start()
            result = import_file(app, path, batch_size)
        finally:
            app.close()
    else:
        began = time.monotonic()
        sampler.start()
        result = run_parallel(database.settings, database.url, path, processes,
                              batch_size=batch_size, today=AS_OF)
    ended = time.monotonic()
    done.set()
    sampler.join()
    with psycopg.connect(database.url, autocommit=True) as conn:
        count = f'SELECT max(notification_id) FROM "{database.schema}".collections_events'
        samples.append((ended - began, conn.execute(count).fetchone()[0] or 0))
    return Run(result, ended - began, samples)


def summary(label: str, result: ImportResult, seconds: float) -> float:
    rate = result.events / seconds
    print(f"{label}:\n  {result.read:,} records read, {result.applied:,} applied, "
          f"{result.already_present:,} already present, {len(result.rejected):,} rejected; "
          f"{result.events:,} events in {seconds:.1f} s = {rate:,.0f} events/s")
    return rate


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--processes", default="1,2",
                        help="comma-separated numbers of importing processes to measure")
    parser.add_argument("--plain-records", type=int, default=3_000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    args = parser.parse_args()
    rates: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as folder:
        path = generate(args.customers, Path(folder))
        for processes in (int(n) for n in args.processes.split(",")):
            with fresh_store(f"bench_import{processes}", keep=args.keep) as database:
                run = import_in_processes(database, path, processes, args.batch_size)
            who = ("1 process, as `ledger-collect import FILE`" if processes == 1 else
                   f"{processes} processes, each importing its customer groups")
            summary(f"import ({who}; batches of {args.batch_size} records)", run.result,
                    run.seconds)
            tenths = run.tenths()
            print(f"  per tenth of the events: {', '.join(f'{r:,.0f}' for r in tenths)} "
                  f"events/s (lowest {min(tenths):,.0f})")
            rates[processes] = (run.rate, min(tenths))

        with fresh_store("bench_plain", keep=args.keep) as database:
            app = library_defaults(database)
            try:
                plain = import_file(app, path, 1, limit=args.plain_records)
            finally:
                app.close()
        plain_rate = summary("plain path (stock recorder and transcoder, one record per save)",
                             plain, plain.seconds)
    print("summary (target: >= 20,000 events/s sustained):")
    for processes, (rate, lowest) in rates.items():
        print(f"  {processes} process{'es' if processes > 1 else ''}: {rate:,.0f} events/s "
              f"(lowest tenth {lowest:,.0f}), {rate / plain_rate:.0f}x the plain path's "
              f"{plain_rate:,.0f}")


if __name__ == "__main__":
    main()
