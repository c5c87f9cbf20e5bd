"""``ledger-collect agency``: the hand-over to a collection agency — its criteria, the customers
meeting them, submitting a customer's items, the case's export file, recalling a case. The
agency's status and payment file comes back with ``ledger-collect import`` (kinds
``agency_status`` and ``agency_payment``)."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from uuid import UUID

import click

from ledger_collect.app import open_collections
from ledger_collect.config import Settings

_DAY = click.DateTime(formats=["%Y-%m-%d"])
ACTOR = "cli"


@click.group()
def agency() -> None:
    """Hand customers' overdue items to a collection agency."""


@agency.command("criteria")
@click.option("--minimum", required=True, help="Minimum overdue amount, e.g. 500.00.")
@click.option("--days", type=int, required=True, help="Days overdue an item must be.")
def set_criteria(minimum: str, days: int) -> None:
    """Set which customers may be handed over."""
    from ledger_collect.commands.agency_commands import set_agency_criteria

    try:
        amount = Decimal(minimum)
    except InvalidOperation:
        raise click.BadParameter(f"{minimum!r} is not an amount", param_hint="--minimum") \
            from None
    with open_collections(Settings.from_env()) as app:
        app.run(set_agency_criteria, minimum_amount=amount, days_overdue=days, actor=ACTOR,
                business_date=date.today())
    click.echo(f"hand-over criteria: at least {amount} in items {days} days overdue")


@agency.command("candidates")
@click.option("--date", "day", type=_DAY, help="The business date [today].")
def list_candidates(day: object) -> None:
    """List the customers (per currency) meeting the criteria, with their items."""
    from ledger_collect.projections.agency import candidates
    from ledger_collect.projections.engine import catch_up

    with open_collections(Settings.from_env()) as app:
        catch_up(app, ("open_items", "customers", "agency"))
        assert app.database is not None
        with app.database.connect() as conn:
            found = candidates(conn, _date(day))
    for candidate in found:
        click.echo(f"{candidate.customer_number}\t{candidate.currency}\t{candidate.amount}\t"
                   + " ".join(candidate.documents))
    click.echo(f"{len(found)} customers meet the criteria", err=True)


@agency.command("submit")
@click.argument("customer_number")
@click.option("--agency", "name", required=True, help="The collection agency.")
@click.option("--date", "day", type=_DAY, help="The business date [today].")
def submit(customer_number: str, name: str, day: object) -> None:
    """Hand the customer's items meeting the criteria to the agency (one case per currency)."""
    from ledger_collect.commands.agency_commands import submit_to_agency
    from ledger_collect.domain.customer import Customer
    from ledger_collect.projections.agency import candidates
    from ledger_collect.projections.engine import catch_up

    on = _date(day)
    customer_id = Customer.create_id(customer_number)
    with open_collections(Settings.from_env()) as app:
        catch_up(app, ("open_items", "customers", "agency"))
        assert app.database is not None
        with app.database.connect() as conn:
            found = candidates(conn, on, customer_id)
        if not found:
            raise click.ClickException(f"customer {customer_number} does not meet the "
                                       f"hand-over criteria on {on}")
        for candidate in found:
            case = app.run(submit_to_agency, customer_id, agency=name,
                           invoice_ids=candidate.invoice_ids, actor=ACTOR,
                           business_date=on).result
            click.echo(f"case {case}: {candidate.currency} {candidate.amount}, "
                       f"{len(candidate.invoice_ids)} items")


@agency.command("export")
@click.argument("case_id", type=click.UUID)
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="The CSV file to write [standard output].")
def export(case_id: UUID, output: Path | None) -> None:
    """Write the case's file for the agency (CSV; columns in the README)."""
    from ledger_collect.feed.agency_export import export_case

    with open_collections(Settings.from_env()) as app:
        if output is None:
            count = export_case(app, case_id, sys.stdout)
        else:
            with output.open("w", encoding="utf-8", newline="") as out:
                count = export_case(app, case_id, out)
    click.echo(f"{count} items of case {case_id}", err=True)


@agency.command("recall")
@click.argument("case_id", type=click.UUID)
@click.option("--reason", required=True)
def recall(case_id: UUID, reason: str) -> None:
    """Take a case back from the agency: its items are dunned again."""
    from ledger_collect.commands.agency_commands import recall_from_agency

    with open_collections(Settings.from_env()) as app:
        app.run(recall_from_agency, case_id, reason=reason, actor=ACTOR,
                business_date=date.today())
    click.echo(f"case {case_id} recalled")


def _date(value: object) -> date:
    return value.date() if value is not None else date.today()  # type: ignore[attr-defined]
