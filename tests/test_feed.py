"""The ERP feed: bad lines reported by line number, idempotent batched import, all-or-nothing
strict mode, CSV = JSON Lines, and a SIGKILLed import that a rerun completes exactly."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.application import AggregateNotFoundError
from psycopg import sql

from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import add_customer_note
from ledger_collect.config import Settings
from ledger_collect.domain.base import ValidationError
from ledger_collect.domain.credit import CustomerCredit
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice
from ledger_collect.feed import BadLine, Importer
from ledger_collect.feed.demo import demo_records
from ledger_collect.feed.files import read_records, write_feed
from ledger_collect.feed.import_batch import ImportBatch
from ledger_collect.feed.importer import apply_record
from ledger_collect.feed.portfolio import BUCKETS, portfolio
from ledger_collect.feed.records import PaymentRecord, parse_record
from ledger_collect.storage.bulk_reads import ids_by_topic, load_aggregates
from ledger_collect.storage.database import Database

AS_OF = date(2026, 11, 23)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


# -- helpers -------------------------------------------------------------------------------------
def jsonl(*records: dict[str, Any] | str) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def customer(number: str = "C1", currency: str = "EUR", **extra: Any) -> dict[str, Any]:
    return {"kind": "customer", "source_id": f"CUS-{number}", "number": number,
            "name": f"Customer {number}", "segment": "SME", "risk_class": "B",
            "credit_limit": "5000.00", "currency": currency, **extra}


def invoice(number: str, amount: str = "100.00", customer: str = "C1", currency: str = "EUR",
            **extra: Any) -> dict[str, Any]:
    return {"kind": "invoice", "source_id": number, "customer": customer,
            "document_number": number, "amount": amount, "currency": currency,
            "posting_date": "2026-09-01", "due_date": "2026-10-01", **extra}


def payment(source_id: str, amount: str, *allocations: tuple[str, str], customer: str = "C1",
            currency: str = "EUR") -> dict[str, Any]:
    return {"kind": "payment", "source_id": source_id, "customer": customer, "amount": amount,
            "currency": currency, "date": "2026-10-10",
            "allocations": [{"invoice": n, "amount": a} for n, a in allocations]}


def run(app: Collections, text: str, fmt: str = "jsonl", **options: Any):
    strict = options.pop("strict", False)
    return Importer(app, today=AS_OF, **options).run(read_records(text, fmt), strict=strict)


def demo_feed(customers: int, fmt: str = "jsonl", seed: int = 11) -> str:
    out = io.StringIO()
    write_feed(demo_records(customers, seed, AS_OF), out, fmt)
    return out.getvalue()


def event_count(app: Collections) -> int:
    with app.database.connect() as conn:
        return conn.execute("SELECT count(*) FROM collections_events").fetchone()[0]


def facts(app: Collections) -> set[tuple[uuid.UUID, int, str]]:
    with app.database.connect() as conn:
        return set(conn.execute(
            "SELECT originator_id, originator_version, topic FROM collections_events"))


def states(app: Collections) -> dict[uuid.UUID, dict[str, Any]]:
    """Every aggregate's decoded state, without the record times (which differ per run)."""
    found: dict[uuid.UUID, dict[str, Any]] = {}
    topics = ["ledger_collect.Customer.Registered", "ledger_collect.Invoice.Posted",
              "ledger_collect.CustomerCredit.Received"]
    for ids in ids_by_topic(app, topics):
        for aggregate_id, aggregate in load_aggregates(app, ids).items():
            found[aggregate_id] = {k: v for k, v in vars(aggregate).items()
                                   if k not in ("_created_on", "_modified_on")}
    return found


@pytest.fixture
def make_app(server_url: str, tmp_path: Path) -> Iterator[Callable[[], Collections]]:
    """More stores, each in a fresh schema of its own (to compare two imports)."""
    made: list[tuple[Collections, Database]] = []

    def make() -> Collections:
        settings = Settings(database_url=server_url, data_dir=tmp_path,
                            schema=f"t_{uuid.uuid4().hex[:12]}", pool_size=2,
                            master_key=base64.b64encode(os.urandom(32)).decode())
        database = Database(settings).open()
        database.migrate()
        app = Collections(database)
        made.append((app, database))
        return app

    yield make
    for app, database in made:
        app.close()
        database.close()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(database.schema)))


