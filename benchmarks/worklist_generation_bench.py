"""The morning worklist generation over a portfolio of 100,000 customers (six segments).

The worklist model is filled as ``worklist_bench`` fills it (SQL, the projection's own figures),
each segment gets a team of 21 specialists (two of them away: one with a substitute, one
without), then the job body runs as a worker runs it: every segment ranked by its strategy in
one query, spread over its team, and recorded as the segments' ``DailyWorklist`` versions in one
transaction. Timed: the first generation, a second one on the same basis and a forced one on
the same list (both record nothing), one after an absence more (a new version of every list), with
the day's ranking stored by the projector (read) and without (scored in the query); the size of the events recorded; writing one
generation into the read model (as the projector does); a page of a generated list.

    python benchmarks/worklist_generation_bench.py [--customers 100000]
"""

from __future__ import annotations

import asyncio
import time
from datetime import date

import asyncpg
from common import arguments, fresh_store
from worklist_bench import TODAY, fill

from ledger_collect.commands.application import Collections
from ledger_collect.commands.team_commands import join_team, record_absence
from ledger_collect.domain.daily_worklist import DailyWorklist
from ledger_collect.jobs.worklists import generate_worklists
from ledger_collect.projections.worklist import day_rankings
from ledger_collect.projections.worklist import ranked_pages as ranking
from ledger_collect.projections.worklist.generated_lists import write_lists
from ledger_collect.projections.worklist.strategy_versions import (
    active_strategies,
    active_strategy_set,
)

SEGMENTS = ("KEY-ACCOUNTS", "SME-NORTH", "SME-SOUTH", "SME-EAST", "PUBLIC-SECTOR", "RETAIL")
TEAM = tuple(f"spec{n:02d}" for n in range(20)) + ("heavy",)
WHO = {"actor": "bench", "business_date": TODAY}


def staff(app: Collections) -> None:
    for segment in SEGMENTS:
        for member in TEAM:
            app.run(join_team, segment, member, **WHO)
        app.run(record_absence, segment, "spec03", first_day=TODAY, last_day=TODAY,
                substitute="spec04", **WHO)
        app.run(record_absence, segment, "spec06", first_day=TODAY, last_day=TODAY, **WHO)


def timed(label: str, app: Collections, **kwargs: object) -> dict[str, int]:
    started = time.perf_counter()
    counts = generate_worklists(app, business_date=TODAY, **kwargs)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    print(f"{label:34} {elapsed:6.2f} s  {counts['customers'] / elapsed:9,.0f} customers/s"
          f"  versions recorded {counts['generated']}, unchanged {counts['unchanged']}")
    return counts


async def page(database: object, day: date) -> float:
    pool = await asyncpg.create_pool(database.url, min_size=1, max_size=1,  # type: ignore[attr-defined]
                                     server_settings={"search_path": database.schema})  # type: ignore[attr-defined]
    try:
        times = []
        for _ in range(50):
            started = time.perf_counter()
            found = await ranking.worklist(pool, await active_strategies(pool),
                                           specialist="spec04", as_of=day, limit=50)
            times.append(time.perf_counter() - started)
            assert len(found.entries) == 50 and found.entries[0].assignment is not None
        return sorted(times)[len(times) // 2]
    finally:
        await pool.close()


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    with fresh_store("bench_generation", keep=args.keep) as database:
        fill(database, args.customers)
        app = Collections(database)
        try:
            staff(app)
            with database.connect() as conn:
                conn.execute("DELETE FROM worklist_scores")
                conn.execute("DELETE FROM worklist_snapshots")
            counts = timed("first generation, scored in query", app)
            print("  " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
            with database.connect() as conn, conn.transaction():
                day_rankings.build_ranking(conn, active_strategy_set(conn), TODAY)
            print("the day's ranking stored again; from here on it is read")
            timed("again, same basis (records nothing)", app)
            timed("forced, the same list (records nothing)", app, force=True)
            for segment in SEGMENTS:
                app.run(record_absence, segment, "spec07", first_day=TODAY, last_day=TODAY,
                        substitute="spec08", **WHO)
            timed("an absence more (a new version of each)", app)
            with database.connect() as conn:
                events, size, largest = conn.execute(
                    "SELECT count(*), sum(length(state)), max(length(state))"
                    " FROM collections_events WHERE topic LIKE 'ledger_collect.DailyWorklist.%'"
                ).fetchone()
            print(f"events of the two versions: {events:,}, {size / 1e6:.1f} MB stored, largest "
                  f"{largest / 1e3:.0f} kB")
            recorded = [e for segment in SEGMENTS
                        for e in app.events.get(DailyWorklist.create_id(segment, TODAY))]
            started = time.perf_counter()
            with database.connect() as conn, conn.transaction():
                write_lists(conn, recorded)
            print(f"read model: the two versions of every list written in "
                  f"{time.perf_counter() - started:.2f} s")
            print(f"a page of 50 of a generated list: p50 "
                  f"{asyncio.run(page(database, TODAY)) * 1e3:.1f} ms")
        finally:
            app.close()


if __name__ == "__main__":
    main()
