"""A collection email as the mail server receives it: composed from its template and its
letter's facts, with its attachments, and a Message-ID that names the email and the attempt.

The Message-ID is ``<email id hex>.<attempt>@<sender's domain>``: the same for every try of
one attempt, so a message sent twice (a job redelivered after the server had accepted it) is
recognisable as one by whoever receives both; a corrected and re-sent email is a new attempt
and a new message. Bcc recipients are no header: they are given to the server only, as
envelope recipients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from uuid import UUID

from ledger_collect.commands.template_defaults import TemplateText
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.templating import render, render_subject
from ledger_collect.jobs.email_files import attachments
from ledger_collect.jobs.letters import Letter, context

_TYPES = {".pdf": ("application", "pdf"), ".csv": ("text", "csv"),
          ".zip": ("application", "zip")}


def message_id(email_id: UUID, attempt: int, sender: str) -> str:
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{email_id.hex}.{attempt}@{domain}>"


@dataclass(frozen=True)
class Text:
    """The rendered subject and body of a letter."""

    subject: str
    body: str


def render_letter(template: TemplateText, letter: Letter) -> Text:
    facts = context(letter)
    return Text(render_subject(template.subject, facts), render(template.body, facts))


def compose(email: CollectionEmail, template: TemplateText, letter: Letter, *,
            sender: str, now: datetime | None = None) -> EmailMessage:
    """The message of the email's current attempt: headers, text, attachments made now."""
    text = render_letter(template, letter)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(email.to)
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
    message["Subject"] = text.subject
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = message_id(email.id, email.attempt, sender)
    message["Content-Language"] = letter.language
    message.set_content(text.body)
    for name, content in attachments(letter, email.attachments, email.zipped):
        kind, subtype = _TYPES[name[name.rindex("."):]]
        message.add_attachment(content, maintype=kind, subtype=subtype, filename=name)
    return message