# -- reading: each bad line with its line number -------------------------------------------------
def test_each_kind_of_bad_json_line_is_reported_with_its_line_number():
    text = jsonl(
        customer(),                                                             # 1 good
        '{"kind": "customer", "source_id": ',                                   # 2
        "[1, 2]",                                                               # 3
        {"kind": "refund", "source_id": "R1"},                                  # 4
        {k: v for k, v in invoice("I1").items() if k != "amount"},              # 5
        invoice("I2", amount="-5.00"),                                          # 6
        invoice("I3", amount="0"),                                              # 7
        invoice("I4", posting_date="2026-13-01"),                               # 8
        invoice("I5", due_date="01/10/2026"),                                   # 9
        invoice("I6", amount="10.005"),                                         # 10
        invoice("I7", currency="EURO"),                                         # 11
        payment("P1", "50.00", ("I1", "30.00"), ("I2", "30.00")),               # 12
        "",                                                                     # 13 blank
        invoice("I8", amount=12.5),                                             # 14 number
        invoice("I9", due_date="2026-08-01"),                                   # 15
        {"kind": "customer"},                                                   # 16
        payment("P2", "50.00", ("I1", "20.00"), ("I1", "30.00")),               # 17
    )
    parsed = read_records(text, "jsonl")
    bad = [(p.line, p.reason) for p in parsed if isinstance(p, BadLine)]
    assert [line for line, _ in bad] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17]
    reasons = dict(bad)
    assert reasons[2].startswith("malformed JSON")
    assert reasons[3] == "a record must be a JSON object"
    assert reasons[4].startswith("unknown kind 'refund'")
    assert reasons[5] == "missing field 'amount'"
    assert reasons[6] == "field 'amount' must be greater than zero, got -5.00"
    assert reasons[7] == "field 'amount' must be greater than zero, got 0"
    assert reasons[8] == "field 'posting_date' is not a valid date: '2026-13-01'"
    assert reasons[9] == "field 'due_date' is not an ISO date (YYYY-MM-DD): '01/10/2026'"
    assert reasons[10] == "field 'amount' 10.005 has more than two decimal places"
    assert "EURO" in reasons[11] and "three-letter" in reasons[11]
    assert reasons[12] == "the allocations (60.00) exceed the payment amount (50.00)"
    assert reasons[15] == "due date 2026-08-01 is before the posting date 2026-09-01"
    assert reasons[16] == "missing field 'source_id'"
    assert reasons[17] == "the payment allocates to the same invoice twice"
    good = [p for p in parsed if not isinstance(p, BadLine)]
    assert [p.line for p in good] == [1, 14]
    assert good[1].amount == Decimal("12.50")  # a JSON number is read exactly, not as a float


def test_bad_csv_rows_are_reported_with_their_physical_line_numbers():
    header = "kind,source_id,customer,number,name,segment,risk_class,credit_limit,currency,date," \
             "amount,allocations"
    lines = [
        header,                                                              # 1
        "customer,C-1,,C1,Acme,SME,B,5000.00,EUR,,,",                        # 2 good
        'customer,C-2,,C2,"Dupont\net fils",SME,B,1000,EUR,,,',              # 3-4 good, 2 lines
        "customer,C-3,,C3,Acme,SME,B,5000.00,EUR,,",                         # 5 too few fields
        'customer,C-4,,C4,"Ac"me,SME,B,1,EUR,,,',                            # 6 bad quoting
        "customer,C-5,,C5,Acme,SME,B,lots,EUR,,,",                           # 7 bad amount
        "payment,P-1,C1,,,,,,EUR,2026-10-01,40.00,INV-1=40",                 # 8 bad allocation
    ]
    raw = ("\n".join(lines) + "\n").encode()
    raw += "customer,C-6,,C6,Caf\xe9,SME,B,1,EUR,,,\n".encode("latin-1")    # 9 not UTF-8
    from ledger_collect.feed.files import FeedReader
    parsed = list(FeedReader(io.BytesIO(raw), "csv"))
    bad = {p.line: p.reason for p in parsed if isinstance(p, BadLine)}
    assert [p.line for p in parsed if not isinstance(p, BadLine)] == [2, 3]
    assert parsed[1].name == "Dupont\net fils"
    assert bad[5] == "bad CSV row: 11 fields, the header has 12"
    assert bad[6].startswith("bad CSV row:")
    assert bad[7] == "field 'credit_limit' 'lots' is not a number"
    assert bad[8] == "allocation 'INV-1=40' is not INVOICE:AMOUNT"
    assert bad[9] == "field 'name' is not valid UTF-8"
    assert sorted(bad) == [5, 6, 7, 8, 9]


