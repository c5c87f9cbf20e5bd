"""Email templates: the ones in force (saved by supervisors, else shipped with the program),
saving a new version, and the email a template makes for a customer today (a preview).

Templates hold no personal data, and any reader may list them; saving one is for supervisors
and admins (it changes what every specialist's emails say). A preview is a customer's letter:
its text names the customer's contact person, so it is served through the personal-data guard.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Self
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from ledger_collect.api.context import Info
from ledger_collect.api.errors import NotFound, Problem, RuleBroken, command_mutation, problem
from ledger_collect.api.permissions import Action, Personal, personal_field, require
from ledger_collect.api.runner import anywhere, run_command
from ledger_collect.commands.email_commands import save_email_template
from ledger_collect.commands.template_defaults import TemplateText, find_template, shipped
from ledger_collect.domain.base import DomainError
from ledger_collect.domain.email_template import (
    dunning_level,
    language_code,
    template_id,
    template_key,
)
from ledger_collect.jobs.email_message import render_letter
from ledger_collect.jobs.letters import Letter
from ledger_collect.projections.correspondence import saved_templates
from ledger_collect.projections.customers import contact_persons_by_customer, customers_by_id
from ledger_collect.projections.statements import account_of


@strawberry.type(description="An email template (Jinja2 text; the README lists its variables).")
class EmailTemplate:
    key: str = strawberry.field(description="statement, reminder, dunning, or a key of yours.")
    language: str
    level: int | None = strawberry.field(description="A dunning letter's level (0: pre-due).")
    subject: str
    body: str
    revision: int | None = strawberry.field(
        description="Versions saved so far; null: the one shipped with the program.")
    saved_by: str | None
    saved_on: date | None

    @classmethod
    def of(cls, text: TemplateText, saved_on: date | None = None) -> Self:
        return cls(key=text.key, language=text.language, level=text.level,
                   subject=text.subject, body=text.body, revision=text.revision,
                   saved_by=text.saved_by, saved_on=saved_on)


@strawberry.type(description="The email a template makes for a customer today.")
class EmailPreview:
    subject: Personal | None = personal_field()
    body: Personal | None = personal_field()
    template: EmailTemplate


@strawberry.input
class SaveEmailTemplateInput:
    key: str
    language: str
    subject: str
    body: str
    level: int | None = None


@strawberry.type
class EmailTemplateSaved:
    template: EmailTemplate


@strawberry.type
class EmailTemplateQuery:
    @strawberry.field(description="The templates in force: saved ones, else those shipped.")
    async def email_templates(self, info: Info, key: str | None = None,
                              language: str | None = None) -> list[EmailTemplate]:
        require(info.context.user, Action.READ)
        found = {tid: EmailTemplate.of(text) for tid, text in shipped().items()}
        for record in await saved_templates(info.context.pool):
            found[record.id] = EmailTemplate(
                key=record.key, language=record.language, level=record.level,
                subject=record.subject, body=record.body, revision=record.revision,
                saved_by=record.saved_by, saved_on=record.saved_on)
        return sorted((t for t in found.values() if key in (None, t.key)
                       and language in (None, t.language)),
                      key=lambda t: (t.key, t.language, -1 if t.level is None else t.level))

    @strawberry.field(description="The subject and body the template makes for the customer "
                                  "today (its open items as the read model has them).")
    async def email_preview(self, info: Info, customer_id: UUID, template: str,
                            language: str = "en", level: int | None = None,
                            ) -> Annotated[EmailPreview | NotFound | RuleBroken,
                                           strawberry.union("EmailPreviewResult")]:
        context = info.context
        require(context.user, Action.READ)
        customer = (await customers_by_id(context.pool, [customer_id]))[customer_id]
        if customer is None:
            return NotFound(message=f"customer {customer_id} does not exist", code="NOT_FOUND")
        try:
            template_key(template), language_code(language)
            if level is not None:
                dunning_level(level)
            saved = {r.id: r for r in await saved_templates(context.pool)}
            text = find_template(saved.get, template, language, level)
        except DomainError as error:
            return problem(error)  # type: ignore[return-value]
        people = (await contact_persons_by_customer(context.pool, [customer_id]))[customer_id]
        person = next((p for p in people if p.contact_id == customer.default_contact_id
                       and p.removed_on is None), None)
        letter = Letter(customer.number, customer.name, customer.currency,
                        None if person is None else {"name": person.name, "email": person.email},
                        language, await account_of(context.pool, customer_id,
                                                   context.business_date), level)
        made = await run_in_threadpool(render_letter, text, letter)
        return EmailPreview(subject=Personal(made.subject, customer.segment),
                            body=Personal(made.body, customer.segment),
                            template=EmailTemplate.of(text))


@strawberry.type
class EmailTemplateMutations:
    @command_mutation(EmailTemplateSaved,
                      description="Save a template (a new version when its text changed); "
                                  "checked first: a template that would fail is refused, "
                                  "naming the line.")
    async def save_email_template(self, info: Info,
                                  input: SaveEmailTemplateInput) -> EmailTemplateSaved | Problem:
        def answer(outcome: object) -> EmailTemplateSaved:
            saved = outcome[template_id(input.key, input.language, input.level)]  # type: ignore[index]
            return EmailTemplateSaved(template=EmailTemplate(
                key=saved.key, language=saved.language, level=saved.level,
                subject=saved.subject, body=saved.body, revision=saved.revision,
                saved_by=saved.saved_by, saved_on=saved.saved_on))

        return await run_command(info, anywhere(Action.EMAIL_TEMPLATES), save_email_template,
                                 input.key, input.language, level=input.level,
                                 subject=input.subject, body=input.body, answer=answer,
                                 reads=("correspondence",))
