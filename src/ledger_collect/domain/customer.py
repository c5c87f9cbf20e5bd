"""Customer (business partner): master data from the ERP, assignment, collection contacts, notes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import (
    CollectionsAggregate,
    NotFoundError,
    ValidationError,
    derived_id,
    email_address,
    money,
)
from ledger_collect.domain.dunning_block import DUNNING_ROLE, DunningBlock, check_blocked

RISK_CLASSES = ("A", "B", "C", "D", "E")  # A: lowest risk


class UnknownContactError(NotFoundError, code="NOT_FOUND"):
    """The customer has no collection contact of that id (or no longer has it)."""


class Customer(CollectionsAggregate):
    TOPIC = "ledger_collect.Customer"
    PERSONAL = {"ContactAdded": ("name", "email", "phone"),
                "ContactChanged": ("name", "email", "phone"), "NoteAdded": ("text",),
                "DunningBlocked": ("reason",)}

    @staticmethod
    def create_id(number: str, **_: Any) -> UUID:
        return derived_id("customer", number)

    @classmethod
    def register(
        cls,
        *,
        number: str,
        name: str,
        segment: str,
        credit_limit: Decimal,
        currency: str,
        risk_class: str,
        head_office_id: UUID | None,
        source_id: str,
        actor: str,
        business_date: date,
    ) -> Customer:
        number = (number or "").strip()
        if not number:
            raise ValidationError("a customer needs a number")
        if not (name or "").strip():
            raise ValidationError(f"customer {number} needs a name")
        if risk_class not in RISK_CLASSES:
            raise ValidationError(
                f"risk class {risk_class!r} of customer {number} is not one of {', '.join(RISK_CLASSES)}"
            )
        limit = money(credit_limit)
        if limit < 0:
            raise ValidationError(f"credit limit of customer {number} cannot be negative")
        return cls(
            number=number,
            name=name.strip(),
            segment=segment,
            credit_limit=limit,
            currency=currency,
            risk_class=risk_class,
            head_office_id=head_office_id,
            source_id=source_id,
            actor=actor,
            business_date=business_date,
        )

    @event("Registered", topic="ledger_collect.Customer.Registered")
    def __init__(
        self,
        number: str,
        name: str,
        segment: str,
        credit_limit: Decimal,
        currency: str,
        risk_class: str,
        head_office_id: UUID | None,
        source_id: str,
        actor: str,
        business_date: date,
    ) -> None:
        self.number = number
        self.name = name
        self.segment = segment
        self.credit_limit = credit_limit
        self.currency = currency
        self.risk_class = risk_class
        self.head_office_id = head_office_id
        self.source_ids = {source_id}
        self.specialist: str | None = None
        self.contacts: dict[str, dict[str, Any]] = {}
        self.removed_contact_ids: set[str] = set()
        self.default_contact_id: str | None = None
        self.notes: dict[str, str] = {}
        self.dunning_block: DunningBlock | None = None
        self.dunning_procedure: str | None = None

    # -- master data -------------------------------------------------------------------------
    def update_master_data(self, *, source_id: str, actor: str, business_date: date,
                           **fields: Any) -> bool:
        """Apply the ERP's newer master data; False when nothing differs (idempotent feed)."""
        if source_id in self.source_ids:
            return False
        if "risk_class" in fields and fields["risk_class"] not in RISK_CLASSES:
            raise ValidationError(f"risk class {fields['risk_class']!r} is not one of "
                                  f"{', '.join(RISK_CLASSES)}")
        if "credit_limit" in fields:
            fields["credit_limit"] = money(fields["credit_limit"])
        changed = {k: v for k, v in fields.items() if getattr(self, k) != v}
        if not changed:
            return False
        self._master_data_changed(changes=changed, source_id=source_id, actor=actor,
                                  business_date=business_date)
        return True

    @event("MasterDataChanged", topic="ledger_collect.Customer.MasterDataChanged")
    def _master_data_changed(self, changes: dict[str, Any], source_id: str, actor: str,
                             business_date: date) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
        self.source_ids.add(source_id)

    # -- assignment --------------------------------------------------------------------------
    def assign(self, specialist: str, *, actor: str, business_date: date) -> None:
        specialist = (specialist or "").strip()
        if not specialist:
            raise ValidationError("name the specialist to assign the customer to")
        if specialist == self.specialist:
            return
        self._assigned(specialist=specialist, actor=actor, business_date=business_date)

    @event("Assigned", topic="ledger_collect.Customer.Assigned")
    def _assigned(self, specialist: str, actor: str, business_date: date) -> None:
        self.specialist = specialist

    def unassign(self, *, actor: str, business_date: date) -> None:
        if self.specialist is None:
            return
        self._unassigned(actor=actor, business_date=business_date)

    @event("Unassigned", topic="ledger_collect.Customer.Unassigned")
    def _unassigned(self, actor: str, business_date: date) -> None:
        self.specialist = None

    # -- collection contacts (people at the customer: personal data) -------------------------
    def add_contact(self, contact_id: str, *, name: str, email: str | None, phone: str | None,
                    role: str | None, actor: str, business_date: date) -> None:
        if contact_id in self.contacts:
            raise ValidationError(f"contact {contact_id} already exists for customer {self.number}")
        if contact_id in self.removed_contact_ids:
            raise ValidationError(f"contact {contact_id} of customer {self.number} was removed; "
                                  f"add the person under a new contact id")
        self._contact_added(contact_id=contact_id, name=_person(name, email), email=email,
                            phone=phone, role=role, actor=actor, business_date=business_date)

    @event("ContactAdded", topic="ledger_collect.Customer.ContactAdded")
    def _contact_added(self, contact_id: str, name: str, email: str | None, phone: str | None,
                       role: str | None, actor: str, business_date: date) -> None:
        self.contacts[contact_id] = {"name": name, "email": email, "phone": phone, "role": role}
        if self.default_contact_id is None:
            self.default_contact_id = contact_id

    def change_contact(self, contact_id: str, *, name: str, email: str | None,
                       phone: str | None, role: str | None, actor: str,
                       business_date: date) -> None:
        self._contact(contact_id)
        self._contact_changed(contact_id=contact_id, name=_person(name, email), email=email,
                              phone=phone, role=role, actor=actor, business_date=business_date)

    @event("ContactChanged", topic="ledger_collect.Customer.ContactChanged")
    def _contact_changed(self, contact_id: str, name: str, email: str | None,
                         phone: str | None, role: str | None, actor: str,
                         business_date: date) -> None:
        self.contacts[contact_id] = {"name": name, "email": email, "phone": phone, "role": role}

    def remove_contact(self, contact_id: str, *, actor: str, business_date: date) -> None:
        self._contact(contact_id)
        self._contact_removed(contact_id=contact_id, actor=actor, business_date=business_date)

    @event("ContactRemoved", topic="ledger_collect.Customer.ContactRemoved")
    def _contact_removed(self, contact_id: str, actor: str, business_date: date) -> None:
        del self.contacts[contact_id]
        self.removed_contact_ids.add(contact_id)
        if self.default_contact_id == contact_id:
            self.default_contact_id = next(iter(self.contacts), None)

    def set_default_contact(self, contact_id: str, *, actor: str, business_date: date) -> None:
        self._contact(contact_id)
        if self.default_contact_id == contact_id:
            return
        self._default_contact_set(contact_id=contact_id, actor=actor, business_date=business_date)

    @event("DefaultContactSet", topic="ledger_collect.Customer.DefaultContactSet")
    def _default_contact_set(self, contact_id: str, actor: str, business_date: date) -> None:
        self.default_contact_id = contact_id

    def _contact(self, contact_id: str) -> dict[str, Any]:
        try:
            return self.contacts[contact_id]
        except KeyError:
            raise UnknownContactError(
                f"customer {self.number} has no contact {contact_id}"
            ) from None

    # -- notes -------------------------------------------------------------------------------
    def add_note(self, note_id: str, text: str, *, actor: str, business_date: date) -> None:
        if not (text or "").strip():
            raise ValidationError("a note cannot be empty")
        if note_id in self.notes:
            raise ValidationError(f"note {note_id} already exists")
        self._note_added(note_id=note_id, text=text, actor=actor, business_date=business_date)

    @event("NoteAdded", topic="ledger_collect.Customer.NoteAdded")
    def _note_added(self, note_id: str, text: str, actor: str, business_date: date) -> None:
        self.notes[note_id] = text


    # -- dunning ---------------------------------------------------------------------------
    def dunning_contact(self) -> tuple[str, str | None] | None:
        """The person dunning letters go to: the contact whose role is "dunning", else the
        default contact; with their address (None: they have none)."""
        for contact_id, contact in self.contacts.items():
            if (contact.get("role") or "").strip().lower() == DUNNING_ROLE:
                return contact_id, contact.get("email")
        if self.default_contact_id is None:
            return None
        return self.default_contact_id, self.contacts[self.default_contact_id].get("email")

    def block_dunning(self, reason: str, until: date | None, *, actor: str,
                      business_date: date) -> None:
        """No letter to this customer until it is released (or through ``until``)."""
        block = DunningBlock.of(reason, until, business_date)
        self._dunning_blocked(reason=block.reason, until=until, actor=actor,
                              business_date=business_date)

    @event("DunningBlocked", topic="ledger_collect.Customer.DunningBlocked")
    def _dunning_blocked(self, reason: str, until: date | None, actor: str,
                         business_date: date) -> None:
        self.dunning_block = DunningBlock(reason, until, business_date, actor)

    def release_dunning_block(self, *, actor: str, business_date: date) -> None:
        check_blocked(self.dunning_block, business_date, f"customer {self.number}")
        self._dunning_block_released(actor=actor, business_date=business_date)

    @event("DunningBlockReleased", topic="ledger_collect.Customer.DunningBlockReleased")
    def _dunning_block_released(self, actor: str, business_date: date) -> None:
        self.dunning_block = None

    def set_dunning_procedure(self, code: str | None, *, actor: str,
                              business_date: date) -> None:
        """The customer's own procedure (checked by the caller); None: its segment's."""
        if code != self.dunning_procedure:
            self._dunning_procedure_set(code=code, actor=actor, business_date=business_date)

    @event("DunningProcedureSet", topic="ledger_collect.Customer.DunningProcedureSet")
    def _dunning_procedure_set(self, code: str | None, actor: str, business_date: date) -> None:
        self.dunning_procedure = code


def _person(name: str, email: str | None) -> str:
    """A contact's checked name (and email): what adding and changing a contact both need."""
    if not (name or "").strip():
        raise ValidationError("a contact needs a name")
    if email is not None:
        email_address(email)
    return name.strip()
