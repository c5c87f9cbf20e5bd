"""Promises to pay. (Being written: see the PromiseToPay aggregate.)"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger_collect.commands import Batch
    from ledger_collect.domain.invoice import Invoice


def after_invoice_change(batch: Batch, invoice: Invoice, *, actor: str, business_date: date) -> None:
    """Let the invoice's unconfirmed promise follow a payment, credit, reversal or clearing."""
    return None


class PromiseCommands:
    """Collections methods for promises to pay."""
