"""The dunning proposal over a generated portfolio of 100,000 customers: seconds and customers
per second.

Measures the read side alone, as the dunning run and the ``dunningProposal`` query run it: the
procedures, the candidate items streamed by customer, the rules per customer, the contacts of
the customers that get a letter. The read models it reads (open items, customers and their
contact persons, conversations, emails, the dunning model) are filled directly with SQL: ~4
open items per customer due from 60 days ahead to 370 days ago, some dunned already, some under
a promise or a dispute, some blocked, some customers contacted lately. Target: well under a
minute on this 2-core machine.

    python benchmarks/dunning_bench.py [--customers 100000] [--runs 3]
"""

from __future__ import annotations

import json
import time
from datetime import date

from common import arguments, fresh_store

from ledger_collect.domain.dunning_procedure import define_procedure
from ledger_collect.projections import select
from ledger_collect.projections.dunning_proposal import propose

TODAY = date(2026, 11, 23)

FILL = """
INSERT INTO customers (id, number, name, number_key, name_key, segment, specialist,
                       head_office_id, credit_limit, currency, risk_class, default_contact_id,
                       registered_on, changed_on, changed_by, changed_at)
SELECT md5('c' || g)::uuid, 'C' || lpad(g::text, 6, '0'), 'Customer ' || g,
       'c' || lpad(g::text, 6, '0'), 'customer ' || g,
       (ARRAY['north', 'south', 'east', 'west'])[1 + g %% 4], NULL, NULL, 10000, 'EUR', 'B',
       'p1', %(today)s::date - 400, %(today)s::date - 400, 'erp', now()
FROM generate_series(1, %(n)s) AS g;

INSERT INTO contact_persons (id, customer_id, contact_id, name, email, phone, role, ordinal,
                             removed_on)
SELECT md5('p' || g)::uuid, md5('c' || g)::uuid, 'p1', 'Person ' || g,
       CASE WHEN g %% 50 = 0 THEN NULL ELSE 'ap' || g || '@example.com' END, NULL,
       CASE WHEN g %% 3 = 0 THEN 'dunning' END, 1, NULL
FROM generate_series(1, %(n)s) AS g;

INSERT INTO open_items (id, customer_id, document_number, currency, amount, paid_amount,
                        credited_amount, open_amount, posting_date, due_date, status, closed_on,
                        dunning_level, last_dunned_on, promise_id, promise_amount, promise_date,
                        promise_status, promise_paid, dispute_ids, open_disputes,
                        disputed_amount)
SELECT md5('i' || g || '-' || k)::uuid, md5('c' || g)::uuid, 'I' || g || '-' || k, 'EUR',
       a, 0, 0, a, due - 30, due, 'open', NULL,
       CASE WHEN due < %(today)s::date - 40 THEN 1 + (g + k) %% 2 ELSE 0 END,
       CASE WHEN due < %(today)s::date - 40 THEN %(today)s::date - 12 - (g %% 10) END,
       NULL, NULL, NULL, CASE WHEN (g + k) %% 17 = 0 THEN 'open' END, NULL, '{}',
       CASE WHEN (g + k) %% 23 = 0 THEN 1 ELSE 0 END, 0
FROM generate_series(1, %(n)s) AS g, generate_series(1, 4) AS k,
     LATERAL (SELECT %(today)s::date + 60 - ((g * 31 + k * 97) %% 430) AS due,
                     (20 + (g * k) %% 5000)::numeric(18, 2) AS a) AS x;

INSERT INTO customer_contacts (id, customer_id, contact_person_id, channel, result, specialist,
                               summary, notes, contact_date, recorded_on, recorded_by,
                               promise_ids, dispute_ids, resubmission_ids)
SELECT md5('k' || g)::uuid, md5('c' || g)::uuid, 'p1', 'phone', 'reached', 'spec', NULL, NULL,
       %(today)s::date - g %% 30, %(today)s::date - g %% 30, 'spec', '{}', '{}', '{}'
FROM generate_series(1, %(n)s, 7) AS g;

INSERT INTO dunning_blocks (id, kind, customer_id, reason, blocked_until, blocked_on, blocked_by)
SELECT md5('c' || g)::uuid, 'customer', md5('c' || g)::uuid, 'talks', NULL, %(today)s, 'spec'
FROM generate_series(1, %(n)s, 101) AS g;
"""


def main() -> None:
    parser = arguments("The dunning proposal over a generated portfolio.")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    procedure = define_procedure(
        code="standard", levels=[{"days_overdue": 1, "grace_days": 14},
                                 {"days_overdue": 30, "grace_days": 10, "fee": "5.00"},
                                 {"days_overdue": 45, "grace_days": 10, "fee": "15.00"}],
        minimum_amount="50.00", interest_rate="8", reminder_days=5, quiet_days=3)
    with fresh_store("bench_dunning", keep=args.keep) as database, \
            database.connect() as conn:
        for model in select(["open_items", "customers", "correspondence", "dunning",
                                 "agency"]):
            conn.execute(model.sql())
        started = time.perf_counter()
        for statement in FILL.split(";\n\n"):
            conn.execute(statement, {"n": args.customers, "today": TODAY})
        conn.execute("INSERT INTO dunning_procedures VALUES (md5('p')::uuid, 'standard',"
                     " %s, %s, 'bench')", (json.dumps(procedure.as_data(), default=str),
                                           TODAY))
        conn.execute("INSERT INTO dunning_assignments VALUES (md5('s')::uuid, '',"
                     " 'standard')")
        conn.execute("VACUUM ANALYZE")
        items = conn.execute("SELECT count(*) FROM open_items").fetchone()[0]  # type: ignore[index]
        print(f"filled {args.customers:,} customers, {items:,} open items in "
              f"{time.perf_counter() - started:.1f} s")
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            proposal = propose(conn, TODAY)
            seconds = time.perf_counter() - started
            lines = sum(len(p.letter.lines) for p in proposal.letters)
            print(f"run {run}: {len(proposal.letters):,} letters ({lines:,} items) for "
                  f"{proposal.customers:,} customers with candidate items, "
                  f"{proposal.quiet:,} quiet, {proposal.no_address:,} without address, "
                  f"in {seconds:.2f} s: {args.customers / seconds:,.0f} customers/s")


if __name__ == "__main__":
    main()
