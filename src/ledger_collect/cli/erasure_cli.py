"""``ledger-collect erase CUSTOMER --basis TEXT``: a customer's GDPR erasure from the command
line, as ``requestErasure`` does it (the customer by number or id)."""

from __future__ import annotations

import getpass
from uuid import UUID

import click

from ledger_collect.app import open_collections
from ledger_collect.config import Settings
from ledger_collect.domain.base import DomainError
from ledger_collect.domain.customer import Customer


def customer_id_of(text: str) -> UUID:
    """A customer named by its id, else by its number."""
    try:
        return UUID(text)
    except ValueError:
        return Customer.create_id(text.strip())


@click.command("erase")
@click.argument("customer")
@click.option("--basis", required=True, help="The legal basis, e.g. 'GDPR Art. 17(1)(a)'.")
@click.option("--actor", default=None, help="Who asks (default: the login name).")
def erase(customer: str, basis: str, actor: str | None) -> None:
    """Erase CUSTOMER's personal data now (by number or id); what legal retention requires is
    kept, restricted. Suspended, erasing nothing, while a legal hold is active."""
    from ledger_collect.compliance.erasure import erase_customer

    with open_collections(Settings.from_env()) as app:
        try:
            outcome = erase_customer(app, customer_id_of(customer), basis,
                                     actor or getpass.getuser())
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
    if outcome.status == "suspended":
        click.echo(f"customer {customer}: erasure suspended by legal hold "
                   f"{outcome.hold_reference}; nothing erased")
        raise SystemExit(1)
    until = outcome.retained_until or "the end of their retention (not started yet)"
    done = "erased" if outcome.erased_now else "already erased"
    click.echo(f"customer {customer}: {done}; {outcome.restricted_records} personal fields "
               f"kept restricted" + (f" until {until}" if outcome.restricted_records else ""))
