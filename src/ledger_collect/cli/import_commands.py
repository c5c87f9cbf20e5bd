"""``ledger-collect import``: an ERP feed into the store, in one process or several."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import psycopg
from eventsourcing.persistence import PersistenceError

from ledger_collect.app import open_collections
from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.feed import DEFAULT_BATCH_SIZE, FeedFormatError, Importer, ImportResult
from ledger_collect.feed.files import detect_format, open_feed
from ledger_collect.storage.outage import first_line


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--strict", is_flag=True,
              help="All or nothing: save nothing if any line is rejected (one process).")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE,
              show_default=True, help="Records saved per transaction.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]),
              help="Override the format the file name suggests.")
@click.option("--jobs", "-j", default="auto", show_default=True, metavar="N|auto",
              help="Worker processes, each importing the records of its customer groups "
                   "(auto: one per core, at most 4; one for a file under 4 MB or --strict).")
def import_feed(file: Path, strict: bool, batch_size: int, fmt: str | None, jobs: str) -> None:
    """Import an ERP feed (JSON Lines or CSV); lines already imported are skipped."""
    if not file.is_file():
        raise click.ClickException(f"{file}: no such file")
    try:
        detect_format(file, fmt)
    except FeedFormatError as exc:
        raise click.ClickException(str(exc)) from None
    processes = _jobs(jobs, file, strict)
    settings = Settings.from_env()
    with open_collections(settings) as app, _stopped_by_database():
        if processes > 1:
            result = _import_in_processes(app, settings, file, fmt, batch_size, processes)
        else:
            reader, stream = open_feed(file, fmt)
            with stream, click.progressbar(length=max(1, file.stat().st_size),
                                           label="importing", file=sys.stderr) as bar:
                try:
                    result = Importer(app, batch_size=batch_size).run(
                        reader, strict=strict,
                        progress=lambda _: bar.update(reader.position - bar.pos))
                except FeedFormatError as exc:
                    raise click.ClickException(str(exc)) from None
    report(result, str(file))
    if result.rejected:
        sys.exit(1)


@contextmanager
def _stopped_by_database() -> Iterator[None]:
    """A batch the database refused (its disk full, say) ends the import with PostgreSQL's
    reason in one line; the batches committed before it stay, and a new run skips them."""
    try:
        yield
    except (PersistenceError, psycopg.Error) as exc:
        raise click.ClickException(
            f"the import stopped, the database refused a batch: {first_line(exc)} (the batches "
            f"saved before stay saved; run the import again once the cause is fixed)") from None


def _jobs(value: str, file: Path, strict: bool) -> int:
    from ledger_collect.feed.parallel import auto_jobs

    if value.strip().lower() == "auto":
        return 1 if strict else auto_jobs(file)
    try:
        jobs = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a number nor auto",
                                 param_hint="--jobs") from None
    if not 1 <= jobs <= 64:
        raise click.BadParameter("use 1 to 64 processes", param_hint="--jobs")
    if strict and jobs > 1:
        raise click.UsageError(
            "--strict saves the whole file in one transaction, which one process must hold: "
            "use --strict without --jobs (or --jobs 1)")
    return jobs


def _import_in_processes(app: Collections, settings: Settings, file: Path, fmt: str | None,
                         batch_size: int, jobs: int) -> ImportResult:
    from ledger_collect.feed.parallel import ParallelImportError, run_parallel

    click.echo(f"importing with {jobs} processes, each with its customer groups", err=True)
    with click.progressbar(length=1, label="importing", file=sys.stderr) as bar:
        def sized(records: int) -> None:
            bar.length = max(1, records)

        try:
            assert app.database is not None
            return run_parallel(settings, app.database.url, file, jobs, fmt=fmt,
                                batch_size=batch_size, progress=bar.update,
                                on_partitioned=sized)
        except FeedFormatError as exc:
            raise click.ClickException(str(exc)) from None
        except ParallelImportError as exc:
            raise click.ClickException(str(exc)) from None


def report(result: ImportResult, source: str) -> None:
    for bad in result.rejected:
        click.echo(f"{source}:{bad.line}: {bad.reason}", err=True)
    click.echo(f"records read: {result.read}, applied: {result.applied}, already present: "
               f"{result.already_present}, rejected: {len(result.rejected)}")
    if not result.saved:
        click.echo("strict: nothing was saved because some lines were rejected")
    click.echo(f"events written: {result.events} in {result.seconds:.1f} s "
               f"({result.events_per_second:,.0f} events/s)")
