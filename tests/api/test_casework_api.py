"""A specialist's casework over GraphQL: every mutation once, refusals as union members."""

from __future__ import annotations

from typing import Any

from api.helpers import Api, Portfolio
from ledger_collect.commands.application import Collections

PROBLEM = "... on Problem { code message }"


def run(api: Api, field: str, variables: dict[str, Any], payload: str = "",
        user: str = "alice") -> dict[str, Any]:
    """Call mutation ``field`` (its input type is named after it) and return its result."""
    input_type = field[0].upper() + field[1:] + "Input"
    query = (f"mutation($input: {input_type}!) {{ {field}(input: $input) {{ __typename "
             f"{payload} {PROBLEM} }} }}")
    return api.data(query, {"input": variables}, user=user)[field]  # type: ignore[no-any-return]


PROMISE = "... on PromiseState { promiseId status level amount promisedDate }"


def test_promises_recorded_replaced_refused_and_withdrawn(
        api: Api, portfolio: Portfolio) -> None:
    invoice = str(portfolio.north_invoice)
    first = run(api, "recordPromise", {"invoiceId": invoice, "amount": "400",
                                       "promisedDate": "2026-12-01"}, PROMISE)
    assert first["__typename"] == "PromiseRecorded"
    assert (first["status"], first["level"], first["amount"]) == ("open", 1, "400.00")
    second = run(api, "recordPromise", {"invoiceId": invoice, "amount": "1000.00",
                                        "promisedDate": "2026-12-05"},
                 PROMISE + " ... on PromiseRecorded { replacedPromiseId }")
    assert (second["level"], second["replacedPromiseId"]) == (2, first["promiseId"])
    assert run(api, "recordPromise", {"invoiceId": invoice, "amount": "1000.01",
                                      "promisedDate": "2026-12-05"}) == {
        "__typename": "RuleBroken", "code": "PROMISE_AMOUNT",
        "message": "promised 1000.01 EUR exceeds the open amount 1000.00 EUR of invoice INV-C-1"}
    assert run(api, "recordPromise", {"invoiceId": invoice, "amount": "10",
                                      "promisedDate": "2026-12-05", "currency": "USD"}) == {
        "__typename": "RuleBroken", "code": "CURRENCY_MISMATCH",
        "message": "the promise is in USD but invoice INV-C-1 is in EUR"}
    withdrawn = run(api, "withdrawPromise", {"promiseId": second["promiseId"],
                                             "reason": "customer called back"}, PROMISE)
    assert (withdrawn["__typename"], withdrawn["status"]) == ("PromiseWithdrawn", "withdrawn")
    again = run(api, "withdrawPromise", {"promiseId": second["promiseId"], "reason": "twice"})
    assert (again["__typename"], again["code"]) == ("RuleBroken", "PROMISE_CLOSED")


DISPUTE = "... on DisputeState { disputeId status resolution stillDisputed }"