# -- importing -------------------------------------------------------------------------------------
def test_rules_that_need_the_store_reject_their_line_and_good_lines_still_go_in(app):
    text = jsonl(
        customer("C1"),                                                      # 1
        customer("C2", currency="USD"),                                      # 2
        invoice("I1", "100.00"),                                             # 3
        invoice("I2", "50.00", customer="C9"),                               # 4 unknown customer
        invoice("I3", "70.00", customer="C2", currency="USD"),               # 5
        payment("P1", "40.00", ("I1", "40.00")),                             # 6
        payment("P2", "10.00", ("I404", "10.00")),                           # 7 unknown invoice
        payment("P3", "5.00", ("I1", "5.00"), currency="USD"),               # 8 currency
        payment("P4", "60.01", ("I1", "60.01")),                             # 9 overpayment
        payment("P5", "70.00", ("I3", "70.00")),                             # 10 not C1's
        payment("P6", "60.00", ("I1", "60.00")),                             # 11 pays the rest
        {"kind": "write_off", "source_id": "W1", "invoice": "I1",
         "date": "2026-11-01"},                                              # 12 fine (0 open)
        {"kind": "clearing", "source_id": "CL1", "invoice": "I1",
         "date": "2026-11-02"},                                              # 13 already closed
        customer("C3", head_office="C404"),                                  # 14 no head office
    )
    result = run(app, text)
    reasons = {bad.line: bad.reason for bad in result.rejected}
    assert sorted(reasons) == [4, 7, 8, 9, 10, 13, 14]
    assert reasons[4] == "customer C9 does not exist"
    assert reasons[7] == "invoice I404 does not exist"
    assert reasons[8] == ("payment P3 is in USD but invoice I1 is in EUR")
    assert reasons[9] == ("payment P4 of 60.01 EUR exceeds the open amount 60.00 EUR of "
                          "invoice I1")
    assert reasons[10].startswith("invoice I3 belongs to customer C2")
    assert reasons[13] == "invoice I1 is already written off"
    assert reasons[14] == "head office customer C404 does not exist"
    assert (result.read, result.applied, result.already_present) == (14, 7, 0)
    invoice_1 = app.repository.get(Invoice.create_id("I1"))
    assert invoice_1.payments == {"P1": Decimal("40.00"), "P6": Decimal("60.00")}
    assert invoice_1.open_amount == Decimal("0.00") and invoice_1.status == "written_off"
    assert result.events == event_count(app) == 7  # 2 customers, 2 invoices, 2 payments, 1 w/o


def test_a_payment_keeps_its_unapplied_rest_on_account_and_a_branch_invoice_may_be_paid(app):
    text = jsonl(
        customer("H1"), customer("B1", head_office="H1"),
        invoice("I1", "100.00", customer="B1"),
        payment("P1", "130.00", ("I1", "100.00"), customer="H1"),  # head office pays branch
        payment("P2", "25.00", customer="B1"),                      # all of it on account
        {"kind": "credit_memo", "source_id": "CM1", "customer": "B1", "amount": "12.00",
         "currency": "EUR", "date": "2026-10-12"},                  # credit memo on account
    )
    result = run(app, text)
    assert result.rejected == []
    assert app.repository.get(Invoice.create_id("I1")).open_amount == Decimal("0.00")
    rest = app.repository.get(CustomerCredit.create_id("P1"))
    assert (rest.kind, rest.amount, rest.customer_id) == (
        "unapplied_payment", Decimal("30.00"), Customer.create_id("H1"))
    assert app.repository.get(CustomerCredit.create_id("P2")).amount == Decimal("25.00")
    assert app.repository.get(CustomerCredit.create_id("CM1")).kind == "credit_memo"


def test_importing_the_same_file_twice_adds_nothing_the_second_time(app):
    text = demo_feed(25)
    first = run(app, text, batch_size=100)
    assert first.rejected == [] and first.applied == first.read > 300
    assert first.single_loads == 0  # every aggregate came in the batch's one query
    stored = event_count(app)
    assert first.events == stored
    again = run(app, text, batch_size=100)
    assert (again.applied, again.already_present, again.events) == (0, again.read, 0)
    assert event_count(app) == stored


