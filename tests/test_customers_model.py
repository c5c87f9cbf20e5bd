"""The customers read model: master data, assignment, contact persons, notes and the last change
agree with the Customer aggregates; search by number or name prefix; cursor pages; the model
followed live equals a rebuild; an erased customer's personal data is gone after a rebuild."""

from __future__ import annotations

from datetime import timedelta
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

from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import (
    add_contact,
    add_customer_note,
    assign_customer,
    register_customer,
    remove_contact,
    set_default_contact,
    unassign_customer,
)
from ledger_collect.projections.customers import (
    branches_by_customer,
    contact_persons_by_customer,
    customers_by_id,
    notes_by_customer,
    search_customers,
)
from ledger_collect.projections.engine import catch_up, rebuild
from ledger_collect.projections.rows import MAX_PAGE, CursorError, ListArgumentError, search_key
from ledger_collect.storage.database import Database


def register(app: Collections, number: str, name: str, segment: str = "north",
             head_office: str | None = None) -> Any:
    return app.run(register_customer, number=number, name=name, segment=segment,
                   credit_limit=Decimal(1000), currency="EUR", risk_class="B",
                   head_office_number=head_office, source_id=f"reg-{number}",
                   **WHO).result


def numbers(page: Any) -> list[str]:
    return [c.number for c in page.items]


def test_every_customer_agrees_with_its_aggregate(app: Collections, database: Database) -> None:
    write_casework(app, 24, seed=3)
    catch_up(app, "customers", page_size=7)  # pages split customers' events anywhere
    with database.connect() as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM customers")]
    assert len(ids) == 24
    found = run_async(database, customers_by_id, ids)
    people = run_async(database, contact_persons_by_customer, ids)
    notes = run_async(database, notes_by_customer, ids)
    removed = 0
    for customer_id in ids:
        aggregate = app.repository.get(customer_id)
        record = found[customer_id]
        assert (record.number, record.name, record.segment, record.specialist,
                record.credit_limit, record.risk_class, record.default_contact_id) == (
            aggregate.number, aggregate.name, aggregate.segment, aggregate.specialist,
            aggregate.credit_limit, aggregate.risk_class, aggregate.default_contact_id)
        current = {p.contact_id: {"name": p.name, "email": p.email, "phone": p.phone,
                                  "role": p.role}
                   for p in people[customer_id] if p.removed_on is None}
        assert current == aggregate.contacts
        assert [p.contact_id for p in people[customer_id] if p.is_default] == [
            aggregate.default_contact_id]
        removed += sum(p.removed_on is not None for p in people[customer_id])
        assert {n.note_id: n.text for n in notes[customer_id]} == aggregate.notes
    assert removed > 0  # some defaults were removed and handed over


def test_master_data_assignment_contacts_and_the_last_change(app: Collections,
                                                             database: Database) -> None:
    customer = register(app, "C-1", "Dupont")
    app.run(register_customer, number="C-1", name="Dupont SA", segment="south",
            credit_limit=Decimal("2500.50"), currency="EUR", risk_class="D",
            source_id="reg-C-1-v2", **WHO)
    app.run(add_contact, customer, "p1", name="Marie", email="m@d.example", **WHO)
    app.run(add_contact, customer, "p2", name="Paul", phone="+33 6", role="buyer", **WHO)
    app.run(set_default_contact, customer, "p2", **WHO)
    app.run(remove_contact, customer, "p2", **WHO)  # the default leaves: the oldest one takes over
    later = {"actor": "sue", "business_date": TODAY + timedelta(days=2)}
    app.run(assign_customer, customer, "alice", **later)
    catch_up(app, "customers", page_size=2)
    record = run_async(database, customers_by_id, [customer])[customer]
    assert (record.name, record.segment, record.credit_limit, record.risk_class,
            record.specialist, record.default_contact_id) == (
        "Dupont SA", "south", Decimal("2500.50"), "D", "alice", "p1")
    assert (record.registered_on, record.changed_on, record.changed_by) == (
        TODAY, TODAY + timedelta(days=2), "sue")
    people = run_async(database, contact_persons_by_customer, [customer])[customer]
    assert [(p.contact_id, p.name, p.is_default, p.removed_on) for p in people] == [
        ("p1", "Marie", True, None), ("p2", "Paul", False, TODAY)]
    app.run(unassign_customer, customer, **WHO)
    catch_up(app, "customers")
    assert run_async(database, customers_by_id, [customer])[customer].specialist is None


def test_branches_and_unknown_ids(app: Collections, database: Database) -> None:
    head = register(app, "H-1", "Holding")
    for number in ("B-2", "B-1"):
        register(app, number, f"Branch {number}", head_office="H-1")
    alone = register(app, "S-1", "Solo")
    catch_up(app, "customers")
    found = run_async(database, branches_by_customer, [head, alone])
    assert [b.number for b in found[head]] == ["B-1", "B-2"] and found[alone] == []
    assert {b.head_office_id for b in found[head]} == {head}
    unknown = UUID(int=1)
    assert run_async(database, customers_by_id, [unknown, alone]) == {
        unknown: None, alone: run_async(database, customers_by_id, [alone])[alone]}


