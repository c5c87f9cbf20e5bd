"""The casework read models — promises, follow-ups and activities (casework), disputes,
emails and conversations (correspondence): every row agrees with its aggregate, the lists
filter, sort and page exactly, and each model followed live equals a rebuild."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from model_helpers import (
    TODAY,
    WHO,
    assert_equals_rebuild,
    follow_while,
    run_async,
    write_casework,
)

from ledger_collect.api.overview_schema import READS
from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    add_dispute_note,
    create_activity,
    create_email,
    create_resubmission,
    mark_email_partly_sent,
    move_resubmission,
    open_dispute,
    record_dispute_progress,
    resolve_dispute,
    start_dispute_processing,
)
from ledger_collect.commands.promise_commands import record_promise, withdraw_promise
from ledger_collect.commands.receivable_commands import (
    assign_customer,
    post_invoice,
    register_customer,
)
from ledger_collect.projections.casework import (
    ListFilter,
    activities_by_customer,
    list_activities,
    list_promises,
    list_resubmissions,
    promises_by_customer,
    resubmissions_by_customer,
)
from ledger_collect.projections.correspondence import (
    customer_contacts_by_customer,
    emails_by_customer,
)
from ledger_collect.projections.disputes import (
    dispute_notes_by_dispute,
    disputes_by_customer,
    list_disputes,
)
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.rows import (
    CursorError,
    ListArgumentError,
    fetch_parts,
)
from ledger_collect.storage.database import Database

MODELS = ("customers", "casework", "disputes", "correspondence")


def customer_ids(database: Database) -> list[UUID]:
    with database.connect() as conn:
        return [row[0] for row in conn.execute("SELECT id FROM customers ORDER BY number")]


def test_every_record_agrees_with_its_aggregate(app: Collections, database: Database) -> None:
    write_casework(app, 30, seed=11)
    catch_up(app, MODELS, page_size=9)
    ids = customer_ids(database)
    repo = app.repository
    promises = run_async(database, promises_by_customer, ids)
    statuses = set()
    for promise in (p for found in promises.values() for p in found):
        aggregate = repo.get(promise.id)
        assert (promise.status, promise.paid_amount, promise.level, promise.replaced_by,
                promise.withdrawal_reason) == (
            aggregate.status, aggregate.paid_amount, aggregate.level, aggregate.replaced_by,
            aggregate.withdrawal_reason)
        assert [(i.due_date, i.amount, i.status, i.covered) for i in promise.instalments] == [
            (i.due_date, i.amount, i.status, i.covered) for i in aggregate.instalments]
        statuses.add(promise.status)
    assert {"open", "in_process", "broken", "withdrawn", "closed"} <= statuses
    disputes = run_async(database, disputes_by_customer, ids)
    dispute_ids = [d.id for found in disputes.values() for d in found]
    notes = run_async(database, dispute_notes_by_dispute, dispute_ids)
    for dispute in (d for found in disputes.values() for d in found):
        aggregate = repo.get(dispute.id)
        assert (dispute.status, dispute.processor, dispute.original_amount, dispute.credited,
                dispute.paid, dispute.written_off, dispute.still_disputed) == (
            aggregate.status, aggregate.processor, aggregate.original_amount,
            aggregate.credited, aggregate.paid, aggregate.written_off, aggregate.still_disputed)
        assert {n.note_id: n.text for n in notes[dispute.id]} == aggregate.notes
        assert dispute.notes == len(aggregate.notes)
    for follow_up in (r for found in run_async(database, resubmissions_by_customer,
                                                ids).values() for r in found):
        aggregate = repo.get(follow_up.id)
        assert (follow_up.follow_up_date, follow_up.reason, follow_up.status,
                follow_up.moves) == (aggregate.follow_up_date, aggregate.reason,
                                     aggregate.status, len(aggregate.moves))
        assert follow_up.move_reason == (aggregate.moves[-1]["reason"] if aggregate.moves
                                         else None)
    for task in (a for found in run_async(database, activities_by_customer, ids).values()
                 for a in found):
        aggregate = repo.get(task.id)
        assert (task.due_date, task.status, task.closing_note) == (
            aggregate.due_date, aggregate.status, aggregate.closing_note)
    for email in (e for found in run_async(database, emails_by_customer, ids).values()
                  for e in found):
        aggregate = repo.get(email.id)
        assert (email.status, email.attempt, email.to, email.cc) == (
            aggregate.status, aggregate.attempt, aggregate.to, aggregate.cc)
    for talk in (c for found in run_async(database, customer_contacts_by_customer,
                                          ids).values() for c in found):
        aggregate = repo.get(talk.id)
        assert (talk.summary, talk.dispute_ids, talk.resubmission_ids) == (
            aggregate.summary, aggregate.dispute_ids, aggregate.resubmission_ids)


def test_one_customers_casework_in_detail(app: Collections, database: Database) -> None:
    customer = app.run(register_customer, number="D-1", name="Durand", segment="north",
                       credit_limit=Decimal(0), currency="EUR", risk_class="A",
                       source_id="reg-D-1", **WHO).result
    invoices = [app.run(post_invoice, customer_number="D-1", document_number=f"D-{n}",
                        amount=Decimal("400.00"), currency="EUR",
                        posting_date=TODAY - timedelta(days=40),
                        due_date=TODAY - timedelta(days=10), source_id=f"d-{n}", **WHO).result
                for n in (1, 2)]
    dispute = app.run(open_dispute, customer, invoices, amount=Decimal("600.00"), reason="quantity",
                      processor="pat", note="half was missing", **WHO).result
    app.run(start_dispute_processing, dispute, **WHO)
    app.run(record_dispute_progress, dispute, credited=Decimal("100.00"), **WHO)
    app.run(add_dispute_note, dispute, "credit memo for the first part", **WHO)
    app.run(resolve_dispute, dispute, "accepted", credited=Decimal("300.00"),
            paid=Decimal("150.00"),
            written_off=Decimal("50.00"), **WHO)
    email = app.run(create_email, customer, to=["ap@d.example"], cc=["cfo@d.example"],
                    template="statement", attachments=["statement.pdf"], zipped=True,
                    **WHO).result
    app.run(mark_email_partly_sent, email, {"cfo@d.example": "mailbox full"}, **WHO)
    catch_up(app, MODELS, page_size=3)
    [case] = run_async(database, disputes_by_customer, [customer])[customer]
    assert (case.status, case.resolution, case.original_amount, case.credited, case.paid,
            case.written_off, case.still_disputed, case.notes, case.invoice_ids) == (
        "resolved", "accepted", Decimal("600.00"), Decimal("400.00"), Decimal("150.00"),
        Decimal("50.00"), Decimal("0.00"), 2, invoices)
    notes = run_async(database, dispute_notes_by_dispute, [dispute])[dispute]
    assert [(n.note_id, n.text) for n in notes[:1]] == [("opening", "half was missing")]
    assert notes[1].text == "credit memo for the first part"
    [sent] = run_async(database, emails_by_customer, [customer])[customer]
    assert (sent.status, sent.to, sent.cc, sent.bcc, sent.attachments, sent.zipped,
            sent.failures) == ("partly_sent", ["ap@d.example"], ["cfo@d.example"], [],
                               ["statement.pdf"], True, {"cfo@d.example": "mailbox full"})


# -- the lists ------------------------------------------------------------------------------------
@pytest.fixture
def lists(app: Collections, database: Database) -> dict[str, Any]:
    """Two customers (alice's in north, bob's in south), five promises and five activities
    on dates TODAY+1 .. TODAY+5 alternating between them, amounts 10 .. 50 in reverse."""
    ids = {}
    for number, segment, specialist in (("L-1", "north", "alice"), ("L-2", "south", "bob")):
        ids[number] = app.run(register_customer, number=number, name=number, segment=segment,
                              credit_limit=Decimal(0), currency="EUR",
                              risk_class="A", source_id=f"r-{number}", **WHO).result
        app.run(assign_customer, ids[number], specialist, **WHO)
    promises = []
    for n in range(1, 6):
        number = ("L-1", "L-2")[n % 2]
        invoice = app.run(post_invoice, customer_number=number, document_number=f"I-{n}",
                          amount=Decimal("100.00"), currency="EUR",
                          posting_date=TODAY, due_date=TODAY, source_id=f"i-{n}",
                          **WHO).result
        promises.append(app.run(record_promise, invoice_id=invoice, amount=Decimal(60 - 10 * n),
                                promised_date=TODAY + timedelta(days=n), **WHO).result)
        app.run(create_activity, ids[number], specialist=("anna", "bert")[n % 2],
                due_date=TODAY + timedelta(days=n), description=f"task {n}", **WHO)
    app.run(withdraw_promise, promises[0], reason="mistake", **WHO)
    catch_up(app, MODELS)
    return {"north": ids["L-1"], "south": ids["L-2"], "promises": promises}


def days(page: Any, attribute: str = "promised_date") -> list[int]:
    return [(getattr(item, attribute) - TODAY).days for item in page.items]


def test_list_filters(database: Database, lists: dict[str, Any]) -> None:
    def promised(**given: Any) -> list[int]:
        return days(run_async(database, list_promises, ListFilter(**given)))

    assert promised() == [1, 2, 3, 4, 5]
    assert promised(customer_id=lists["north"]) == [2, 4]
    assert promised(specialist="bob") == [1, 3, 5]  # the customer's assigned specialist
    assert promised(specialist="nobody") == []
    assert promised(statuses=["withdrawn"]) == [1]
    assert promised(statuses=["open", "withdrawn"]) == [1, 2, 3, 4, 5]
    assert promised(date_from=TODAY + timedelta(days=2),
                    date_to=TODAY + timedelta(days=4)) == [2, 3, 4]  # both ends inclusive
    assert promised(date_from=TODAY + timedelta(days=5)) == [5]
    assert promised(date_to=TODAY) == []
    assert promised(specialist="bob", statuses=["open"],
                    date_from=TODAY + timedelta(days=2)) == [3, 5]
    tasks = run_async(database, list_activities, ListFilter(specialist="anna"))
    assert days(tasks, "due_date") == [2, 4]  # an activity's own specialist


def test_list_sort_orders(database: Database, lists: dict[str, Any]) -> None:
    def amounts(**order: Any) -> list[Decimal]:
        return [p.amount for p in run_async(database, list_promises, **order).items]

    assert amounts(sort="amount") == [Decimal(a) for a in (10, 20, 30, 40, 50)]
    assert amounts(sort="amount", descending=True) == [Decimal(a) for a in (50, 40, 30, 20, 10)]
    assert days(run_async(database, list_promises, descending=True)) == [5, 4, 3, 2, 1]
    ties = run_async(database, list_promises, sort="issued_on")  # all issued today: by id
    assert [p.id for p in ties.items] == sorted(lists["promises"])
    with pytest.raises(ListArgumentError, match="cannot be sorted by 'colour'"):
        run_async(database, list_promises, sort="colour")


def test_list_pages_continue_exactly_and_keep_their_sort(database: Database,
                                                         lists: dict[str, Any]) -> None:
    first = run_async(database, list_promises, sort="amount", descending=True, first=2)
    assert [p.amount for p in first.items] == [Decimal(50), Decimal(40)] and first.has_next_page
    second = run_async(database, list_promises, sort="amount", descending=True, first=2,
                       after=first.end_cursor)
    assert [p.amount for p in second.items] == [Decimal(30), Decimal(20)]
    last = run_async(database, list_promises, sort="amount", descending=True, first=2,
                     after=second.end_cursor)
    assert [p.amount for p in last.items] == [Decimal(10)] and not last.has_next_page
    with pytest.raises(CursorError, match="sorted by amount desc, not by amount asc"):
        run_async(database, list_promises, sort="amount", first=2, after=first.end_cursor)
    with pytest.raises(CursorError, match="not by promised_date asc"):
        run_async(database, list_promises, after=first.end_cursor)


def test_dispute_and_follow_up_lists(app: Collections, database: Database,
                                     lists: dict[str, Any]) -> None:
    north, south = lists["north"], lists["south"]
    invoice = {n: app.run(post_invoice, customer_number=n, document_number=f"X-{n}",
                          amount=Decimal("500.00"), currency="EUR", posting_date=TODAY,
                          due_date=TODAY, source_id=f"x-{n}", **WHO).result
               for n in ("L-1", "L-2")}
    later = {"actor": "erp", "business_date": TODAY + timedelta(days=3)}
    big = app.run(open_dispute, north, [invoice["L-1"]], amount=Decimal("300.00"), reason="price",
                  processor="pat", **WHO).result
    small = app.run(open_dispute, south, [invoice["L-2"]], amount=Decimal("80.00"),
                    reason="quality",
                    processor="quinn", **later).result
    app.run(record_dispute_progress, big, credited=Decimal("250.00"), **later)
    for customer, when in ((north, 20), (south, 10)):
        follow_up = app.run(create_resubmission, customer, follow_up_date=TODAY + timedelta(days=5),
                            reason="holidays", **WHO).result
        app.run(move_resubmission, follow_up, TODAY + timedelta(days=when), reason="longer", **WHO)
    catch_up(app, MODELS)

    def cases(**kwargs: Any) -> list[UUID]:
        return [d.id for d in run_async(database, list_disputes, **kwargs).items]

    assert cases() == [big, small]  # by opening date
    assert cases(sort="still_disputed") == [big, small]  # 50.00 still disputed, then 80.00
    assert cases(sort="original_amount") == [small, big]
    assert cases(processor="quinn") == [small]
    assert cases(given=ListFilter(specialist="alice")) == [big]
    assert cases(given=ListFilter(date_from=TODAY + timedelta(days=1))) == [small]
    follow_ups = run_async(database, list_resubmissions)
    assert [(r.customer_id, r.moves) for r in follow_ups.items] == [(south, 1), (north, 1)]
    assert days(run_async(database, list_resubmissions,
                          ListFilter(date_to=TODAY + timedelta(days=10))),
                "follow_up_date") == [10]


@pytest.mark.parametrize("name", ["casework", "disputes", "correspondence"])
def test_followed_live_each_model_equals_a_rebuild(app: Collections, database: Database,
                                                   name: str) -> None:
    write_casework(app, 8, seed=21)
    follow_while(app, database, [name],
                 lambda: [write_casework(app, 3, seed=70 + n, prefix="L", chunk=1)
                          for n in range(4)], page_size=25)
    live = assert_equals_rebuild(app, database, name)
    assert all(len(table) >= 20 for table in live.values()), {
        table: len(found) for table, found in live.items()}


def test_dates_are_dates(database: Database, lists: dict[str, Any]) -> None:
    """What the readers hand out is typed (the API serialises them as is)."""
    [withdrawn] = run_async(database, list_promises, ListFilter(statuses=["withdrawn"])).items
    assert isinstance(withdrawn.promised_date, date) and withdrawn.ended_on == TODAY
    assert withdrawn.withdrawal_reason == "mistake"


def test_an_overviews_parts_read_in_one_statement_equal_each_reader_alone(
        app: Collections, database: Database) -> None:
    write_casework(app, 12, seed=5)
    catch_up(app, (*MODELS, "open_items"), page_size=50)
    ids = customer_ids(database)
    with database.connect() as conn:  # make some of them branches: head offices are a part
        conn.execute("UPDATE customers SET head_office_id = %s WHERE id = ANY(%s)",
                     (ids[0], ids[1:4]))

    parts = {part.name: part.part for part in READS.parts}  # all an overview may read
    assert len(parts) == 13

    async def both(pool: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        alone = {name: await part.fetch(pool, ids) for name, part in parts.items()}
        together = await fetch_parts(pool, parts, ids)
        async with pool.acquire() as conn:
            await conn.reload_schema_state()  # asyncpg forgets its type codecs (as after a
            again = await fetch_parts(conn, parts, ids)  # swap): still decoded
        return alone, together, again

    alone, together, again = run_async(database, both)
    for name in parts:
        assert together[name] == again[name], name
        if name == "head_office":  # keyed by the head offices' own ids
            assert {k: v for k, v in together[name].items() if v} == {ids[0]: alone[
                "customer"][ids[0]]}
        else:
            assert together[name] == alone[name], name
    assert sum(map(len, together["promises"].values())) > 10
    assert any(p.instalments for found in together["promises"].values()
               for p in found)  # date[] and numeric[] columns inside the records
    assert len(together["branches"][ids[0]]) == 3
