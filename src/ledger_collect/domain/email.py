"""Collection email: composed from a template, sent over SMTP by the mailer job.

An email is created pending: the mailer makes its attachments (the open-item list and the
account statement, as PDF or CSV, optionally zipped) and hands it to the mail server. The
server's answer decides the outcome (``record_delivery``): sent (every recipient accepted),
partly sent (some refused), failed (all refused, or a permanent error). A transient fault (the
server unreachable, a 4xx) records nothing: the email stays pending and is tried again. A
failed email can be corrected and re-sent: it goes back to pending with the corrected
recipients, as a new attempt. Every outcome lands in a per-recipient transmission log.

A dunning letter is an email that names the invoices it announces and at which level
(``dunning``). Their levels rise only when the letter reached someone: the command recording a
sent or partly sent letter raises them in the same save; a failed one raises nothing.

Addresses and the server's error texts (which quote addresses) are personal data: sealed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import (
    ERASED,
    CollectionsAggregate,
    ValidationError,
    check_transition,
    email_address,
    money,
)
from ledger_collect.domain.email_template import dunning_level, language_code, template_key

PENDING, SENT, FAILED, PARTLY_SENT = "pending", "sent", "failed", "partly_sent"
NEXT_STATUS = {PENDING: (SENT, FAILED, PARTLY_SENT), FAILED: (PENDING,), SENT: (),
               PARTLY_SENT: ()}
#: What the mailer can attach: the open-item list and the account statement, as PDF or CSV.
ATTACHMENTS = ("open-items.pdf", "open-items.csv", "statement.pdf", "statement.csv")


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


def _dunning(pairs: Sequence[tuple[UUID, int]]) -> list[dict[str, Any]]:
    """(invoice id, level) pairs as the event keeps them; an invoice named once."""
    announced: dict[UUID, int] = {}
    for n, pair in enumerate(pairs, 1):
        try:
            invoice_id, level = pair
        except (TypeError, ValueError):
            raise ValidationError(f"dunning {n} must be an invoice id and a level") from None
        if not isinstance(invoice_id, UUID):
            raise ValidationError(f"dunning {n}: {invoice_id!r} is not an invoice id")
        if invoice_id in announced:
            raise ValidationError(f"invoice {invoice_id} is named twice in the dunning letter")
        announced[invoice_id] = dunning_level(level, f"dunning {n}: level")
    return [{"invoice_id": i, "level": level} for i, level in announced.items()]


def _charge(value: Decimal | str | None, what: str) -> Decimal | None:
    if value is None:
        return None
    amount = money(value, what)
    if amount <= 0:
        raise ValidationError(f"{what} must be greater than zero, got {amount}")
    return amount


class CollectionEmail(CollectionsAggregate):
    TOPIC = "ledger_collect.CollectionEmail"
    #: The template text and the attachments' names may name people, too.
    PERSONAL = {"Created": ("to", "cc", "bcc", "template", "attachments"),
                "Failed": ("error",), "PartlySent": ("failures",),
                "Corrected": ("to", "cc", "bcc")}

    @classmethod
    def create(cls, *, customer_id: UUID, to: Iterable[str], cc: Iterable[str] = (),
               bcc: Iterable[str] = (), template: str, attachments: Iterable[str] = (),
               zipped: bool = False, contact_id: UUID | None = None, language: str = "en",
               level: int | None = None, dunning: Sequence[tuple[UUID, int]] = (),
               fee: Decimal | str | None = None, interest: Decimal | str | None = None,
               actor: str, business_date: date) -> CollectionEmail:
        """A pending email composed from the template ``template`` (its key) in ``language``
        (at dunning ``level``: by default the highest level ``dunning`` announces). Whether
        that template exists is the command's to check."""
        to_, cc_, bcc_ = _recipients(to, cc, bcc)
        template = template_key((template or "").strip())
        files = [(a or "").strip() for a in attachments]
        unknown = [f for f in files if f not in ATTACHMENTS]
        if unknown:
            raise ValidationError(f"{unknown[0]!r} is not an attachment the mailer can make; "
                                  f"it makes {', '.join(ATTACHMENTS)}")
        if len(set(files)) < len(files):
            raise ValidationError("an attachment is named twice")
        if zipped and not files:
            raise ValidationError("there is nothing to zip: the email has no attachments")
        announced = _dunning(dunning)
        if level is None and announced:
            level = max(d["level"] for d in announced)
        return cls(customer_id=customer_id, to=to_, cc=cc_, bcc=bcc_, template=template,
                   attachments=files, zipped=zipped, contact_id=contact_id,
                   language=language_code(language),
                   level=None if level is None else dunning_level(level), dunning=announced,
                   fee=_charge(fee, "dunning fee"), interest=_charge(interest, "interest"),
                   actor=actor, business_date=business_date)

    @event("Created", topic="ledger_collect.CollectionEmail.Created")
    def __init__(self, customer_id: UUID, to: list[str], cc: list[str], bcc: list[str],
                 template: str, attachments: list[str], zipped: bool, contact_id: UUID | None,
                 actor: str, business_date: date, language: str = "en",
                 level: int | None = None, dunning: list[dict[str, Any]] | None = None,
                 fee: Decimal | None = None, interest: Decimal | None = None) -> None:
        # language ... interest default for the emails recorded before letters had them.
        self.customer_id = customer_id
        self.to, self.cc, self.bcc = _kept(to), _kept(cc), _kept(bcc)
        self.template = template
        # A list, or one ERASED text once its customer's personal data was erased.
        self.attachments = list(attachments) if isinstance(attachments, list) else [attachments]
        self.zipped = zipped
        self.contact_id = contact_id
        self.language, self.level = language, level
        self.dunning = [(d["invoice_id"], d["level"]) for d in dunning or ()]
        self.fee, self.interest = fee, interest
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
    def record_delivery(self, *, attempt: int, refused: Mapping[str, str] | None = None,
                        error: str | None = None, actor: str,
                        business_date: date) -> str | None:
        """What the mail server answered to ``attempt``: ``error``, a permanent failure of the
        whole message; else ``refused``, the recipients it refused (address → its reply).
        Returns the status recorded; None when this attempt's outcome is already recorded
        (a job run twice records it once)."""
        if self.status != PENDING or attempt != self.attempt:
            return None
        refused = dict(refused or {})
        if error is None and refused and len(refused) == len(self.recipients):
            error = "; ".join(f"{address}: {reply}" for address, reply in refused.items())
        if error is not None:
            self.mark_failed(error, actor=actor, business_date=business_date)
        elif refused:
            self.mark_partly_sent(refused, actor=actor, business_date=business_date)
        else:
            self.mark_sent(actor=actor, business_date=business_date)
        return self.status

    @property
    def reached_someone(self) -> bool:
        return self.status in (SENT, PARTLY_SENT)

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
