"""The fast event path (``speedups.events``) makes exactly what the library's path makes.

Every ``@event`` method and every creation is shadowed by the library's own path on a copy of
the aggregate: the event's class, its fields in order and their values (all but the clock's
timestamp), the aggregate's state and version, and any error must be the same. A scenario that
runs every command of the domain (the ERP import of a demo portfolio, then the casework) must
meet every fast event class at least once. (The library functions the fast path mirrors are
pinned in ``test_speedups``.)
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing import domain as library
from eventsourcing.domain import Aggregate, BoundCommandMethodDecorator

from ledger_collect.commands import agency_commands as ac
from ledger_collect.commands import dunning_commands as dc
from ledger_collect.commands import retention_commands as rt
from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import (
    add_dispute_note,
    change_dispute_processor,
    close_activity,
    close_dispute,
    complete_resubmission,
    correct_and_resend_email,
    create_activity,
    create_email,
    create_resubmission,
    link_to_contact,
    mark_email_failed,
    mark_email_partly_sent,
    mark_email_sent,
    move_resubmission,
    open_dispute,
    record_contact,
    record_dispute_progress,
    reschedule_activity,
    resolve_dispute,
    start_dispute_processing,
)
from ledger_collect.commands.daily_worklist_commands import SegmentRanking, generate_worklists
from ledger_collect.commands.email_commands import save_email_template
from ledger_collect.commands.erasure_commands import complete_erasure, request_erasure
from ledger_collect.commands.job_commands import (
    fail_job_run,
    finish_job_run,
    request_job_run,
    start_job_run,
)
from ledger_collect.commands.promise_commands import (
    record_promise,
    value_promises,
    withdraw_promise,
)
from ledger_collect.commands.receivable_commands import (
    add_contact,
    add_customer_note,
    apply_payment,
    assign_customer,
    change_contact,
    clear_invoice,
    raise_dunning_level,
    register_customer,
    remove_contact,
    reverse_payment,
    set_default_contact,
    unassign_customer,
)
from ledger_collect.commands.team_commands import (
    cancel_absence,
    join_team,
    leave_team,
    record_absence,
)
from ledger_collect.domain.base import CollectionsAggregate
from ledger_collect.domain.compliance_run import ComplianceRun
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.daily_worklist import Ranked
from ledger_collect.domain.dunning_rules import Letter, LetterLine, letter_id
from ledger_collect.domain.invoice import Invoice
from ledger_collect.feed import Importer
from ledger_collect.feed.demo import demo_records
from ledger_collect.feed.records import parse_record
from ledger_collect.speedups import Speedups
from ledger_collect.speedups import events as fast_events
from ledger_collect.storage.database import Database

D = date(2026, 11, 23)
ALICE = {"actor": "alice", "business_date": D}


def _aggregate_classes() -> list[type]:
    import ledger_collect.commands.application  # noqa: F401 - imports every aggregate module

    found, todo = [], [CollectionsAggregate]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


def _state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items()
            if k not in ("_created_on", "_modified_on", "_pending_events")}


def _same_event(fast: Any, library: Any) -> None:
    assert type(fast) is type(library)
    assert list(vars(fast)) == list(vars(library))  # same fields, same order
    assert {k: v for k, v in vars(fast).items() if k != "timestamp"} == {
        k: v for k, v in vars(library).items() if k != "timestamp"}
    assert fast.timestamp.tzinfo == library.timestamp.tzinfo


class Shadow:
    """Runs the library's path beside every fast trigger and creation, and compares."""

    def __init__(self) -> None:
        self.met: set[type] = set()

    def trigger(self, fast: Any) -> Any:
        shadow = self

        def compared(aggregate: Any, *args: Any, **kwargs: Any) -> None:
            twin = copy.deepcopy(aggregate)
            pending = len(aggregate.pending_events)
            library_error = fast_error = None
            try:
                BoundCommandMethodDecorator(fast.event_decorator, twin)(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - compared below
                library_error = exc
            try:
                fast(aggregate, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001
                fast_error = exc
            assert type(fast_error) is type(library_error), (fast_error, library_error)
            assert _state(aggregate) == _state(twin)
            assert len(aggregate.pending_events) == len(twin.pending_events)
            if fast_error is not None:
                assert len(aggregate.pending_events) == pending
                raise fast_error
            _same_event(aggregate.pending_events[-1], twin.pending_events[-1])
            assert aggregate.modified_on == aggregate.pending_events[-1].timestamp
            shadow.met.add(type(aggregate.pending_events[-1]))

        return compared

    def create(self, original: Any) -> Any:
        shadow = self

        def compared(cls: type, kwargs: dict[str, Any]) -> Any:
            made = original(cls, dict(kwargs))
            if made is None:
                return None
            names = library._create_id_param_names[cls]
            derived = [cls.create_id(**{k: v for k, v in kwargs.items() if k in names})
                       for _ in range(2)]
            if derived[0] == derived[1]:  # not a random id: the fast path derived the same
                assert made.id == derived[0]
            original_create_id = cls.__dict__.get("create_id")
            cls.create_id = staticmethod(lambda *_, **__: made.id)  # the twin takes it too
            try:
                twin = type(Aggregate).__call__(cls, **kwargs)  # the library's path
            finally:
                if original_create_id is None:
                    del cls.create_id
                else:
                    cls.create_id = original_create_id
            assert _state(made) == _state(twin)
            [event], [twin_event] = made.pending_events, twin.pending_events
            _same_event(event, twin_event)
            assert made.created_on == made.modified_on == event.timestamp
            shadow.met.add(type(event))
            return made

        return compared


@pytest.fixture
def app(database: Database) -> Iterator[Collections]:
    """The application with the fast path on, whatever LEDGER_SPEEDUPS says: it is tested."""
    application = Collections(database, database.settings.with_changes(speedups=Speedups()))
    yield application
    application.close()


@pytest.fixture
def shadow(monkeypatch: pytest.MonkeyPatch) -> Iterator[Shadow]:
    watcher = Shadow()
    for cls in _aggregate_classes():
        for name, value in list(vars(cls).items()):
            if hasattr(value, "event_decorator"):
                monkeypatch.setattr(cls, name, watcher.trigger(value))
    monkeypatch.setattr(fast_events, "create", watcher.create(fast_events.create))
    yield watcher


def _fast_event_classes() -> set[type]:
    classes = set()
    for cls in _aggregate_classes():
        classes.update(library._created_event_classes[cls])
        classes.update(library.decorated_func_callers[value.event_decorator]
                       for value in vars(cls).values() if hasattr(value, "event_decorator"))
    return classes


def test_every_event_method_and_creation_of_the_domain_takes_the_fast_path() -> None:
    for cls in _aggregate_classes():
        assert fast_events.creator(cls) is not None, cls
        for name, value in vars(cls).items():
            assert type(value).__name__ != "CommandMethodDecorator" or name == "__init__", (
                f"{cls.__name__}.{name} takes the library's slow path")


def test_every_command_makes_the_events_the_library_would(
        app: Collections, shadow: Shadow) -> None:
    records = [parse_record(raw, line) for line, raw in
               enumerate(demo_records(40, 3, D), start=1)]
    result = Importer(app, today=D).run(records)
    assert not result.rejected and result.applied == len(records)
    _casework(app)
    _dunning(app)
    _compliance(app)
    _retention(app)
    _erasure(app)
    assert _fast_event_classes() - shadow.met == set()


def _compliance(app: Collections) -> None:
    run = ComplianceRun.start(action="archive", run_date=D, actor="compliance")
    run.resume(actor="compliance")
    run.segment_written(segment=1, streams={"invoice": 1}, events=2, actor="compliance")
    run.streams_purged(stream_ids=[run.id], events=2, actor="compliance")
    run.finish({"streams": 1}, actor="compliance")
    app.save(run)


def test_unusual_calls_take_the_library_path_with_its_errors() -> None:
    invoice = Invoice.post(customer_id=Customer.create_id("C1"), document_number="I-1",
                           amount=Decimal("10.00"), currency="EUR", posting_date=D,
                           due_date=D, source_id="s1", actor="erp", business_date=D)
    invoice._payment_applied("p1", Decimal("1.00"), "erp", D)  # positional: library's path
    invoice._payment_applied(source_id="p2", amount=Decimal("1.00"), actor="erp",
                             business_date=D)
    assert [type(e).__name__ for e in invoice.pending_events] == [
        "Posted", "PaymentApplied", "PaymentApplied"]
    assert invoice.version == 3 and invoice.payments == {"p1": Decimal("1.00"),
                                                          "p2": Decimal("1.00")}
    with pytest.raises(TypeError):
        invoice._payment_applied(source_id="p3", amount=Decimal("1.00"), actor="erp")
    with pytest.raises(TypeError):
        Invoice(customer_id=None, document_number="I-2")  # missing keywords: library's error
    with fast_events.library_path():
        slow = Invoice.post(customer_id=Customer.create_id("C1"), document_number="I-3",
                            amount=Decimal("10.00"), currency="EUR", posting_date=D,
                            due_date=D, source_id="s3", actor="erp", business_date=D)
    assert type(slow.pending_events[0]) is Invoice.Posted and slow.version == 1


def _erasure(app: Any) -> None:
    """The erasure request's record (the key's deletion is the key ring's)."""
    customer = app.run(register_customer, number="ERASED-1", name="Erased SA", segment="RETAIL",
                       credit_limit=Decimal("100.00"), currency="EUR", risk_class="A",
                       source_id="md-erased-1", **ALICE).result
    app.run(request_erasure, customer, "GDPR Art. 17(1)(a)", hold_reference="M-1", **ALICE)
    app.run(request_erasure, customer, "GDPR Art. 17(1)(a)", **ALICE)
    app.run(complete_erasure, customer, restricted_records=0, retained_until=None, **ALICE)


def _casework(app: Any) -> None:
    """Every casework command, on a customer the import brought in."""
    customer, (first, second) = _customer_with_two_open_invoices(app)
    later = D + timedelta(days=10)
    app.run(assign_customer, customer, "alice", **ALICE)
    app.run(unassign_customer, customer, **ALICE)
    app.run(register_customer, number=app.repository.get(customer).number, name="Renamed SA",
            segment="RETAIL", credit_limit=Decimal("1234.00"), currency=_currency(
                              app, customer), risk_class="C", source_id="CUS-again", **ALICE)
    app.run(add_contact, customer, "k9", name="Jeanne Martin", email="jeanne@acme.example",
            phone="+33 1 23 45 67 89", **ALICE)
    app.run(change_contact, customer, "k9", name="Jeanne Martin-Roux", email="jmr@acme.example",
            **ALICE)
    app.run(set_default_contact, customer, "k9", **ALICE)
    app.run(add_contact, customer, "k10", name="Paul Roux", **ALICE)
    app.run(remove_contact, customer, "k10", **ALICE)
    app.run(add_customer_note, customer, "n1", "Prefers calls in the morning", **ALICE)
    app.run(raise_dunning_level, first, actor="alice", business_date=D + timedelta(days=400))
    promise = app.run(record_promise, invoice_id=first, amount=Decimal("1.00"),
                      promised_date=D + timedelta(days=5), **ALICE).result
    app.run(apply_payment, source_id="PAY-shadow",
            customer_number=app.repository.get(customer).number,
            allocations=[(app.repository.get(first).document_number, Decimal("0.50"))],
            unapplied=None, currency=_currency(app, customer), payment_date=D,
            actor="erp", business_date=D)
    app.run(reverse_payment, source_id="REV-shadow",
            invoice_number=app.repository.get(first).document_number,
            payment_source_id="PAY-shadow", actor="erp", business_date=D)
    app.run(withdraw_promise, promise, reason="customer changed their mind", **ALICE)
    kept = app.run(record_promise, invoice_id=first, amount=Decimal("2.00"), promised_date=later,
                   instalments=[(D + timedelta(days=3), Decimal("1.00")),
                                (later, Decimal("1.00"))], **ALICE).result
    app.run(value_promises, [kept], as_of=later + timedelta(days=30), actor="valuation",
            business_date=later + timedelta(days=30))
    dispute = app.run(open_dispute, customer, [second], amount=Decimal("5.00"), reason="price",
                      processor="bob", note="says the price was 10 % lower", **ALICE).result
    app.run(start_dispute_processing, dispute, **ALICE)
    app.run(change_dispute_processor, dispute, "carol", **ALICE)
    app.run(record_dispute_progress, dispute, credited=Decimal("1.00"), **ALICE)
    app.run(add_dispute_note, dispute, "credit note asked for", **ALICE)
    app.run(resolve_dispute, dispute, "accepted", credited=Decimal("4.00"), **ALICE)
    app.run(close_dispute, dispute, **ALICE)
    follow_up = app.run(create_resubmission, customer, follow_up_date=later, reason="holiday",
                        **ALICE).result
    app.run(move_resubmission, follow_up, later + timedelta(days=1), reason="still away", **ALICE)
    app.run(complete_resubmission, follow_up, **ALICE)
    talk = app.run(record_contact, customer, channel="phone", result="reached",
                   contact_person_id="k9", summary="will pay", **ALICE).result
    app.run(link_to_contact, talk, resubmission_ids=[follow_up], **ALICE)
    email = app.run(create_email, customer, to=["a@acme.example", "b@acme.example"],
                    template="reminder", **ALICE).result
    app.run(mark_email_partly_sent, email, {"b@acme.example": "mailbox full"}, **ALICE)
    other = app.run(create_email, customer, to=["c@acme.example"], template="reminder",
                    **ALICE).result
    app.run(mark_email_failed, other, "no such host", **ALICE)
    app.run(correct_and_resend_email, other, to=["d@acme.example"], **ALICE)
    app.run(mark_email_sent, other, **ALICE)
    for body in ("Hallo", "Hallo!"):
        app.run(save_email_template, "statement", "de", subject="Kontoauszug", body=body,
                **ALICE)
    task = app.run(create_activity, customer, specialist="alice", due_date=later,
                   description="send the statement", **ALICE).result
    app.run(reschedule_activity, task, later + timedelta(days=2), **ALICE)
    app.run(close_activity, task, note="sent", **ALICE)
    jobs = {"actor": "jobs", "business_date": D}
    run = app.run(request_job_run, job="promise-valuation", run_key="2026-11-23T05:30:00+00:00",
                  trigger="scheduled", actor="scheduler", business_date=D).result
    app.run(start_job_run, run, worker="w1", **jobs)
    app.run(fail_job_run, run, error="OSError: disk unplugged", final=False, **jobs)
    app.run(start_job_run, run, worker="w1", **jobs)
    app.run(finish_job_run, run, counts={"valued": 1}, **jobs)
    _team_and_worklist(app, customer)
    app.run(clear_invoice, source_id="CLR-shadow",
            invoice_number=app.repository.get(second).document_number,
            actor="erp", business_date=D)


def _team_and_worklist(app: Any, customer: Any) -> None:
    """A segment's team and the day's list generated twice (a new strategy version)."""
    day = ALICE["business_date"]
    for member in ("alice", "bob"):
        app.run(join_team, "RETAIL", member, **ALICE)
    away = app.run(record_absence, "RETAIL", "alice", first_day=day, last_day=day,
                   substitute="bob", **ALICE).result
    app.run(cancel_absence, "RETAIL", away, **ALICE)
    app.run(leave_team, "RETAIL", "bob", **ALICE)
    ranked = [Ranked(customer, "alice", 10, "C1", Decimal("1.00"), D)]
    for version in (1, 2):
        app.run(generate_worklists, [SegmentRanking("RETAIL", "default", version, ranked)],
                day=day, **ALICE)
def _dunning(app: Any) -> None:
    """Every dunning and agency command, on a customer the import brought in."""
    customer, (first, second) = _customer_with_two_open_invoices(app)
    on = D + timedelta(days=400)
    app.run(dc.save_dunning_procedure, code="standard", levels=[
        {"days_overdue": 1, "grace_days": 0}, {"days_overdue": 2, "grace_days": 0,
                                               "fee": Decimal("5.00")}], **ALICE)
    app.run(dc.set_default_dunning_procedure, "standard", **ALICE)
    app.run(dc.set_segment_dunning_procedure, "RETAIL", "standard", **ALICE)
    app.run(dc.set_customer_dunning_procedure, customer, "standard", **ALICE)
    app.run(dc.save_dunning_procedure, code="gone", levels=[{"days_overdue": 1}], **ALICE)
    app.run(dc.remove_dunning_procedure, "gone", **ALICE)
    app.run(dc.block_customer_dunning, customer, reason="in talks", until=later_of(D), **ALICE)
    app.run(dc.release_customer_dunning_block, customer, **ALICE)
    app.run(dc.block_invoice_dunning, second, reason="credit note coming", **ALICE)
    app.run(dc.release_invoice_dunning_block, second, **ALICE)
    invoice = app.repository.get(first)
    line = LetterLine(invoice.id, invoice.document_number, invoice.due_date,
                      invoice.open_amount, (on - invoice.due_date).days, 2, Decimal("1.00"))
    letter = Letter(letter_id(on, "shadow"), "shadow", customer, "standard", "en",
                    invoice.currency, "dunning", 2, (line,), Decimal("5.00"), on)
    app.run(dc.issue_dunning_letter, letter, actor="dunning", business_date=on)
    app.run(ac.set_agency_criteria, minimum_amount=Decimal("1.00"), days_overdue=1, **ALICE)
    case = app.run(ac.submit_to_agency, customer, agency="Recouvra", invoice_ids=[second],
                   actor="alice", business_date=on).result
    app.run(ac.report_agency_status, source_id="AG-1", case_id=case, status="in_progress",
            note="reached the debtor", actor="agency", business_date=on)
    app.run(ac.record_agency_payment, source_id="AG-2", case_id=case,
            customer_number=app.repository.get(customer).number,
            invoice_number=app.repository.get(second).document_number, amount=Decimal("0.10"),
            currency=app.repository.get(second).currency, payment_date=on, actor="agency",
            business_date=on)
    app.run(ac.recall_from_agency, case, reason="paying directly", actor="alice",
            business_date=on)


def later_of(day: date) -> date:
    return day + timedelta(days=5)


def _retention(app: Any) -> None:
    """Every retention command: a policy set, a legal hold placed and released."""
    customer, _ = _customer_with_two_open_invoices(app)
    app.run(rt.set_retention_policy, "email", trigger="sent", action="purge", after="P7Y",
            retain="P6Y", **ALICE)
    app.run(rt.place_legal_hold, "customer", customer, reference="LIT-1", **ALICE)
    app.run(rt.release_legal_hold, customer, **ALICE)


def _customer_with_two_open_invoices(app: Any) -> tuple[Any, list[Any]]:
    from ledger_collect.storage.bulk_reads import ids_by_topic, load_aggregates

    open_items: dict[Any, list[Any]] = {}
    for ids in ids_by_topic(app, ["ledger_collect.Invoice.Posted"]):
        for invoice in load_aggregates(app, ids).values():
            if invoice.is_open and invoice.open_amount > 10:
                open_items.setdefault(invoice.customer_id, []).append(invoice.id)
    return next((c, ids[:2]) for c, ids in open_items.items() if len(ids) >= 2)


def _currency(app: Any, customer: Any) -> str:
    return app.repository.get(customer).currency  # type: ignore[no-any-return]


@pytest.mark.parametrize("key", ["C000001", "INV00120642", "", " spaced ", "é€ß", "x" * 500])
def test_derived_ids_are_the_uuid5_of_the_kind_and_key(key: str) -> None:
    import uuid

    from ledger_collect.domain.base import ID_NAMESPACE, derived_id

    made, stock = derived_id("invoice", key), uuid.uuid5(ID_NAMESPACE, f"invoice:{key}")
    assert type(made) is uuid.UUID and made == stock and hash(made) == hash(stock)
    assert (made.version, made.variant, made.is_safe) == (5, uuid.RFC_4122, stock.is_safe)
