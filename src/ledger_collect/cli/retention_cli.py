"""``ledger-collect retention``: the retention policies in force, which policy keeps a
customer's, an invoice's or a dispute's records and why, setting a policy, placing and
releasing a legal hold. Customers and invoices are named by number or id, disputes by id."""

from __future__ import annotations

import getpass
from datetime import date
from uuid import UUID

import click

from ledger_collect.app import open_collections
from ledger_collect.config import Settings
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice

_DAY = click.DateTime(formats=["%Y-%m-%d"])


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _day(value: object) -> date | None:
    return value.date() if value is not None else None  # type: ignore[attr-defined]


def _id(value: str, kind: type[Customer] | type[Invoice]) -> UUID:
    """A UUID as given, else the id the number derives (``Customer.create_id``...)."""
    try:
        return UUID(value)
    except ValueError:
        return kind.create_id(value.strip())


@click.group()
def retention() -> None:
    """Retention policies and legal holds."""


@retention.command("policies")
def policies() -> None:
    """Every record class's policy in force (* : the shipped default)."""
    from ledger_collect.compliance.retention import current_policies, default_policies

    with open_collections(Settings.from_env()) as app:
        found = current_policies(app)
    defaults = default_policies()
    click.echo(f"{'record class':<18} {'trigger':<14} {'action':<8} {'after':<7} retain")
    for policy in found.values():
        mark = " *" if defaults[policy.record_class] == policy else ""
        click.echo(f"{policy.record_class:<18} {policy.trigger:<14} {policy.action:<8} "
                   f"{policy.after:<7} {policy.retain}{mark}")


@retention.command("show")
@click.option("--customer", help="Customer number or id.")
@click.option("--invoice", help="Invoice document number or id.")
@click.option("--dispute", type=click.UUID, help="Dispute id.")
@click.option("--date", "day", type=_DAY, help="The day to judge from (today by default).")
def show(customer: str | None, invoice: str | None, dispute: UUID | None, day: object) -> None:
    """Which policies keep the records of a customer, an invoice or a dispute, until when,
    and why."""
    from ledger_collect.compliance.retention_status import status_of
    from ledger_collect.projections.engine import catch_up

    named = [(kind, value) for kind, value in (
        ("customer", customer and _id(customer, Customer)),
        ("invoice", invoice and _id(invoice, Invoice)), ("dispute", dispute)) if value]
    if len(named) != 1:
        raise click.UsageError("name exactly one of --customer, --invoice and --dispute")
    [(kind, subject_id)] = named
    with open_collections(Settings.from_env()) as app:
        catch_up(app, "retention_streams")
        status = status_of(app, kind, subject_id, _day(day) or date.today())  # type: ignore[arg-type]
    if status is None:
        raise click.ClickException(f"there is no {kind} {customer or invoice or dispute}")
    click.echo(f"{kind} {subject_id}: last activity {status.last_activity or '-'}"
               + (f", under legal hold {status.held_by}" if status.held_by else ""))
    for record in status.records:
        what = (str(record.stream_id) if record.stream_id else
                f"{record.records} record{'s' if record.records != 1 else ''}")
        click.echo(f"  {record.record_class:<18} {what}: kept until "
                   f"{record.action_on or 'its trigger'}, by law until "
                   f"{record.retained_until or '-'}\n    {record.why}")


@retention.command("set")
@click.argument("record_class")
@click.option("--trigger", help="cleared, closed, sent or last_activity (unchanged if left out).")
@click.option("--action", help="archive, purge or erase (unchanged if left out).")
@click.option("--after", help="ISO 8601 period from the trigger, e.g. P2Y.")
@click.option("--retain", help="The legal retention, ISO 8601, e.g. P10Y (P0D: none).")
def set_policy(record_class: str, trigger: str | None, action: str | None, after: str | None,
               retain: str | None) -> None:
    """Set a record class's policy (recorded as an event); options left out keep their value."""
    from ledger_collect.commands.retention_commands import set_retention_policy
    from ledger_collect.compliance.retention import current_policies

    with open_collections(Settings.from_env()) as app:
        now = current_policies(app).get(record_class)
        if now is None:
            raise click.ClickException(f"there is no record class {record_class!r}")
        changed = app.run(set_retention_policy, record_class, trigger=trigger or now.trigger,
                          action=action or now.action, after=after or now.after,
                          retain=retain or now.retain, actor=_actor(),
                          business_date=date.today()).result
        policy = current_policies(app)[record_class]
    click.echo(f"{record_class}: {policy.action} {policy.after} after {policy.trigger}, "
               f"retain {policy.retain}" + ("" if changed else " (unchanged)"))


@retention.command("hold")
@click.argument("subject_kind", type=click.Choice(["customer", "dispute"]))
@click.argument("subject")
@click.option("--reference", required=True, help="The matter's reference (case, file number).")
@click.option("--on", "day", type=_DAY, help="The day the hold starts (today by default).")
def hold(subject_kind: str, subject: str, reference: str, day: object) -> None:
    """Place a legal hold on a customer (number or id) or a dispute (id): nothing of it is
    purged or erased until released."""
    from ledger_collect.commands.retention_commands import place_legal_hold

    subject_id = _id(subject, Customer) if subject_kind == "customer" else UUID(subject)
    with open_collections(Settings.from_env()) as app:
        app.run(place_legal_hold, subject_kind, subject_id, reference=reference,
                placed_on=_day(day), actor=_actor(), business_date=date.today())
    click.echo(f"{subject_kind} {subject} held under {reference.strip()}")


@retention.command("release")
@click.argument("subject")
@click.option("--on", "day", type=_DAY, help="The day the hold ends (today by default).")
def release(subject: str, day: object) -> None:
    """Release the legal hold on a customer (number or id) or a dispute (id)."""
    from ledger_collect.commands.retention_commands import release_legal_hold

    with open_collections(Settings.from_env()) as app:
        app.run(release_legal_hold, _id(subject, Customer), released_on=_day(day),
                actor=_actor(), business_date=date.today())
    click.echo(f"the legal hold on {subject} is released")
