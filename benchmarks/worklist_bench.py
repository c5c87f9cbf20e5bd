"""A worklist page of 50 over a generated portfolio of 100,000 customers: p50/p99 latency.

Measures the read side alone, as the API runs it: the active strategies (one query) and the
page (one query: rank the specialist's customers by the strategy's SQL score on the day, take
50, compute their amounts to be collected). The model's tables are filled directly with SQL
(customers, ~4.5 open items each, disputes, follow-ups, processed days, broken promises) and
the per-customer figures are computed by the projection's own recompute statement, so the rows
are what the writer would leave. The day's ranking is then stored as the projector's upkeep
stores it (timed). Lists measured: a specialist with ~3,400 customers, one with 25,000, and the
10,000 unassigned customers; each sequentially and with concurrent readers, and then for a day
without a stored ranking (ranked in the query: every customer of the list scored).
Target: worklist page p99 <= 30 ms on this 2-core machine.

    python benchmarks/worklist_bench.py [--customers 100000] [--pages 300] [--concurrency 4]
"""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta

import asyncpg
from common import arguments, fresh_store, percentile

from ledger_collect.projections.worklist import Worklist, day_rankings
from ledger_collect.projections.worklist import ranked_pages as ranking
from ledger_collect.projections.worklist.customer_figures import recompute
from ledger_collect.projections.worklist.strategy_versions import (
    active_strategies,
    active_strategy_set,
)

TODAY = date(2026, 11, 23)

FILL = """
INSERT INTO worklist_customers (id, number, name, segment, currency, risk_class, specialist,
                                broken_promises)
SELECT md5('c' || g)::uuid, 'C' || lpad(g::text, 6, '0'), 'Customer ' || g,
       (ARRAY['KEY-ACCOUNTS', 'SME-NORTH', 'SME-SOUTH', 'SME-EAST', 'PUBLIC-SECTOR',
              'RETAIL'])[1 + g %% 6], 'EUR', (ARRAY['A', 'B', 'C', 'D', 'E'])[1 + (g * 7) %% 5],
       CASE WHEN g %% 10 = 0 THEN NULL WHEN g %% 4 = 1 THEN 'heavy'
            ELSE 'spec' || lpad((g %% 20)::text, 2, '0') END,
       CASE WHEN g %% 12 = 0 THEN ARRAY[%(today)s::date - (g %% 150)] ELSE '{}' END
FROM generate_series(1, %(n)s) AS g;

INSERT INTO worklist_items (id, customer_id, document_number, currency, due_date, open_amount,
                            dunning_level, last_dunned_on, promise_id, promised)
SELECT md5('i' || g || '-' || k)::uuid, md5('c' || g)::uuid, 'I' || g || '-' || k, 'EUR',
       %(today)s::date + 30 - ((g * 31 + k * 97) %% 430),
       round((50 + (g * 13 + k * 7919) %% 20000)::numeric, 2),
       (g + k) %% 4, CASE WHEN (g + k) %% 4 > 0 THEN %(today)s::date - (g + k) %% 40 END,
       CASE WHEN (g + k) %% 10 = 0 THEN md5('p' || g || '-' || k)::uuid END,
       CASE WHEN (g + k) %% 10 = 0 THEN round((25 + (g * 13 + k * 7919) %% 10000)::numeric, 2) END
FROM generate_series(1, %(n)s) AS g, generate_series(1, 1 + g %% 8) AS k;

INSERT INTO worklist_disputes (id, customer_id, invoice_ids, currency, amount, active)
SELECT md5('d' || g)::uuid, md5('c' || g)::uuid, ARRAY[md5('i' || g || '-1')::uuid], 'EUR',
       100.00, g %% 40 <> 0
FROM generate_series(1, %(n)s) AS g WHERE g %% 20 = 3;

INSERT INTO worklist_follow_ups (id, customer_id, invoice_ids, follow_up_date, open)
SELECT md5('f' || g)::uuid, md5('c' || g)::uuid,
       CASE WHEN g %% 3 = 0 THEN ARRAY[md5('i' || g || '-1')::uuid] ELSE '{}' END,
       %(today)s::date - 5 + g %% 16, true
FROM generate_series(1, %(n)s) AS g WHERE g %% 13 = 5;

INSERT INTO worklist_processed (customer_id, day, actors, events)
SELECT md5('c' || g)::uuid, %(today)s::date, ARRAY['spec' || lpad((g %% 20)::text, 2, '0')], 1
FROM generate_series(1, %(n)s) AS g WHERE g %% 33 = 7;
"""


