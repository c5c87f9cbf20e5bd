"""The file a collection agency receives for a case: CSV, one row per item handed over, in the
columns of ``EXPORT_COLUMNS`` (the README's agency section describes each). It names the
customer's contact person for dunning (personal data: the file is for the agency alone).

Days overdue are counted on the day the case was submitted; amounts are each item's open
amount then (what the case records), with two decimal places.
"""

from __future__ import annotations

import csv
from typing import Any, TextIO
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ledger_collect.domain.agency_case import AgencyCase
from ledger_collect.domain.base import NotFoundError
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice

EXPORT_COLUMNS = ("case_id", "agency", "submitted_on", "customer_number", "customer_name",
                  "contact_name", "contact_email", "contact_phone", "invoice_number",
                  "currency", "open_amount", "due_date", "days_overdue", "dunning_level")


def export_case(app: Any, case_id: UUID, out: TextIO) -> int:
    """Write the case's file to ``out``; returns the number of items written."""
    try:
        case = app.repository.get(case_id)
    except AggregateNotFoundError:
        case = None
    if not isinstance(case, AgencyCase):
        raise NotFoundError(f"agency case {case_id} does not exist")
    customer: Customer = app.repository.get(case.customer_id)
    contact = customer.dunning_contact()
    person = customer.contacts.get(contact[0], {}) if contact else {}
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for item in case.items:
        invoice: Invoice = app.repository.get(item["invoice_id"])
        writer.writerow([
            case.id, case.agency, case.submitted_on.isoformat(), customer.number,
            customer.name, person.get("name") or "", person.get("email") or "",
            person.get("phone") or "", item["document_number"], item["currency"],
            f"{item['open_amount']:.2f}", item["due_date"].isoformat(),
            (case.submitted_on - item["due_date"]).days, invoice.dunning_level])
    return len(case.items)
