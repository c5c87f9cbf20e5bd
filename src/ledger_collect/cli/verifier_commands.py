"""``ledger-collect verify-erasure CUSTOMER --values FILE``: is any of the customer's former
personal data still stored? Exit status 0: none found; 1: found (each hit on standard output);
2: the check could not be made (no suitable pg_dump, an unusable values file, ...)."""

from __future__ import annotations

import sys
from pathlib import Path
from uuid import UUID

import click

from ledger_collect.app import open_database
from ledger_collect.compliance.archive import ArchiveStorageError
from ledger_collect.compliance.database_dump import DumpError
from ledger_collect.compliance.verify_erasure import ValuesError, read_values, verify_erasure
from ledger_collect.config import Settings
from ledger_collect.domain.customer import Customer
from ledger_collect.storage.database import Database


class CannotVerify(click.ClickException):
    exit_code = 2


@click.command("verify-erasure")
@click.argument("customer")
@click.option("--values", "values_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The customer's former personal data, one value a line (names, email "
                   "addresses, phone numbers, notes).")
@click.option("--max-hits", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Hits listed; the rest are counted.")
def verify_erasure_command(customer: str, values_file: Path, max_hits: int) -> None:
    """Look for CUSTOMER's (number or id) former personal data in a pg_dump of the whole
    database (every table, the events included) and in every archive segment."""
    try:
        values = read_values(values_file)
    except ValuesError as exc:
        raise CannotVerify(str(exc)) from None
    settings = Settings.from_env()
    with open_database(settings) as database:
        customer_id, state = _customer(database, customer)
        click.echo(f"customer {customer} ({customer_id}): {state}; looking for "
                   f"{len(values)} values", err=True)
        try:
            report = verify_erasure(settings, database, values, max_hits=max_hits,
                                    progress=lambda line: click.echo(line, err=True))
        except (DumpError, ArchiveStorageError) as exc:
            raise CannotVerify(str(exc)) from None
    for hit in report.hits:
        click.echo(f"hit: {hit.describe()}")
    if report.hit_count > len(report.hits):
        click.echo(f"... and {report.hit_count - len(report.hits)} more hits")
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    click.echo(f"{report.hit_count} hits in a dump of {report.dump_bytes / 1e6:,.1f} MB "
               f"({report.tables} tables) and {report.segments} archive segments "
               f"({report.segment_bytes / 1e6:,.1f} MB, {report.archive})", err=True)
    if report.hit_count:
        sys.exit(1)
    if report.problems:
        raise CannotVerify("no hits, but not every segment could be read as it should")


def _customer(database: Database, given: str) -> tuple[UUID, str]:
    """The customer's id (from its id or number) and whether its data key is erased."""
    try:
        customer_id = UUID(given)
    except ValueError:
        customer_id = Customer.create_id(given)
    with database.connect() as conn:
        known = conn.execute("SELECT 1 FROM collections_events WHERE originator_id = %s "
                             "LIMIT 1", (customer_id,)).fetchone()
        erased = conn.execute("SELECT erased_at FROM erased_subjects WHERE subject_id = %s",
                              (customer_id,)).fetchone()
    if known is None and erased is None:
        raise CannotVerify(f"no customer {given} in schema {database.schema}")
    return customer_id, (f"data key erased {erased[0]:%Y-%m-%d %H:%M}" if erased
                         else "data key not erased")