def fill(database: object, customers: int) -> None:
    with database.connect() as conn:  # type: ignore[attr-defined]
        started = time.perf_counter()
        conn.execute(Worklist.sql())
        for statement in FILL.split(";\n\n"):
            conn.execute(statement, {"n": customers, "today": TODAY})
        ids = [row[0] for row in conn.execute("SELECT id FROM worklist_customers ORDER BY id")]
        for start in range(0, len(ids), 10000):
            recompute(conn, ids[start:start + 10000])
        conn.execute("VACUUM ANALYZE")
        items = conn.execute("SELECT count(*) FROM worklist_items").fetchone()[0]
        print(f"model: {customers:,} customers, {items:,} open items, filled in "
              f"{time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        with conn.transaction():
            day_rankings.build_ranking(conn, active_strategy_set(conn), TODAY)
        print(f"the day's ranking stored (as the projector's upkeep does) in "
              f"{(time.perf_counter() - started) * 1e3:.0f} ms")


async def one_page(pool: asyncpg.Pool, specialist: str | None, day: date = TODAY) -> float:
    started = time.perf_counter()
    strategies = await active_strategies(pool)
    page = await ranking.worklist(pool, strategies, specialist=specialist, as_of=day,
                                  limit=50)
    assert len(page.entries) == 50
    return time.perf_counter() - started


async def measure(database: object, pages: int, concurrency: int) -> None:
    pool = await asyncpg.create_pool(
        database.url, min_size=concurrency, max_size=concurrency,  # type: ignore[attr-defined]
        server_settings={"search_path": database.schema})  # type: ignore[attr-defined]
    try:
        for label, specialist in (("specialist spec03", "spec03"), ("specialist heavy", "heavy"),
                                  ("unassigned", None)):
            strategies = await active_strategies(pool)
            started = time.perf_counter()
            size = await ranking.count(pool, strategies, specialist=specialist, as_of=TODAY)
            first = time.perf_counter() - started
            for _ in range(20):
                await one_page(pool, specialist)
            serial = sorted([await one_page(pool, specialist) for _ in range(pages)])
            started = time.perf_counter()
            parallel: list[float] = []

            async def reader(count: int, who: str | None = specialist,
                             out: list[float] = parallel) -> None:
                for _ in range(count):
                    out.append(await one_page(pool, who))

            await asyncio.gather(*(reader(pages // concurrency) for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
            parallel.sort()
            print(f"{label:18} {size:6,} listed (counted in {first * 1e3:4.0f} ms) | serial p50 {percentile(serial, .5) * 1e3:5.1f}"
                  f" ms p99 {percentile(serial, .99) * 1e3:5.1f} ms | {concurrency} concurrent"
                  f" p50 {percentile(parallel, .5) * 1e3:5.1f} ms p99"
                  f" {percentile(parallel, .99) * 1e3:5.1f} ms,"
                  f" {len(parallel) / elapsed:5.0f} pages/s")
        tomorrow = TODAY + timedelta(days=1)
        for label, specialist in (("specialist spec03", "spec03"), ("specialist heavy", "heavy"),
                                  ("unassigned", None)):
            unranked = sorted([await one_page(pool, specialist, tomorrow)
                               for _ in range(max(10, pages // 10))])
            print(f"{label:18} a day without a stored ranking: serial"
                  f" p50 {percentile(unranked, .5) * 1e3:5.1f} ms"
                  f" p99 {percentile(unranked, .99) * 1e3:5.1f} ms")
    finally:
        await pool.close()


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with fresh_store("bench_worklist", keep=args.keep) as database:
        fill(database, args.customers)
        asyncio.run(measure(database, args.pages, args.concurrency))


if __name__ == "__main__":
    main()