def test_an_overlapping_file_adds_only_what_is_new(app, make_app):
    lines = demo_feed(25).splitlines(keepends=True)
    third = len(lines) // 3
    first, second = "".join(lines[:2 * third]), "".join(lines[third:])
    run(app, first, batch_size=64)
    result = run(app, second, batch_size=64)
    assert result.rejected == []
    assert result.already_present == third  # the overlap: lines third .. 2*third
    assert result.applied == len(lines) - 2 * third
    whole = make_app()
    run(whole, "".join(lines), batch_size=500)
    assert facts(app) == facts(whole)
    assert states(app) == states(whole)


def test_csv_and_json_lines_give_the_same_store(app, make_app):
    from_jsonl = run(app, demo_feed(20, "jsonl"))
    other = make_app()
    from_csv = run(other, demo_feed(20, "csv"), "csv")
    assert from_jsonl.rejected == from_csv.rejected == []
    assert from_jsonl.read == from_csv.read
    assert facts(app) == facts(other)
    assert states(app) == states(other)


def test_the_example_files_import_cleanly_and_agree(app, make_app):
    result = Importer(app, today=AS_OF).run(
        read_records((EXAMPLES / "erp-feed.jsonl").read_text(), "jsonl"))
    assert (result.read, result.applied, result.rejected) == (17, 17, [])
    other = make_app()
    Importer(other, today=AS_OF).run(read_records((EXAMPLES / "erp-feed.csv").read_text(), "csv"))
    assert states(app) == states(other)
    reversed_invoice = app.repository.get(Invoice.create_id("INV-2026-0003"))
    assert reversed_invoice.open_amount == Decimal("450.00")
    partly = app.repository.get(Invoice.create_id("INV-2026-0002"))
    assert partly.open_amount == Decimal("500.00")  # 800 - 50 credit - 250 paid


# -- strict: all or nothing ------------------------------------------------------------------------
def test_strict_saves_nothing_when_one_line_is_bad_and_everything_when_none_is(app):
    good = [customer("C1"), invoice("I1", "100.00"), payment("P1", "40.00", ("I1", "40.00"))]
    text = jsonl(*good, payment("P2", "70.00", ("I1", "70.00")), invoice("I2", "5.00"))
    result = run(app, text, strict=True, batch_size=2)
    assert not result.saved
    assert [(bad.line, bad.source_id) for bad in result.rejected] == [(4, "P2")]
    assert result.applied == 0 and result.events == 0
    assert event_count(app) == 0
    result = run(app, jsonl(*good, invoice("I2", "5.00")), strict=True, batch_size=2)
    assert result.saved and result.applied == 4 and event_count(app) == result.events == 4


def test_strict_refuses_a_file_whose_only_fault_is_a_malformed_line(app):
    result = run(app, jsonl(customer("C1"), "{oops"), strict=True)
    assert not result.saved and [bad.line for bad in result.rejected] == [2]
    assert event_count(app) == 0


# -- a batch is saved while the next is decided --------------------------------------------------
def test_a_batch_whose_save_meets_another_writer_runs_again_with_the_batch_after_it(app, make_app):
    """The next batch was decided on the aggregates as the failed one left them: both are
    dropped and run again on what the store holds, and nothing is lost or counted twice."""
    feed = demo_feed(60)
    rival = Collections(app.database)
    save, met = app.save_events, []

    def save_events(events):
        if not met:  # another writer adds to a customer this batch changes, just before it
            first: dict = {}
            for e in events:
                first.setdefault(e.originator_id, e)
            known = next((e for e in first.values() if isinstance(e, Customer.Event)
                          and e.originator_version > 1), None)  # saved by an earlier batch
            if known is not None:
                rival.run(add_customer_note, known.originator_id, "n-rival", "Pays on Fridays",
                          actor="alice", business_date=AS_OF)
                met.append(known.originator_id)
        return save(events)

    app.save_events = save_events
    try:
        result = run(app, feed, batch_size=40)
    finally:
        rival.close()
    assert met, "no batch changed a customer known before it"
    assert not result.rejected and result.applied == result.read
    assert result.events == event_count(app) - 1  # all but the rival's note, once each
    clean = make_app()
    run(clean, feed)
    clean.run(add_customer_note, met[0], "n-rival", "Pays on Fridays", actor="alice",
              business_date=AS_OF)
    assert states(app) == states(clean)