def test_a_dispute_from_opening_to_closing(api: Api, portfolio: Portfolio) -> None:
    opened = run(api, "openDispute", {"customerId": str(portfolio.north),
                                      "invoiceIds": [str(portfolio.north_invoice)],
                                      "amount": "300.00", "reason": "quality",
                                      "processor": "alice", "note": "broken pallets"}, DISPUTE)
    assert (opened["__typename"], opened["status"], opened["stillDisputed"]) == (
        "DisputeOpened", "open", "300.00")
    dispute = {"disputeId": opened["disputeId"]}
    early = run(api, "resolveDispute", {**dispute, "resolution": "rejected"}, DISPUTE)
    assert (early["__typename"], early["code"]) == ("RuleBroken", "ILLEGAL_TRANSITION")
    started = run(api, "startDisputeProcessing", dispute, DISPUTE)
    assert (started["__typename"], started["status"]) == ("DisputeProcessingStarted",
                                                          "in_process")
    handed = run(api, "changeDisputeProcessor", {**dispute, "processor": "anna"},
                 "... on DisputeState { processor }")
    assert handed == {"__typename": "DisputeProcessorChanged", "processor": "anna"}
    progress = run(api, "recordDisputeProgress", {**dispute, "credited": "100.00"}, DISPUTE)
    assert progress["stillDisputed"] == "200.00"
    too_much = run(api, "recordDisputeProgress", {**dispute, "paid": "200.01"})
    assert (too_much["__typename"], too_much["code"]) == ("RuleBroken", "DISPUTED_AMOUNT")
    noted = run(api, "addDisputeNote", {**dispute, "text": "photos received"},
                "... on DisputeNoteAdded { noteId }")
    assert noted["__typename"] == "DisputeNoteAdded" and noted["noteId"]
    resolved = run(api, "resolveDispute", {**dispute, "resolution": "rejected"}, DISPUTE)
    assert (resolved["status"], resolved["resolution"]) == ("resolved", "rejected")
    closed = run(api, "closeDispute", dispute, DISPUTE)
    assert (closed["__typename"], closed["status"]) == ("DisputeClosed", "closed")
    after = run(api, "addDisputeNote", {**dispute, "text": "too late"})
    assert (after["__typename"], after["code"]) == ("RuleBroken", "DISPUTE_CLOSED")
    wrong = run(api, "openDispute", {"customerId": str(portfolio.north),
                                     "invoiceIds": [str(portfolio.south_invoice)],
                                     "amount": "1.00", "reason": "price", "processor": "alice"})
    assert (wrong["__typename"], wrong["code"]) == ("RuleBroken", "WRONG_CUSTOMER")
    unknown = run(api, "closeDispute", {"disputeId": str(portfolio.north)})
    assert unknown == {"__typename": "NotFound", "code": "NOT_FOUND",
                       "message": f"dispute {portfolio.north} does not exist"}


def test_follow_ups_and_activities(api: Api, portfolio: Portfolio) -> None:
    customer = str(portfolio.north)
    created = run(api, "createResubmission",
                  {"customerId": customer, "followUpDate": "2026-12-01", "reason": "holidays",
                   "invoiceIds": [str(portfolio.north_invoice)]},
                  "... on ResubmissionState { resubmissionId followUpDate status invoiceIds }")
    assert (created["__typename"], created["followUpDate"], created["invoiceIds"]) == (
        "ResubmissionCreated", "2026-12-01", [str(portfolio.north_invoice)])
    follow_up = {"resubmissionId": created["resubmissionId"]}
    moved = run(api, "moveResubmission", {**follow_up, "followUpDate": "2026-12-08",
                                          "reason": "asked for a week more"},
                "... on ResubmissionState { followUpDate }")
    assert moved == {"__typename": "ResubmissionMoved", "followUpDate": "2026-12-08"}
    done = run(api, "completeResubmission", follow_up, "... on ResubmissionState { status }")
    assert done == {"__typename": "ResubmissionCompleted", "status": "completed"}
    again = run(api, "completeResubmission", follow_up)
    assert (again["__typename"], again["code"]) == ("RuleBroken", "RESUBMISSION_COMPLETED")

    task = run(api, "createActivity", {"customerId": customer, "dueDate": "2026-11-25",
                                       "description": "send the account statement"},
               "... on ActivityState { activityId specialist dueDate status }")
    assert (task["__typename"], task["specialist"], task["status"]) == (
        "ActivityCreated", "alice", "open")
    moved_task = run(api, "rescheduleActivity", {"activityId": task["activityId"],
                                                 "dueDate": "2026-11-27"},
                     "... on ActivityState { dueDate }")
    assert moved_task == {"__typename": "ActivityRescheduled", "dueDate": "2026-11-27"}
    closed = run(api, "closeActivity", {"activityId": task["activityId"], "note": "sent"},
                 "... on ActivityState { status }")
    assert closed == {"__typename": "ActivityClosed", "status": "closed"}
    late = run(api, "rescheduleActivity", {"activityId": task["activityId"],
                                           "dueDate": "2026-11-30"})
    assert (late["__typename"], late["code"]) == ("RuleBroken", "ACTIVITY_CLOSED")


EMAIL = "... on EmailState { emailId status attempt }"


