"""The files a collection email attaches: the open-item list and the account statement, each
as PDF (fpdf2) or CSV, and the zip that holds them when the email asks for one.

CSV (the README documents it): UTF-8, comma-separated, one header row, CRLF line ends; amounts
with a decimal point and exactly two places, no thousands separator; dates ISO 8601
(YYYY-MM-DD). Amounts are written as the read model holds them: never rounded, never summed
into a figure the rows do not add up to. The PDF shows the same rows, for people, with amounts
as the letter's language writes them.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from fpdf import FPDF

from ledger_collect.domain.templating import day, money
from ledger_collect.jobs.letters import Letter

OPEN_ITEM_COLUMNS = ("customer_number", "document_number", "posting_date", "due_date",
                     "days_overdue", "dunning_level", "currency", "amount", "open_amount")
STATEMENT_COLUMNS = ("customer_number", "kind", "document", "document_date", "due_date",
                     "status", "currency", "amount", "paid_amount", "credited_amount",
                     "open_amount")
#: A Unicode font for names beyond Latin-1, where the system has it; else PDF's Helvetica.
_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

_LABELS = {
    "en": {"open_items": "Open items", "statement": "Account statement", "customer": "Customer",
           "as_of": "as of", "since": "invoices open, and closed since", "document": "Document",
           "posted": "Posted", "due": "Due", "overdue": "Days overdue", "level": "Level",
           "currency": "Cur.", "amount": "Amount", "open": "Open", "paid": "Paid",
           "credited": "Credited", "status": "Status", "credits": "Credits on account",
           "kind": "Kind", "date": "Date", "total": "Total open", "balance": "Balance",
           "none": "No open items."},
    "fr": {"open_items": "Postes ouverts", "statement": "Relevé de compte", "customer": "Client",
           "as_of": "au", "since": "factures ouvertes, et soldées depuis le",
           "document": "Pièce", "posted": "Date", "due": "Échéance", "overdue": "Jours de retard",
           "level": "Niveau", "currency": "Dev.", "amount": "Montant", "open": "Ouvert",
           "paid": "Payé", "credited": "Avoir", "status": "Statut",
           "credits": "Crédits en compte", "kind": "Nature", "date": "Date",
           "total": "Total ouvert", "balance": "Solde", "none": "Aucun poste ouvert."},
}


def _csv(columns: Sequence[str], rows: list[Sequence[Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)  # excel dialect: commas, CRLF, quotes only where needed
    writer.writerow(columns)
    writer.writerows([_plain(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8")


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def open_items_csv(letter: Letter) -> bytes:
    return _csv(OPEN_ITEM_COLUMNS, [
        (letter.customer_number, i.document_number, i.posting_date, i.due_date,
         i.days_overdue(letter.as_of), i.dunning_level, i.currency, i.amount, i.open_amount)
        for i in letter.account.open_items])


def statement_csv(letter: Letter) -> bytes:
    """Invoices (open, and closed within the statement's period), then credits on account
    (their amounts negative: they reduce the balance)."""
    rows: list[Sequence[Any]] = [
        (letter.customer_number, "invoice", i.document_number, i.posting_date, i.due_date,
         i.status, i.currency, i.amount, i.paid_amount, i.credited_amount, i.open_amount)
        for i in letter.account.invoices]
    rows += [(letter.customer_number, c.kind, c.source_id, c.document_date, None, "open",
              c.currency, -c.amount, None, None, -c.amount) for c in letter.account.credits]
    return _csv(STATEMENT_COLUMNS, rows)


class _Document(FPDF):
    """A4 portrait with the letter's heading on its first page."""

    def __init__(self, letter: Letter, title: str) -> None:
        super().__init__(format="A4")
        self.labels = _LABELS.get(letter.language, _LABELS["en"])
        self.unicode = _FONT.exists() and _BOLD.exists()
        if self.unicode:
            self.add_font("text", "", str(_FONT))
            self.add_font("text", "B", str(_BOLD))
        self.face = "text" if self.unicode else "helvetica"
        self.set_title(f"{title} {letter.customer_number}")
        self.set_subject(f"{letter.customer_number} {letter.customer_name}")
        self.add_page()
        self.set_font(self.face, "B", 14)
        self.write_line(title)
        self.set_font(self.face, "", 10)
        self.write_line(f"{self.labels['customer']} {letter.customer_number} - "
                        f"{letter.customer_name}")

    def text_of(self, text: str) -> str:
        """Helvetica has Latin-1 only: other characters show as '?'."""
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def write_line(self, text: str, height: float = 7) -> None:
        self.cell(0, height, self.text_of(text), new_x="LMARGIN", new_y="NEXT")

    def rows(self, headings: Sequence[str], rows: list[Sequence[str]],
             widths: Sequence[float], right_from: int) -> None:
        """A table; columns from ``right_from`` on (the figures) are right-aligned."""
        self.set_font(self.face, "", 8)
        align = tuple("LEFT" if n < right_from else "RIGHT" for n in range(len(headings)))
        with self.table(col_widths=widths, text_align=align, line_height=5) as table:
            for row in [headings, *rows]:
                cells = table.row()
                for value in row:
                    cells.cell(self.text_of(value))
        self.set_font(self.face, "", 10)
        self.ln(3)


def _amount(letter: Letter) -> Callable[[Decimal], str]:
    return lambda value: money(value, letter.language)


def open_items_pdf(letter: Letter) -> bytes:
    pdf = _Document(letter, _LABELS.get(letter.language, _LABELS["en"])["open_items"])
    words, amount = pdf.labels, _amount(letter)
    pdf.write_line(f"{words['as_of']} {day(letter.as_of, letter.language)}")
    pdf.ln(2)
    items = letter.account.open_items
    if not items:
        pdf.write_line(words["none"])
    else:
        pdf.rows([words[k] for k in ("document", "posted", "due", "overdue", "level",
                                     "currency", "amount", "open")],
                 [(i.document_number, i.posting_date.isoformat(), i.due_date.isoformat(),
                   str(i.days_overdue(letter.as_of)), str(i.dunning_level), i.currency,
                   amount(i.amount), amount(i.open_amount)) for i in items],
                 (3, 2, 2, 1.5, 1, 1, 2, 2), right_from=3)
    for total in letter.totals():
        pdf.write_line(f"{words['total']} {total['currency']}: "
                       f"{amount(total['open_amount'])}")
    return bytes(pdf.output())


def statement_pdf(letter: Letter) -> bytes:
    pdf = _Document(letter, _LABELS.get(letter.language, _LABELS["en"])["statement"])
    words, amount = pdf.labels, _amount(letter)
    pdf.write_line(f"{words['as_of']} {day(letter.as_of, letter.language)} "
                   f"({words['since']} {day(letter.account.since, letter.language)})")
    pdf.ln(2)
    account = letter.account
    if account.invoices:
        pdf.rows([words[k] for k in ("document", "posted", "due", "status", "currency",
                                     "amount", "paid", "credited", "open")],
                 [(i.document_number, i.posting_date.isoformat(), i.due_date.isoformat(),
                   i.status.replace("_", " "), i.currency, amount(i.amount),
                   amount(i.paid_amount), amount(i.credited_amount), amount(i.open_amount))
                  for i in account.invoices], (3, 2, 2, 1.6, 1, 2, 2, 2, 2), right_from=5)
    if account.credits:
        pdf.write_line(words["credits"])
        pdf.rows([words[k] for k in ("document", "date", "kind", "currency", "amount")],
                 [(c.source_id, c.document_date.isoformat(), c.kind.replace("_", " "),
                   c.currency, amount(-c.amount)) for c in account.credits],
                 (3, 2, 3, 1, 2), right_from=4)
    for currency, balance in sorted(_balances(letter).items()):
        pdf.write_line(f"{words['balance']} {currency}: {amount(balance)}")
    return bytes(pdf.output())


def _balances(letter: Letter) -> dict[str, Decimal]:
    """Per currency: the open items less the credits on account."""
    found: dict[str, Decimal] = {}
    for item in letter.account.open_items:
        found[item.currency] = found.get(item.currency, Decimal("0.00")) + item.open_amount
    for credit in letter.account.credits:
        found[credit.currency] = found.get(credit.currency, Decimal("0.00")) - credit.amount
    return found


#: How each attachment an email may name is made.
MAKERS: dict[str, Callable[[Letter], bytes]] = {
    "open-items.pdf": open_items_pdf, "open-items.csv": open_items_csv,
    "statement.pdf": statement_pdf, "statement.csv": statement_csv}


def attachments(letter: Letter, names: Sequence[str], zipped: bool) -> list[tuple[str, bytes]]:
    """The named files, made now (file names prefixed with the customer number); or one zip
    holding them."""
    prefix = _UNSAFE.sub("_", letter.customer_number)
    made = [(f"{prefix}-{name}", MAKERS[name](letter)) for name in names]
    if not zipped:
        return made
    buffer = io.BytesIO()
    stamp = (max(letter.as_of.year, 1980), letter.as_of.month, letter.as_of.day, 0, 0, 0)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in made:  # dated the letter's day: the same letter, the same zip
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), content,
                             compress_type=zipfile.ZIP_DEFLATED)
    return [(f"{prefix}-documents.zip", buffer.getvalue())]


#: What a file name may not hold of a customer number (a path separator, a space...).
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
