"""What outlives the code, pinned: each domain error's ``code`` (clients act on the codes the
API returns; ``DomainError`` derives them from class names, which may be renamed) and each
event's topic and fields, in order, personal ones starred (the log keeps them for good; the
aggregates declare them in their recording methods' signatures)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import pytest

import ledger_collect
from ledger_collect.domain.base import CollectionsAggregate, DomainError

CODES = {
    "AbsenceOverlapError": "ABSENCE_OVERLAP",
    "AgencyCaseClosedError": "AGENCY_CASE_CLOSED",
    "AgencyCriteriaError": "AGENCY_CRITERIA",
    "ActivityClosedError": "ACTIVITY_CLOSED",
    "ComplianceRunningError": "COMPLIANCE_RUNNING",
    "ConflictError": "CONFLICT",
    "CurrencyMismatchError": "CURRENCY_MISMATCH",
    "DisputeClosedError": "DISPUTE_CLOSED",
    "DisputedAmountError": "DISPUTED_AMOUNT",
    "DomainError": "RULE_BROKEN",
    "DunningProcedureError": "DUNNING_PROCEDURE",
    "FollowUpDateError": "FOLLOW_UP_DATE",
    "IllegalTransitionError": "ILLEGAL_TRANSITION",
    "InstalmentDateError": "INSTALMENT_DATE",
    "InstalmentSumError": "INSTALMENT_SUM",
    "InvoiceClosedError": "INVOICE_CLOSED",
    "InvoiceOfAnotherCustomerError": "INVOICE_OF_ANOTHER_CUSTOMER",
    "LegalHoldError": "LEGAL_HOLD",
    "NoDunningAddressError": "NO_DUNNING_ADDRESS",
    "NotBlockedError": "NOT_BLOCKED",
    "NotFoundError": "NOT_FOUND",
    "NotTeamMemberError": "NOT_TEAM_MEMBER",
    "OverpaymentError": "OVERPAYMENT",
    "ProcedureInUseError": "PROCEDURE_IN_USE",
    "PromiseAmountError": "PROMISE_AMOUNT",
    "PromiseClosedError": "PROMISE_CLOSED",
    "PromiseDateError": "PROMISE_DATE",
    "RecordError": "BAD_RECORD",
    "ResubmissionCompletedError": "RESUBMISSION_COMPLETED",
    "RetentionPolicyError": "RETENTION_POLICY",
    "StandsInError": "STANDS_IN",
    "StaleLetterError": "STALE_LETTER",
    "StrategyError": "STRATEGY_INVALID",
    "SubstituteUnavailableError": "SUBSTITUTE_UNAVAILABLE",
    "TemplateTextError": "TEMPLATE_INVALID",
    "UnknownAbsenceError": "NOT_FOUND",
    "UnknownContactError": "NOT_FOUND",
    "UnknownJobError": "NOT_FOUND",
    "UnknownProcedureError": "NOT_FOUND",
    "UnknownStrategyError": "NOT_FOUND",
    "UnknownTemplateError": "NOT_FOUND",
    "ValidationError": "INVALID",
    "WrongCustomerError": "WRONG_CUSTOMER",
}

#: Topic (less ``ledger_collect.``) → the event's own fields in order; ``*``: personal data.
EVENTS = {
    "AgencyCase.PaymentCounted": "customer_id source_id invoice_id amount",
    "AgencyCase.Recalled": "customer_id reason*",
    "AgencyCase.StatusReported": "customer_id source_id status note*",
    "AgencyCase.Submitted": "customer_id agency items",
    "Activity.Closed": "customer_id note*",
    "Activity.Created": "customer_id specialist due_date description*",
    "Activity.Rescheduled": "customer_id previous_date due_date",
    "CollectionEmail.Corrected": "customer_id to* cc* bcc*",
    "CollectionEmail.Created": ("customer_id to* cc* bcc* template* attachments* zipped contact_id "
        "language level dunning fee interest"),
    "CollectionEmail.Failed": "customer_id error*",
    "CollectionEmail.PartlySent": "customer_id failures*",
    "CollectionEmail.Sent": "customer_id",
    "ComplianceRun.Finished": "counts",
    "ComplianceRun.Resumed": "attempt",
    "ComplianceRun.SegmentWritten": "segment streams events",
    "ComplianceRun.Started": "action run_date",
    "ComplianceRun.StreamsPurged": "stream_ids events last_activity",
    "Customer.Assigned": "specialist",
    "Customer.ContactAdded": "contact_id name* email* phone* role",
    "Customer.ContactChanged": "contact_id name* email* phone* role",
    "Customer.ContactRemoved": "contact_id",
    "Customer.DefaultContactSet": "contact_id",
    "Customer.DunningBlockReleased": "",
    "Customer.DunningBlocked": "reason* until",
    "Customer.DunningProcedureSet": "code",
    "Customer.MasterDataChanged": "changes source_id",
    "Customer.NoteAdded": "note_id text*",
    "Customer.Registered": ("number name segment credit_limit currency risk_class "
        "head_office_id source_id"),
    "Customer.Unassigned": "",
    "CustomerContact.Linked": "customer_id promise_ids dispute_ids resubmission_ids",
    "CustomerContact.Recorded": ("customer_id contact_person_id* channel result specialist "
        "summary* notes* contact_date"),
    "CustomerCredit.Received": "source_id customer_id kind amount currency document_date",
    "DailyWorklist.Generated": ("segment day number strategy_code strategy_version team present "
        "absences people customers counts parts digest"),
    "DailyWorklist.Listed": ("number part customer_ids numbers scores overdue days_overdue "
        "owners workers kinds"),
    "DailyWorklist.Regenerated": ("number strategy_code strategy_version team present absences "
        "people customers counts parts digest"),
    "DisputeCase.Closed": "customer_id",
    "DisputeCase.NoteAdded": "customer_id note_id text*",
    "DisputeCase.Opened": "customer_id invoice_ids currency reason processor amount note*",
    "DisputeCase.ProcessingStarted": "customer_id",
    "DisputeCase.ProcessorChanged": "customer_id processor",
    "DisputeCase.ProgressRecorded": "customer_id credited paid written_off",
    "DisputeCase.Resolved": "customer_id resolution credited paid written_off",
    "DisputeCase.SettledOnInvoice": "customer_id invoice_id source_id credited paid written_off",
    "EmailTemplate.Changed": "subject body",
    "EmailTemplate.Saved": "key language level subject body",
    "DunningLetter.Issued": ("key customer_id email_id procedure currency kind level items fee "
        "interest amount"),
    "DunningSetup.AgencyCriteriaSet": "minimum_amount days_overdue",
    "DunningSetup.DefaultSet": "code",
    "DunningSetup.ProcedureRemoved": "code",
    "DunningSetup.ProcedureSaved": "code definition",
    "DunningSetup.SegmentSet": "segment code",
    "DunningSetup.Started": "",
    "Invoice.Cleared": "source_id amount",
    "Invoice.CreditMemoApplied": "source_id amount",
    "Invoice.DisputeLinked": "dispute_id",
    "Invoice.DunningBlockReleased": "customer_id",
    "Invoice.DunningBlocked": "customer_id reason* until",
    "Invoice.DunningLevelRaised": "level",
    "Invoice.HandedToAgency": "case_id",
    "Invoice.PaymentApplied": "source_id amount",
    "Invoice.PaymentReversed": "source_id payment_source_id amount",
    "Invoice.Posted": "customer_id document_number amount currency posting_date due_date source_id",
    "Invoice.PromiseLinked": "promise_id",
    "Invoice.PromiseUnlinked": "promise_id",
    "Invoice.ReturnedFromAgency": "case_id",
    "Invoice.WrittenOff": "source_id amount reason",
    "JobRun.Failed": "error attempt final",
    "JobRun.Finished": "counts",
    "JobRun.Requested": "job run_key trigger",
    "JobRun.Started": "attempt worker",
    "LegalHold.Opened": "subject_kind subject_id",
    "LegalHold.Placed": "subject_kind subject_id reference placed_on",
    "LegalHold.Released": "released_on",
    "PromiseToPay.Closed": "customer_id invoice_id reason replaced_by",
    "PromiseToPay.InstalmentValued": "customer_id invoice_id number status covered as_of",
    "PromiseToPay.Issued": ("customer_id invoice_id document_number currency amount "
        "promised_date tolerance_days instalments level replaces "
        "contact_id"),
    "PromiseToPay.PaymentCounted": "customer_id invoice_id source_id amount kind",
    "ErasureRequest.Completed": "customer_id erased_on restricted_records retained_until",
    "ErasureRequest.Requested": "customer_id basis requested_by",
    "ErasureRequest.RequestedAgain": "customer_id basis requested_by",
    "ErasureRequest.Suspended": "customer_id hold_reference",
    "PromiseToPay.PaymentUncounted": "customer_id invoice_id source_id amount",
    "PromiseToPay.Valued": "customer_id invoice_id status paid as_of",
    "PromiseToPay.Withdrawn": "customer_id invoice_id reason*",
    "Resubmission.Completed": "customer_id",
    "Resubmission.Created": "customer_id invoice_ids follow_up_date reason*",
    "Resubmission.Moved": "customer_id previous_date follow_up_date reason*",
    "RetentionPolicies.PolicySet": "record_class trigger action after retain",
    "RetentionPolicies.Started": "",
    "Team.AbsenceCancelled": "segment absence_id specialist",
    "Team.AbsenceRecorded": "segment absence_id specialist first_day last_day substitute",
    "Team.Formed": "segment",
    "Team.SpecialistJoined": "segment specialist",
    "Team.SpecialistLeft": "segment specialist",
}


def _import_everything() -> None:
    for module in pkgutil.walk_packages(ledger_collect.__path__, "ledger_collect."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)


def _every_domain_error() -> dict[str, str]:
    _import_everything()
    found, todo = {DomainError.__name__: DomainError.code}, [DomainError]
    while todo:
        for error in todo.pop().__subclasses__():
            if error.__module__.startswith("ledger_collect."):  # not a test's own
                found[error.__name__] = error.code
                todo.append(error)
    return found


def test_every_domain_error_keeps_its_code() -> None:
    assert _every_domain_error() == CODES


@pytest.mark.parametrize(("name", "code"), [("PromiseAmountError", "PROMISE_AMOUNT"),
                                            ("FollowUpDateError", "FOLLOW_UP_DATE"),
                                            ("Sla2ReachedError", "SLA2_REACHED")])
def test_a_code_follows_from_the_class_name(name: str, code: str) -> None:
    assert type(name, (DomainError,), {}).code == code


def test_a_class_may_name_its_own_code() -> None:
    class RefusedError(DomainError, code="REFUSED_HERE"):
        pass

    assert RefusedError.code == "REFUSED_HERE"
    assert RefusedError("why").code == "REFUSED_HERE"


def _every_event() -> dict[str, str]:
    _import_everything()
    shared = {f.name for f in dataclasses.fields(CollectionsAggregate.Created)}
    found = {}
    for aggregate in CollectionsAggregate.__subclasses__():
        assert aggregate.Event.TOPIC == f"{aggregate.TOPIC}.Event"
        for event in vars(aggregate).values():
            if (isinstance(event, type) and issubclass(event, aggregate.Event)
                    and event.TOPIC != aggregate.Event.TOPIC):  # the library's unused Created
                found[event.TOPIC.removeprefix("ledger_collect.")] = " ".join(
                    field.name + "*" * (field.name in event.PERSONAL)
                    for field in dataclasses.fields(event) if field.name not in shared)
    return found


def test_every_event_keeps_its_topic_and_fields() -> None:
    assert _every_event() == EVENTS
