"""Retention: the policies in force, which policy keeps a customer's, an invoice's or a
dispute's records and until when, and the compliance officer's commands (set a policy, place
and release a legal hold). Anyone who reads may ask why a record is kept; only the compliance
role changes what keeps it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Self
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from ledger_collect.api.arguments import BadArgument
from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation
from ledger_collect.api.permissions import Action, require
from ledger_collect.api.runner import anywhere, arguments, run_command
from ledger_collect.commands import retention_commands as commands
from ledger_collect.compliance import retention, retention_status
from ledger_collect.domain.legal_hold import LegalHold
from ledger_collect.domain.retention_policy import POLICIES_ID

RETENTION_READS = ("retention_streams",)


@strawberry.type(description="What keeps a record class, and what happens to it: `action` is "
                             "due `after` its `trigger`; the law keeps it `retain` from then.")
class RetentionPolicy:
    record_class: str = strawberry.field(description="invoice, credit, promise, dispute, "
                                                     "dunning_letter, email, contact, activity, "
                                                     "resubmission, agency_case, "
                                                     "customer_personal")
    trigger: str = strawberry.field(description="cleared, closed, sent or last_activity")
    action: str = strawberry.field(description="archive, purge or erase")
    after: str = strawberry.field(description="ISO 8601 period, e.g. P2Y")
    retain: str = strawberry.field(description="The legal retention, ISO 8601 (P0D: none).")
    is_default: bool = strawberry.field(description="Never set: the shipped default.")

    @classmethod
    def of(cls, policy: retention.Policy) -> Self:
        return cls(record_class=policy.record_class, trigger=policy.trigger,
                   action=policy.action, after=policy.after, retain=policy.retain,
                   is_default=retention.default_policies()[policy.record_class] == policy)


@strawberry.type(description="Why a record (or a customer's records of one class) is kept.")
class KeptRecord:
    record_class: str
    stream_id: UUID | None = strawberry.field(description="Null: all of the customer's "
                                                          "records of the class together.")
    records: int
    policy: RetentionPolicy
    trigger_on: date | None = strawberry.field(description="When its trigger happened (the "
                                                           "latest); null: not yet.")
    action_on: date | None = strawberry.field(description="When the policy's action is (first) "
                                                          "due; null: not before the trigger.")
    retained_until: date | None = strawberry.field(description="The end of the legal "
                                                               "retention; null: not known yet.")
    held_by: str | None = strawberry.field(description="The legal hold that suspends the action.")
    why: str


@strawberry.type(description="Which policies keep a customer's, an invoice's or a dispute's "
                             "records, until when, and why.")
class RetentionStatus:
    subject_kind: str
    subject_id: UUID
    customer_id: UUID
    last_activity: date | None
    held_by: str | None = strawberry.field(description="An active legal hold on the subject.")
    records: list[KeptRecord]

    @classmethod
    def of(cls, status: retention_status.RetentionStatus) -> Self:
        return cls(subject_kind=status.subject_kind, subject_id=status.subject_id,
                   customer_id=status.customer_id, last_activity=status.last_activity,
                   held_by=status.held_by,
                   records=[KeptRecord(record_class=r.record_class, stream_id=r.stream_id,
                                       records=r.records, policy=RetentionPolicy.of(r.policy),
                                       trigger_on=r.trigger_on, action_on=r.action_on,
                                       retained_until=r.retained_until, held_by=r.held_by,
                                       why=r.why) for r in status.records])


@strawberry.input
class SetRetentionPolicyInput:
    record_class: str
    trigger: str
    action: str
    after: str
    retain: str


@strawberry.input
class PlaceLegalHoldInput:
    subject_kind: str = strawberry.field(description="customer or dispute")
    subject_id: UUID
    reference: str = strawberry.field(description="The matter's reference (a case or file "
                                                  "number), not personal data.")
    placed_on: date | None = None


@strawberry.input
class ReleaseLegalHoldInput:
    subject_id: UUID
    released_on: date | None = None


@strawberry.type(description="The policy now in force for the record class.")
class RetentionPolicySet:
    policy: RetentionPolicy


@strawberry.type(description="The legal hold as it stands after the change.")
class LegalHoldChanged:
    hold_id: UUID
    subject_kind: str
    subject_id: UUID
    reference: str | None = strawberry.field(description="Null: released.")
    placed_on: date | None

    @classmethod
    def of(cls, hold: LegalHold) -> Self:
        return cls(hold_id=hold.id, subject_kind=hold.subject_kind, subject_id=hold.subject_id,
                   reference=hold.reference, placed_on=hold.placed_on)


@strawberry.type
class RetentionQuery:
    @strawberry.field(description="Every record class's policy in force.")
    async def retention_policies(self, info: Info) -> list[RetentionPolicy]:
        require(info.context.user, Action.READ)
        found = await run_in_threadpool(retention.current_policies, info.context.collections)
        return [RetentionPolicy.of(policy) for policy in found.values()]

    @strawberry.field(description="Which policies keep the records of a customer, an invoice "
                                  "or a dispute (name exactly one), until when and why; null "
                                  "when there is no such record.")
    async def retention_status(
            self, info: Info, customer_id: UUID | None = None, invoice_id: UUID | None = None,
            dispute_id: UUID | None = None,
            as_of: Annotated[date | None, strawberry.argument(
                name="date", description="The day to judge from; today by default.")] = None,
    ) -> RetentionStatus | None:
        context = info.context
        require(context.user, Action.READ)
        named = [(kind, value) for kind, value in (("customer", customer_id),
                                                   ("invoice", invoice_id),
                                                   ("dispute", dispute_id)) if value is not None]
        if len(named) != 1:
            raise BadArgument("name exactly one of customerId, invoiceId and disputeId",
                              "customerId")
        [(kind, subject_id)] = named
        found = await run_in_threadpool(retention_status.status_of, context.collections, kind,
                                        subject_id, as_of or context.business_date)
        return None if found is None else RetentionStatus.of(found)


def _hold(outcome: Any) -> LegalHoldChanged:
    return LegalHoldChanged.of(outcome[outcome.result])


@strawberry.type
class RetentionMutations:
    @command_mutation(RetentionPolicySet, description="Set a record class's retention policy "
                                                      "(recorded as an event).")
    async def set_retention_policy(self, info: Info, input: SetRetentionPolicyInput,
                                   ) -> RetentionPolicySet | Problem:
        given = arguments(input)
        record_class = given.pop("record_class")

        def answer(outcome: Any) -> RetentionPolicySet:
            saved = outcome[POLICIES_ID].policies[record_class.strip()]
            return RetentionPolicySet(policy=RetentionPolicy.of(retention.Policy(**saved)))

        return await run_command(info, anywhere(Action.RETENTION),
                                 commands.set_retention_policy, record_class, **given,
                                 answer=answer)

    @command_mutation(LegalHoldChanged, description="Hold a customer or a dispute: nothing of "
                                                    "it is purged or erased until released.")
    async def place_legal_hold(self, info: Info,
                               input: PlaceLegalHoldInput) -> LegalHoldChanged | Problem:
        return await run_command(info, anywhere(Action.RETENTION), commands.place_legal_hold,
                                 **arguments(input), answer=_hold, reads=RETENTION_READS)

    @command_mutation(LegalHoldChanged, description="Release a legal hold: the retention "
                                                    "policies apply again.")
    async def release_legal_hold(self, info: Info,
                                 input: ReleaseLegalHoldInput) -> LegalHoldChanged | Problem:
        return await run_command(info, anywhere(Action.RETENTION), commands.release_legal_hold,
                                 **arguments(input), answer=_hold, reads=RETENTION_READS)
