"""Collection email: its state only (sending comes with the jobs of a later issue).

An email is created pending (its attachments — invoice copies, an account statement, optionally
zipped — are made in the background), then the sender marks it sent, failed, or partly sent
(some addresses refused). A failed email can be corrected and re-sent: it goes back to pending
with the corrected recipients. Every outcome lands in a per-recipient transmission log.

Addresses and the server's error texts (which quote addresses) are personal data: sealed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import (
    ERASED,
    CollectionsAggregate,
    ValidationError,
    check_transition,
    email_address,
)

PENDING, SENT, FAILED, PARTLY_SENT = "pending", "sent", "failed", "partly_sent"
NEXT_STATUS = {PENDING: (SENT, FAILED, PARTLY_SENT), FAILED: (PENDING,), SENT: (),
               PARTLY_SENT: ()}


def _addresses(values: Iterable[str], field: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    return [email_address(value, field) for value in values]


def _kept(value: Any) -> list[str]:
    """A list of addresses as replayed: once the customer's key is erased it reads ERASED."""
    return list(value) if isinstance(value, list) else [ERASED]


def _recipients(to: Iterable[str], cc: Iterable[str],
                bcc: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
    lists = _addresses(to, "to"), _addresses(cc, "cc"), _addresses(bcc, "bcc")
    if not lists[0]:
        raise ValidationError("an email needs at least one recipient in to")
    seen: set[str] = set()
    for address in (a for addresses in lists for a in addresses):
        if address.lower() in seen:
            raise ValidationError(f"{address} is named twice among the recipients")
        seen.add(address.lower())
    return lists


class CollectionEmail(CollectionsAggregate):
    TOPIC = "ledger_collect.CollectionEmail"
    #: The template text and the attachments' names may name people, too.
    PERSONAL = {"Created": ("to", "cc", "bcc", "template", "attachments"),
                "Failed": ("error",), "PartlySent": ("failures",),
                "Corrected": ("to", "cc", "bcc")}

    @classmethod
    def create(cls, *, customer_id: UUID, to: Iterable[str], cc: Iterable[str] = (),
               bcc: Iterable[str] = (), template: str, attachments: Iterable[str] = (),
               zipped: bool = False, contact_id: UUID | None = None, actor: str,
               business_date: date) -> CollectionEmail:
        to_, cc_, bcc_ = _recipients(to, cc, bcc)
        template = (template or "").strip()
        if not template:
            raise ValidationError("name the template of the email")
        files = [(a or "").strip() for a in attachments]
        if not all(files):
            raise ValidationError("an attachment needs a name")
        if zipped and not files:
            raise ValidationError("there is nothing to zip: the email has no attachments")
        return cls(customer_id=customer_id, to=to_, cc=cc_, bcc=bcc_, template=template,
                   attachments=files, zipped=zipped, contact_id=contact_id, actor=actor,
                   business_date=business_date)

    @event("Created", topic="ledger_collect.CollectionEmail.Created")
    def __init__(self, customer_id: UUID, to: list[str], cc: list[str], bcc: list[str],
                 template: str, attachments: list[str], zipped: bool, contact_id: UUID | None,
                 actor: str, business_date: date) -> None:
        self.customer_id = customer_id
        self.to, self.cc, self.bcc = _kept(to), _kept(cc), _kept(bcc)
        self.template = template
        # A list, or one ERASED text once its customer's personal data was erased.
        self.attachments = list(attachments) if isinstance(attachments, list) else [attachments]
        self.zipped = zipped
        self.contact_id = contact_id
        self.status = PENDING
        self.attempt = 1
        self.log: list[dict[str, Any]] = []

    @property
    def recipients(self) -> list[str]:
        return [*self.to, *self.cc, *self.bcc]

    def _check_transition(self, to: str) -> None:
        check_transition("an email", self.status, to, NEXT_STATUS)

    def _log(self, outcomes: Mapping[str, str | None], on: date) -> None:
        for recipient in self.recipients:
            error = outcomes.get(recipient)
            self.log.append({"attempt": self.attempt, "recipient": recipient,
                             "outcome": FAILED if error else SENT, "error": error, "on": on})

    # -- outcomes of sending -----------------------------------------------------------------
    def mark_sent(self, *, actor: str, business_date: date) -> None:
        self._check_transition(SENT)
        self._sent(customer_id=self.customer_id, actor=actor, business_date=business_date)

    @event("Sent", topic="ledger_collect.CollectionEmail.Sent")
    def _sent(self, customer_id: UUID, actor: str, business_date: date) -> None:
        self._log({}, business_date)
        self.status = SENT

    def mark_failed(self, error: str, *, actor: str, business_date: date) -> None:
        self._check_transition(FAILED)
        error = (error or "").strip()
        if not error:
            raise ValidationError("say why the email could not be sent")
        self._failed(customer_id=self.customer_id, error=error, actor=actor,
                     business_date=business_date)

    @event("Failed", topic="ledger_collect.CollectionEmail.Failed")
    def _failed(self, customer_id: UUID, error: str, actor: str, business_date: date) -> None:
        self._log(dict.fromkeys(self.recipients, error), business_date)
        self.status = FAILED

    def mark_partly_sent(self, failures: Mapping[str, str], *, actor: str,
                         business_date: date) -> None:
        """Some recipients refused the email: ``failures`` maps each of them to the error."""
        self._check_transition(PARTLY_SENT)
        unknown = [a for a in failures if a not in self.recipients]
        if unknown:
            raise ValidationError(f"{', '.join(unknown)} is not a recipient of this email")
        if not failures:
            raise ValidationError("name the recipients the email could not reach (if it "
                                  "reached all, mark it sent)")
        if len(failures) == len(self.recipients):
            raise ValidationError("the email reached none of its recipients: mark it failed")
        errors = {a: (e or "").strip() or "refused" for a, e in failures.items()}
        self._partly_sent(customer_id=self.customer_id, failures=errors, actor=actor,
                          business_date=business_date)

    @event("PartlySent", topic="ledger_collect.CollectionEmail.PartlySent")
    def _partly_sent(self, customer_id: UUID, failures: dict[str, str], actor: str,
                     business_date: date) -> None:
        if isinstance(failures, dict):
            self._log(failures, business_date)
        else:  # erased: who failed is no longer known
            self.log.append({"attempt": self.attempt, "recipient": ERASED,
                             "outcome": PARTLY_SENT, "error": ERASED, "on": business_date})
        self.status = PARTLY_SENT

    def correct_and_resend(self, *, to: Iterable[str], cc: Iterable[str] = (),
                           bcc: Iterable[str] = (), actor: str, business_date: date) -> None:
        """Correct the recipients of a failed email; it is pending again, for a new attempt."""
        self._check_transition(PENDING)
        to_, cc_, bcc_ = _recipients(to, cc, bcc)
        self._corrected(customer_id=self.customer_id, to=to_, cc=cc_, bcc=bcc_, actor=actor,
                        business_date=business_date)

    @event("Corrected", topic="ledger_collect.CollectionEmail.Corrected")
    def _corrected(self, customer_id: UUID, to: list[str], cc: list[str], bcc: list[str],
                   actor: str, business_date: date) -> None:
        self.to, self.cc, self.bcc = _kept(to), _kept(cc), _kept(bcc)
        self.attempt += 1
        self.status = PENDING