def test_emails_created_by_specialists_reported_by_the_mailer(
        api: Api, portfolio: Portfolio) -> None:
    created = run(api, "createEmail", {"customerId": str(portfolio.north),
                                       "to": ["ap@c1.example"], "template": "reminder",
                                       "attachments": ["open-items.pdf"]}, EMAIL)
    assert (created["__typename"], created["status"], created["attempt"]) == (
        "EmailCreated", "pending", 1)
    email = {"emailId": created["emailId"]}
    failed = run(api, "markEmailFailed", {**email, "error": "mailbox full"}, EMAIL, user="erp")
    assert (failed["__typename"], failed["status"]) == ("EmailMarkedFailed", "failed")
    resent = run(api, "correctAndResendEmail", {**email, "to": ["pay@c1.example"]}, EMAIL)
    assert (resent["__typename"], resent["status"], resent["attempt"]) == (
        "EmailCorrected", "pending", 2)
    partly = run(api, "markEmailPartlySent",
                 {**email, "failures": [{"address": "pay@c1.example", "error": "550"}]},
                 user="erp")
    assert (partly["__typename"], partly["code"]) == ("RuleBroken", "INVALID")
    sent = run(api, "markEmailSent", email, EMAIL, user="erp")
    assert (sent["__typename"], sent["status"]) == ("EmailMarkedSent", "sent")
    bad = run(api, "createEmail", {"customerId": str(portfolio.north), "to": ["nobody"],
                                   "template": "reminder"})
    assert bad == {"__typename": "RuleBroken", "code": "INVALID",
                   "message": "'nobody' in to is not an email address"}


def test_contact_people_and_conversations(
        api: Api, portfolio: Portfolio, app: Collections) -> None:
    customer = str(portfolio.north)
    added = run(api, "addContact", {"customerId": customer, "contactId": "p2",
                                    "name": "Pierre Curie", "email": "pierre@c1.example"},
                "... on ContactPersonChanged { contactId }")
    assert added == {"__typename": "ContactAdded", "contactId": "p2"}
    duplicate = run(api, "addContact", {"customerId": customer, "contactId": "p2",
                                        "name": "Pierre"})
    assert duplicate["message"] == "contact p2 already exists for customer C-1"
    assert run(api, "changeContact", {"customerId": customer, "contactId": "p2",
                                      "name": "Pierre Curie", "phone": "+33 6"},
               )["__typename"] == "ContactChanged"
    assert run(api, "setDefaultContact", {"customerId": customer, "contactId": "p2"},
               )["__typename"] == "DefaultContactSet"
    assert run(api, "removeContact", {"customerId": customer, "contactId": "p1"},
               )["__typename"] == "ContactRemoved"
    unknown = run(api, "removeContact", {"customerId": customer, "contactId": "p1"})
    assert unknown == {"__typename": "NotFound", "code": "NOT_FOUND",
                       "message": "customer C-1 has no contact p1"}
    stored = app.repository.get(portfolio.north)
    assert (list(stored.contacts), stored.default_contact_id) == (["p2"], "p2")
    assert stored.contacts["p2"]["phone"] == "+33 6"

    talk = run(api, "recordContact", {"customerId": customer, "channel": "phone",
                                      "result": "promised", "contactPersonId": "p2",
                                      "summary": "will pay 400 on Dec 1"},
               "... on ContactRecorded { contactId }")
    assert talk["__typename"] == "ContactRecorded"
    promise = run(api, "recordPromise", {"invoiceId": str(portfolio.north_invoice),
                                         "amount": "400", "promisedDate": "2026-12-01"},
                  "... on PromiseState { promiseId }")
    linked = run(api, "linkToContact", {"contactId": talk["contactId"],
                                        "promiseIds": [promise["promiseId"]]},
                 "... on LinkedToContact { newLinks }")
    assert linked == {"__typename": "LinkedToContact", "newLinks": 1}
    channel = run(api, "recordContact", {"customerId": customer, "channel": "pigeon",
                                         "result": "reached"})
    assert channel["message"] == ("channel 'pigeon' is not one of phone, email, letter, "
                                  "meeting, portal")


def test_a_note_for_the_customer(api: Api, portfolio: Portfolio, app: Collections) -> None:
    added = run(api, "addCustomerNote", {"customerId": str(portfolio.north),
                                         "text": "asked for a call on Monday"},
                "... on CustomerNoteAdded { noteId }")
    assert added["__typename"] == "CustomerNoteAdded"
    assert app.repository.get(portfolio.north).notes[added["noteId"]] == (
        "asked for a call on Monday")
    empty = run(api, "addCustomerNote", {"customerId": str(portfolio.north), "text": " "})
    assert empty == {"__typename": "RuleBroken", "code": "INVALID",
                     "message": "a note cannot be empty"}
