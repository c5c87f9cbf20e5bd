"""Collections rules as the API applies them: who may pay which invoice, which day a payment
counts on, the amount to collect in the customer overview, personal data in the timeline."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from api.helpers import TODAY, Api, Portfolio
from ledger_collect.commands import receivable_commands as receivables
from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import create_email, open_dispute, record_contact
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.commands.receivable_commands import add_contact
from ledger_collect.domain.invoice import Invoice
from ledger_collect.projections.engine import catch_up

PAID = "... on PaymentApplied { partsRecorded } ... on Problem { code message }"


def apply_payment(api: Api, **payment: Any) -> dict[str, Any]:
    query = (f"mutation($input: ApplyPaymentInput!) {{ applyPayment(input: $input) "
             f"{{ __typename {PAID} }} }}")
    sent = {"currency": "EUR", "paymentDate": TODAY.isoformat(), **payment}
    found = api.data(query, {"input": sent}, user="erp")
    return found["applyPayment"]  # type: ignore[no-any-return]


def test_a_customer_pays_only_its_own_invoices(api: Api, app: Collections,
                                               portfolio: Portfolio) -> None:
    refused = apply_payment(api, sourceId="pay-x", customerNumber="C-1",
                            allocations=[{"invoiceNumber": "INV-C-2", "amount": "100.00"}])
    assert refused == {
        "__typename": "RuleBroken", "code": "INVOICE_OF_ANOTHER_CUSTOMER",
        "message": "invoice INV-C-2 belongs to customer C-2, which is neither customer C-1 nor "
                   "one of its branches"}
    assert app.repository.get(portfolio.south_invoice).open_amount == Decimal("1000.00")
    own = apply_payment(api, sourceId="pay-y", customerNumber="C-2",
                        allocations=[{"invoiceNumber": "INV-C-2", "amount": "100.00"}])
    assert own == {"__typename": "PaymentApplied", "partsRecorded": 1}


def test_a_payment_counts_on_its_payment_date_not_the_day_it_was_recorded(
        api: Api, app: Collections, portfolio: Portfolio) -> None:
    made = TODAY - timedelta(days=12)  # 11-11
    promised = date(2026, 11, 12)
    pid = app.run(record_promise, invoice_id=portfolio.north_invoice, amount=Decimal("100.00"),
                  promised_date=promised, tolerance_days=1, actor="alice",
                  business_date=made).result
    # Recorded today (11-23), dated 11-14: after the window (11-12 + 1 day's grace = 11-13).
    paid = apply_payment(api, sourceId="pay-late", customerNumber="C-1",
                         paymentDate="2026-11-14",
                         allocations=[{"invoiceNumber": "INV-C-1", "amount": "100.00"}])
    assert paid == {"__typename": "PaymentApplied", "partsRecorded": 1}
    promise = app.repository.get(pid)
    assert (promise.status, promise.valued_on) == ("broken", date(2026, 11, 14))
    applied = [e for e in app.repository.event_store.get(Invoice.create_id("INV-C-1"))
               if isinstance(e, Invoice.PaymentApplied)]
    assert [e.business_date for e in applied] == [date(2026, 11, 14)]


AMOUNT = """query($id: UUID!, $on: Date) { customerOverview(id: $id) {
    amountToCollect(asOf: $on) } }"""


def overview_amount(api: Api, customer: Any, on: date = TODAY) -> str:
    found = api.data(AMOUNT, {"id": str(customer), "on": on.isoformat()}, user="alice")
    return found["customerOverview"]["amountToCollect"]  # type: ignore[no-any-return]


def test_the_overview_shows_the_amount_to_collect_the_worklist_shows(
        api: Api, app: Collections, portfolio: Portfolio) -> None:
    """INV-C-1: 1000.00 overdue. A promise of 50.00 leaves 950.00 of it to collect; 20.00 paid
    towards the promise leaves 30.00 promised and still 950.00 to collect; a dispute of 100.00
    leaves 850.00."""
    catch_up(app)
    assert overview_amount(api, portfolio.north) == "1000.00"
    app.run(record_promise, invoice_id=portfolio.north_invoice, amount=Decimal("50.00"),
            promised_date=TODAY + timedelta(days=5), actor="alice",
            business_date=TODAY)
    catch_up(app)
    assert overview_amount(api, portfolio.north) == "950.00"
    app.run(receivables.apply_payment, source_id="pay-1", customer_number="C-1",
            allocations=[("INV-C-1", Decimal("20.00"))], unapplied=None,
            currency="EUR", payment_date=TODAY, actor="erp", business_date=TODAY)
    app.run(open_dispute, portfolio.north, [portfolio.north_invoice], amount=Decimal("100.00"),
            reason="price", processor="bob", actor="alice", business_date=TODAY)
    catch_up(app)
    assert overview_amount(api, portfolio.north) == "850.00"
    worklist = api.data("""{ worklist(specialist: "alice", includeProcessed: true) { nodes {
        number amountToCollect underPromise underDispute overdueAmount } } }""",
                        user="alice")["worklist"]["nodes"]
    assert worklist == [{"number": "C-1", "amountToCollect": "850.00",
                         "underPromise": "30.00", "underDispute": "100.00",
                         "overdueAmount": "980.00"}]


SEEN_BY_OTHERS = """query($id: UUID!) {
  timeline(customerId: $id) { edges { node { type description details } } }
  customerOverview(id: $id) {
    contacts { contactId role }
    conversations { nodes { channel contactPersonId } }
    emails { nodes { status template attachments zipped } }
  } }"""


def test_ids_templates_and_attachment_names_are_personal_data(
        api: Api, app: Collections, portfolio: Portfolio) -> None:
    """A contact id a user chose, an email's template text and its attachments' names reach
    neither the timeline's descriptions nor anyone who may not see the customer's personal
    data, and are sealed in the event store."""
    when = {"actor": "bob", "business_date": TODAY}
    south = portfolio.south
    app.run(add_contact, south, "jeanne.privee@example.org", name="Jeanne Privée", **when)
    talk = app.run(record_contact, south, channel="phone", result="reached",
                   contact_person_id="jeanne.privee@example.org", **when).result
    email = app.run(create_email, south, to=["ap@c2.example"], template="reminder",
                    attachments=["statement.pdf"], **when).result
    catch_up(app)
    response = api.post(SEEN_BY_OTHERS, {"id": str(south)}, user="alice")  # another segment
    assert response.status_code == 200
    assert "jeanne" not in response.text.lower(), response.text
    body = response.json()
    descriptions = {n["node"]["type"]: n["node"]["description"]
                    for n in body["data"]["timeline"]["edges"]}
    assert descriptions["CONTACT"] == "Phone conversation by bob: reached"
    assert descriptions["EMAIL"] == "Email with 1 attachment created, pending"
    denied = {".".join(str(p) for p in e["path"]) for e in body["errors"]}
    assert {"customerOverview.contacts.0.contactId",
            "customerOverview.conversations.nodes.0.contactPersonId",
            "customerOverview.emails.nodes.0.template",
            "customerOverview.emails.nodes.0.attachments"} <= denied

    own = api.data(SEEN_BY_OTHERS, {"id": str(south)}, user="bob")
    assert own["customerOverview"]["emails"]["nodes"][0]["template"] == "reminder"
    assert own["customerOverview"]["conversations"]["nodes"][0]["contactPersonId"] == (
        "jeanne.privee@example.org")
    with app.database.connect() as conn:
        stored = {row[0]: bytes(row[1]) for row in conn.execute(
            "SELECT originator_id, state FROM collections_events"
            " WHERE originator_id = ANY(%s)", ([talk, email],))}
    assert all(b"jeanne" not in state.lower() for state in stored.values())