# -- a refused record leaves nothing behind -------------------------------------------------------
def test_a_failing_record_that_left_events_behind_is_dropped_with_its_batch_rerun(app):
    """A command that records before it fails (here a stand-in for a future buggy one, on the
    real store) must not leave its first events in the batch: the batch runs again without
    that record, and the records around it go in."""

    class Careless(Importer):
        @staticmethod
        def apply_record(batch, record, *, actor, today):
            apply_record(batch, record, actor=actor, today=today)
            if record.source_id == "P-bad":  # recorded its payment, then changes its mind
                raise ValidationError("payment P-bad was refused after the fact")

    text = jsonl(customer("C1"), invoice("I1", "100.00"),
                 payment("P-ok", "10.00", ("I1", "10.00")),
                 payment("P-bad", "20.00", ("I1", "20.00")),
                 payment("P-late", "30.00", ("I1", "30.00")))
    result = Careless(app, today=AS_OF).run(read_records(text, "jsonl"))
    assert result.reruns == 1
    assert [(bad.line, bad.reason) for bad in result.rejected] == [
        (4, "payment P-bad was refused after the fact")]
    assert result.applied == 4
    paid = app.repository.get(Invoice.create_id("I1")).payments
    assert paid == {"P-ok": Decimal("10.00"), "P-late": Decimal("30.00")}


def test_a_payment_refused_on_its_unapplied_rest_leaves_its_allocations_unrecorded(app):
    """A EUR customer's USD invoice, paid in USD with a rest: the rest cannot go on the EUR
    account, so the whole payment is refused — including the allocation to the invoice."""
    text = jsonl(customer("C1"), invoice("I1", "100.00", currency="USD"),
                 payment("P1", "150.00", ("I1", "100.00"), currency="USD"),
                 payment("P2", "60.00", ("I1", "60.00"), currency="USD"))
    result = run(app, text)
    assert [bad.line for bad in result.rejected] == [3]
    assert "USD" in result.rejected[0].reason and "EUR" in result.rejected[0].reason
    invoice_1 = app.repository.get(Invoice.create_id("I1"))
    assert invoice_1.payments == {"P2": Decimal("60.00")}
    assert invoice_1.open_amount == Decimal("40.00")
    with pytest.raises(AggregateNotFoundError):
        app.repository.get(CustomerCredit.create_id("P1"))


def test_watching_a_batch_tells_what_one_record_recorded(app):
    run(app, jsonl(customer("C1"), invoice("I1", "100.00")))
    batch = ImportBatch(app.repository)
    batch.preload(load_aggregates(app, [Invoice.create_id("I1")]).values())
    batch.absent.add(Invoice.create_id("I2"))
    record = parse_record(payment("P1", "10.00", ("I1", "10.00")), 1)
    assert isinstance(record, PaymentRecord)
    batch.watch()
    assert batch.find(Invoice, Invoice.create_id("I2")) is None  # known absent: no query
    batch.find(Invoice, Invoice.create_id("I1")).apply_payment(
        "P1", Decimal("10.00"), "EUR", actor="erp", business_date=AS_OF)
    assert batch.added() == 1 and batch.left_partial()
    batch.watch()
    assert batch.added() == 0 and not batch.left_partial()
    assert batch.single_loads == 0


# -- demo portfolio ---------------------------------------------------------------------------------
def test_the_demo_portfolio_has_open_items_in_every_aging_bucket(app):
    records = [parse_record(raw, n) for n, raw in enumerate(demo_records(12, 5, AS_OF), 1)]
    result = Importer(app, today=AS_OF).run(records)
    assert result.rejected == [] and result.applied == len(records)
    summary = portfolio(app, AS_OF)
    currency = app.repository.get(Customer.create_id("C000001")).currency
    for name in BUCKETS:
        assert summary.aging[(currency, name)] > 0, name


