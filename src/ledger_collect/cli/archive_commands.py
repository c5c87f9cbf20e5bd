"""``ledger-collect archive``: list the archive's segments, verify every chain link, hash and the
manifest's signature (exit 1 on any problem, so that a cron job or CI can alert on it)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from ledger_collect.app import open_database
from ledger_collect.compliance.archive import (
    Archive,
    ArchiveError,
    ArchiveKeyError,
    ArchiveStorageError,
    ManifestError,
    open_archive,
)
from ledger_collect.compliance.archive.manifest import public_key_base64
from ledger_collect.config import Settings


@click.group()
def archive() -> None:
    """The tamper-evident archive of streams past their hot period."""


@contextmanager
def opened_archive(*, create_key: bool = True) -> Iterator[Archive]:
    """The configured archive on the opened database; configuration errors as one line."""
    settings = Settings.from_env()
    with open_database(settings) as database:
        try:
            yield open_archive(settings, database, create_key=create_key)
        except (ArchiveKeyError, ArchiveStorageError, ArchiveError, ManifestError) as exc:
            raise click.ClickException(str(exc)) from None


@archive.command("list")
def list_segments() -> None:
    """Every segment the signed manifest lists: number, events, streams, size, hash."""
    with opened_archive() as opened:
        click.echo(f"archive at {opened.storage.location}")
        count = 0
        for info in opened.segments():
            count += 1
            click.echo(f"{info.number:>8}  {info.events:>9} events  {info.streams:>7} streams"
                       f"  {info.bytes:>12} bytes  sha256 {info.sha256[:16]}…")
        click.echo(f"{count} segments")


@archive.command("public-key")
def public_key() -> None:
    """Print the archive's public key (base64): with it as LEDGER_ARCHIVE_PUBLIC_KEY, an
    auditor verifies the archive without the signing key."""
    with opened_archive(create_key=False) as opened:
        click.echo(public_key_base64(opened.public_key))


@archive.command("verify")
def verify() -> None:
    """Check the manifest's signature, every segment's hash and header and every chain link,
    and the index in the database against the manifest. Exit code 1 on any problem."""
    with opened_archive(create_key=False) as opened:
        with click.progressbar(length=1, label="verifying", file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = max(1, total)
                bar.update(done - bar.pos)

            report = opened.verify(progress)
    for problem in report.problems:
        click.echo(f"PROBLEM: {problem}")
    for orphan in report.orphans:
        click.echo(f"note: {orphan} is not in the manifest (an append that did not finish; "
                   f"the next append overwrites it)")
    summary = (f"{report.segments} segments, {report.events} events, "
               f"{report.bytes / 1e6:.1f} MB at {opened.storage.location}")
    if report.problems:
        click.echo(f"archive NOT verified: {len(report.problems)} problems in {summary}",
                   err=True)
        sys.exit(1)
    click.echo(f"archive verified: {summary}")
