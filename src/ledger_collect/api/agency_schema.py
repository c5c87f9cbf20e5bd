"""Collection-agency hand-over: the criteria (the admin's: they concern every segment), and
submitting a customer's items to an agency or recalling them (the customer's segment's
supervisors, as for its dunning procedure: ``Action.DUNNING``). The agency's file comes back
through the ERP feed (``ledger-collect import``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Self
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation
from ledger_collect.api.permissions import Action, User, require_everywhere
from ledger_collect.api.runner import RecordCommands, arguments, on_customer, run_command
from ledger_collect.commands import Batch
from ledger_collect.commands import agency_commands as commands
from ledger_collect.domain.agency_case import AgencyCase
from ledger_collect.domain.dunning_procedure import SETUP_ID

READS = ("agency", "dunning")


@strawberry.type(name="AgencyCase", description="A customer's items handed to an agency.")
class AgencyCaseType:
    case_id: UUID
    customer_id: UUID
    agency: str
    status: str = strawberry.field(description="submitted, recalled or closed.")
    invoice_ids: list[UUID]
    submitted_on: date

    @classmethod
    def of(cls, case: AgencyCase) -> Self:
        return cls(case_id=case.id, customer_id=case.customer_id, agency=case.agency,
                   status=case.status, invoice_ids=case.invoice_ids,
                   submitted_on=case.submitted_on)


@strawberry.type(description="Who may be handed over: at least `minimumAmount` in items at "
                             "least `daysOverdue` days overdue.")
class AgencyCriteria:
    minimum_amount: Decimal
    days_overdue: int


@strawberry.input
class SetAgencyCriteriaInput:
    minimum_amount: Decimal
    days_overdue: int


@strawberry.input
class SubmitToAgencyInput:
    customer_id: UUID
    agency: str
    invoice_ids: list[UUID] = strawberry.field(description="Open items of the customer, in "
                                                           "one currency, meeting the "
                                                           "criteria together.")


@strawberry.input
class RecallFromAgencyInput:
    case_id: UUID
    reason: str


def _everywhere(user: User, batch: Batch) -> None:
    require_everywhere(user, Action.DUNNING, "the hand-over criteria")


_CASE = RecordCommands(AgencyCase, "case_id", "agency case", READS)


@strawberry.type
class AgencyMutations:
    @command_mutation(AgencyCriteria, description="Which customers may be handed over to a "
                                                  "collection agency.")
    async def set_agency_criteria(self, info: Info, input: SetAgencyCriteriaInput,
                                  ) -> AgencyCriteria | Problem:
        def answer(saved: object) -> AgencyCriteria:
            found = saved[SETUP_ID].agency_criteria  # type: ignore[index]
            return AgencyCriteria(minimum_amount=found["minimum_amount"],
                                  days_overdue=found["days_overdue"])
        return await run_command(info, _everywhere, commands.set_agency_criteria,
                                 **arguments(input), answer=answer, reads=READS)

    @command_mutation(AgencyCaseType, description="Hand the customer's items to an agency: "
                                                  "they are no longer dunned.")
    async def submit_to_agency(self, info: Info, input: SubmitToAgencyInput,
                               ) -> AgencyCaseType | Problem:
        return await run_command(
            info, on_customer(Action.DUNNING, input.customer_id), commands.submit_to_agency,
            **arguments(input), reads=READS,
            answer=lambda saved: AgencyCaseType.of(saved[saved.result]))

    @command_mutation(AgencyCaseType, description="Take the case back from the agency: its "
                                                  "items are dunned again.")
    async def recall_from_agency(self, info: Info, input: RecallFromAgencyInput,
                                 ) -> AgencyCaseType | Problem:
        return await _CASE.change(info, commands.recall_from_agency, input,
                                  answer=AgencyCaseType, action=Action.DUNNING)