def test_a_large_demo_feed_has_every_kind_of_fact():
    records = list(demo_records(300, 2, AS_OF))
    kinds = {r["kind"] for r in records}
    assert kinds == {"customer", "contact", "invoice", "credit_memo", "payment",
                     "payment_reversal", "clearing", "write_off"}
    assert 13 <= len(records) / 300 <= 17  # about 15 records per customer
    payments = [r for r in records if r["kind"] == "payment"]
    assert any(len(p["allocations"]) > 1 for p in payments)  # payment runs
    assert any(not p["allocations"] for p in payments)  # on account
    assert any(p["allocations"] and Decimal(p["amount"]) > sum(
        Decimal(a["amount"]) for a in p["allocations"]) for p in payments)  # unapplied rest
    assert any(r["kind"] == "credit_memo" and r["invoice"] is None for r in records)
    assert any(r["kind"] == "customer" and r["head_office"] for r in records)
    assert max(r.get("date") or r.get("posting_date") for r in records) <= AS_OF.isoformat()


# -- SIGKILL in the middle, then run again --------------------------------------------------------
def _cli(app: Collections, *args: str, **popen: Any) -> subprocess.Popen:
    settings = app.settings
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url or "",
           "LEDGER_SCHEMA": settings.schema, "LEDGER_MASTER_KEY": settings.master_key or "",
           "LEDGER_DATA_DIR": str(settings.data_dir)}
    return subprocess.Popen([sys.executable, "-m", "ledger_collect.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


@pytest.mark.slow
def test_an_import_killed_mid_way_and_run_again_ends_as_one_clean_run(make_app, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(demo_feed(800, seed=3))
    clean, killed = make_app(), make_app()
    out, err = _cli(clean, "import", str(feed)).communicate(timeout=120)
    assert "rejected: 0" in out, err
    final = event_count(clean)

    victim = _cli(killed, "import", str(feed), "--batch-size", "100")
    deadline = time.monotonic() + 120
    while victim.poll() is None and time.monotonic() < deadline:
        if event_count(killed) >= final // 3:
            os.kill(victim.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL, "the import finished before it could be killed"
    partial = event_count(killed)
    assert 0 < partial < final

    out, err = _cli(killed, "import", str(feed)).communicate(timeout=120)
    assert "rejected: 0" in out, err
    assert "already present: 0," not in out  # the killed run's batches were kept, not redone
    assert event_count(killed) == final
    assert facts(killed) == facts(clean)
    assert states(killed) == states(clean)


@pytest.mark.slow
def test_two_imports_of_one_file_at_once_apply_each_record_once(make_app, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(demo_feed(300, seed=4))
    clean, shared = make_app(), make_app()
    out, err = _cli(clean, "import", str(feed)).communicate(timeout=120)
    assert "rejected: 0" in out, err
    first, second = (_cli(shared, "import", str(feed), "--batch-size", "50") for _ in range(2))
    outputs = [process.communicate(timeout=120) for process in (first, second)]
    applied = []
    for out, err in outputs:
        assert "rejected: 0" in out, err
        applied.append(int(out.split("applied: ")[1].split(",")[0]))
    read = int(outputs[0][0].split("records read: ")[1].split(",")[0])
    assert sum(applied) == read  # every record applied by exactly one of the two
    assert facts(shared) == facts(clean)
    assert states(shared) == states(clean)


# -- in parallel: --jobs N -------------------------------------------------------------------------
def test_the_split_keeps_each_customer_group_whole_in_the_file_order(tmp_path):
    from ledger_collect.feed.split import partition

    feed = tmp_path / "feed.jsonl"
    feed.write_text("\ufeff" + jsonl(                                      # a BOM first
        customer("H"),                                                      # 1 head office
        customer("B", head_office="H"),                                     # 2 its branch
        customer("X"),                                                      # 3 another group
        invoice("IB", customer="B"),                                        # 4 branch invoice
        invoice("IX", customer="X"),                                        # 5
        payment("P1", "10.00", ("IB", "10.00"), customer="H"),              # 6 head pays IB
        {"kind": "clearing", "source_id": "CL1", "invoice": "IX",           # 7 by its invoice
         "date": "2026-10-10"},
        "not json",                                                         # 8 bad: first part
        {"kind": "credit_memo", "source_id": "CM1", "customer": " X ",      # 9 spaces as read
         "amount": "5.00", "currency": "EUR", "date": "2026-10-10"},
        json.dumps(invoice("IX2", customer="X", note=float("nan"))),        # 10 json reads it
    ))
    mask, groups = partition(feed, None, 2)
    assert mask[1] == mask[2] == mask[4] == mask[6]
    assert mask[3] == mask[5] == mask[7] == mask[9] == mask[10] != mask[1]
    assert mask[8] == 0
    assert groups.load == [5, 5] and groups.deferred == 0


def test_a_record_joining_groups_of_two_parts_waits_with_its_group_for_a_last_pass(
        make_app, tmp_path):
    from ledger_collect.feed.split import DEFERRED, partition

    feed = tmp_path / "feed.jsonl"
    feed.write_text(jsonl(
        customer("A"),                                                      # 1 part one
        customer("B"),                                                      # 2 part two
        invoice("IA", customer="A"),                                        # 3
        invoice("IB", customer="B"),                                        # 4
        {**customer("B", head_office="A"), "source_id": "CUS-B-2"},         # 5 B joins A
        payment("P1", "10.00", ("IB", "10.00"), customer="A"),              # 6 A pays IB
        invoice("IA2", customer="A"),                                       # 7 A's group
        customer("X"),                                                      # 8 elsewhere
        payment("P2", "5.00", ("IB", "5.00"), customer="B"),                # 9 B's group
    ))
    mask, groups = partition(feed, None, 2)
    assert mask[1] == mask[3] != mask[2] == mask[4]
    assert [mask[line] for line in (5, 6, 7, 9)] == [DEFERRED] * 4 != [mask[8]] * 4
    assert groups.deferred == 4 and sum(groups.load) == 5

    one, two = make_app(), make_app()
    out1, err1 = _cli(one, "import", str(feed), "--jobs", "1").communicate(timeout=120)
    out2, err2 = _cli(two, "import", str(feed), "--jobs", "2").communicate(timeout=120)
    assert "rejected: 0" in out1, err1
    assert out2.splitlines()[0] == out1.splitlines()[0], err2  # A paid its branch's invoice
    assert facts(two) == facts(one)
    assert states(two) == states(one)


def test_a_parallel_import_ends_as_one_process_does_and_reports_bad_lines_by_line(
        make_app, tmp_path):
    lines = demo_feed(400, seed=5).splitlines()
    lines[9] = '{"kind": "invoice", "source_id": '                            # line 10
    lines.insert(200, json.dumps(invoice("NOPE", customer="UNKNOWN")))        # line 201
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n")
    one, two = make_app(), make_app()
    out1, err1 = _cli(one, "import", str(feed), "--jobs", "1").communicate(timeout=120)
    out2, err2 = _cli(two, "import", str(feed), "--jobs", "2",
                      "--batch-size", "50").communicate(timeout=120)
    assert "importing with 2 processes" in err2
    bad1 = [line for line in err1.splitlines() if line.startswith(str(feed))]
    bad2 = [line for line in err2.splitlines() if line.startswith(str(feed))]
    assert [b.split(":")[1] for b in bad2] == ["10", "201"]
    assert bad2 == bad1
    assert out1.splitlines()[0] == out2.splitlines()[0]  # records read, applied, ... rejected: 2
    assert "rejected: 2" in out2
    assert event_count(two) == event_count(one)
    assert facts(two) == facts(one)
    assert states(two) == states(one)


def test_strict_with_more_than_one_job_is_refused_with_the_reason(make_app, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(jsonl(customer()))
    app = make_app()
    process = _cli(app, "import", str(feed), "--strict", "--jobs", "2")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "one transaction" in err and "--jobs 1" in err
    assert event_count(app) == 0


@pytest.mark.slow
def test_a_parallel_import_killed_mid_way_and_run_again_ends_as_one_clean_run(make_app, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(demo_feed(800, seed=3))
    clean, killed = make_app(), make_app()
    out, err = _cli(clean, "import", str(feed), "--jobs", "1").communicate(timeout=120)
    assert "rejected: 0" in out, err
    final = event_count(clean)

    victim = _cli(killed, "import", str(feed), "--batch-size", "100", "--jobs", "2")
    deadline = time.monotonic() + 120
    while victim.poll() is None and time.monotonic() < deadline:
        if event_count(killed) >= final // 3:
            os.kill(victim.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL, "the import finished before it could be killed"
    time.sleep(1.0)  # the orphaned workers stop after their current batch
    partial = event_count(killed)
    assert 0 < partial < final

    out, err = _cli(killed, "import", str(feed), "--jobs", "2").communicate(timeout=120)
    assert "rejected: 0" in out, err
    assert "already present: 0," not in out
    assert event_count(killed) == final
    assert facts(killed) == facts(clean)
    assert states(killed) == states(clean)