def test_search_by_number_or_name_prefix_ignoring_case_and_accents(
        app: Collections, database: Database) -> None:
    for number, name in (("C-100", "Société Générale"), ("C-101", "societe dupont"),
                         ("C-200", "Alpha"), ("X-9", "C-1 Imports"), ("C_1", "Beta")):
        register(app, number, name)
    catch_up(app, "customers")

    def search(text: str) -> list[str]:
        return numbers(run_async(database, search_customers, search=text))

    assert search("c-1") == ["C-100", "C-101", "X-9"]  # number prefix, or name prefix
    assert search("SOCIÉTÉ") == ["C-100", "C-101"] == search("soc")
    assert search("générale") == []  # a prefix, not a word inside the name
    assert search("c_") == ["C_1"]  # _ and % are no wildcards
    assert search("%") == []
    assert search("  ") == search("") == ["C-100", "C-101", "C-200", "C_1", "X-9"]


def test_segment_specialist_and_unassigned_filters(app: Collections,
                                                   database: Database) -> None:
    a = register(app, "A-1", "Anna", "north")
    register(app, "A-2", "Anton", "south")
    c = register(app, "A-3", "Ansgar", "north")
    app.run(assign_customer, a, "alice", **WHO)
    app.run(assign_customer, c, "bob", **WHO)
    catch_up(app, "customers")

    def found(**filters: Any) -> list[str]:
        return numbers(run_async(database, search_customers, **filters))

    assert found(segment="north") == ["A-1", "A-3"]
    assert found(specialist="alice") == ["A-1"]
    assert found(unassigned=True) == ["A-2"]
    assert found(segment="north", specialist="bob", search="ans") == ["A-3"]
    assert found(segment="north", unassigned=True) == []


def test_pages_continue_exactly_after_their_cursor(app: Collections,
                                                   database: Database) -> None:
    for n in range(1, 8):
        register(app, f"P-{n}", f"Customer {n}")
    catch_up(app, "customers")
    first = run_async(database, search_customers, first=3)
    assert numbers(first) == ["P-1", "P-2", "P-3"]
    assert (first.has_next_page, first.has_previous_page) == (True, False)
    register(app, "P-0", "Before the cursor")  # rows added before or after do not shift it
    register(app, "P-35", "After the cursor")
    catch_up(app, "customers")
    second = run_async(database, search_customers, first=3, after=first.end_cursor)
    assert numbers(second) == ["P-35", "P-4", "P-5"] and second.has_next_page
    third = run_async(database, search_customers, first=3, after=second.end_cursor)
    assert numbers(third) == ["P-6", "P-7"]
    assert (third.has_next_page, third.has_previous_page) == (False, True)
    exact = run_async(database, search_customers, first=2, after=second.end_cursor)
    assert numbers(exact) == ["P-6", "P-7"] and not exact.has_next_page  # no empty page after
    after_last = run_async(database, search_customers, after=third.end_cursor)
    assert after_last.items == [] and after_last.end_cursor is None


def test_page_size_is_capped_and_bad_arguments_are_refused(app: Collections,
                                                           database: Database) -> None:
    batch = app.batch()
    for n in range(MAX_PAGE + 3):
        register_customer(batch, number=f"M-{n:04d}", name="Many", segment="north",
                          credit_limit=Decimal(1), currency="EUR", risk_class="A",
                          source_id=f"m-{n}", **WHO)
    app.save_batch(batch)
    catch_up(app, "customers")
    page = run_async(database, search_customers, first=10_000)
    assert len(page.items) == MAX_PAGE == 100 and page.has_next_page
    rest = run_async(database, search_customers, first=10_000, after=page.end_cursor)
    assert numbers(rest) == ["M-0100", "M-0101", "M-0102"] and not rest.has_next_page
    assert len(run_async(database, search_customers).items) == 50
    with pytest.raises(ListArgumentError, match=r"at least one row per page \(first: 0\)"):
        run_async(database, search_customers, first=0)
    with pytest.raises(CursorError, match="is not a cursor of this list"):
        run_async(database, search_customers, after="not-a-cursor")


def test_followed_live_the_model_equals_a_rebuild(app: Collections, database: Database) -> None:
    write_casework(app, 12, seed=5)
    follow_while(app, database, ["customers"],
                 lambda: [write_casework(app, 4, seed=50 + n, prefix="L", chunk=2)
                          for n in range(4)], page_size=40)
    live = assert_equals_rebuild(app, database, "customers")
    assert len(live["customers"]) == 28 and len(live["customer_notes"]) == 28


def test_an_erased_customer_reads_erased_after_a_rebuild(app: Collections,
                                                         database: Database) -> None:
    customer = register(app, "E-1", "Erasable Ltd")
    keep = register(app, "E-2", "Kept Ltd")
    for who in (customer, keep):
        app.run(add_contact, who, "p", name="Jean Martin", email="jean@e.example", **WHO)
        app.run(add_customer_note, who, "n", "call after 5", **WHO)
    catch_up(app, "customers")
    app.keyring.erase(customer, "GDPR request 42")
    rebuild(app, "customers")
    people = run_async(database, contact_persons_by_customer, [customer, keep])
    notes = run_async(database, notes_by_customer, [customer, keep])
    assert (people[customer][0].name, people[customer][0].email, notes[customer][0].text) == (
        "[erased]", "[erased]", "[erased]")
    assert (people[keep][0].name, notes[keep][0].text) == ("Jean Martin", "call after 5")
    assert run_async(database, customers_by_id, [customer])[customer].name == "Erasable Ltd"


def test_search_keys_fold_case_accents_and_compatibility_forms() -> None:
    assert search_key("Société Générale – Lyon") == "societe generale – lyon"
    assert search_key("STRAẞE ﬁne Ærø") == "strasse fine ærø"  # casefold, NFKD; Æ, ø stay
    assert search_key("e\u0301te\u0301") == "ete"  # combining marks typed as such
    assert search_key("日本語") == "日本語"
    assert search_key(None) == search_key("") == ""
