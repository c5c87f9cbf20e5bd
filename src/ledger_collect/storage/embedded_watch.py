"""Keeping the embedded PostgreSQL up under ``serve``: started again when its postmaster died.

A postmaster killed (SIGKILL, the OOM killer) takes the whole server with it; the processes
using it would answer 503 until someone restarts them. A thread of the serving process looks
every second, and when the postmaster is gone, waits for the old server's last processes to
end (two sets of processes on one data folder would corrupt it), then starts it again. The
pools reconnect by themselves.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from ledger_collect.storage.embedded import EmbeddedPostgres, EmbeddedPostgresError

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between two looks


class Watchdog(threading.Thread):
    def __init__(self, server: EmbeddedPostgres, interval: float = INTERVAL) -> None:
        super().__init__(name="embedded-postgres-watchdog", daemon=True)
        self.server = server
        self.interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self.interval):
            if self.server.running():
                continue
            left = cluster_processes(self.server.pgdata)
            if left:
                log.warning("embedded PostgreSQL's postmaster is gone; waiting for %d of its "
                            "processes to end before starting it again", len(left))
                continue
            try:
                self.server.start()
            except EmbeddedPostgresError as error:
                log.error("embedded PostgreSQL could not be started again: %s", error)
            else:
                log.warning("embedded PostgreSQL had stopped; started it again")

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5 * self.interval)


def cluster_processes(pgdata: Path) -> list[int]:
    """Processes working in ``pgdata`` (PostgreSQL's all do: it changes into its data folder),
    such as the backends a killed postmaster left behind, which exit on their own shortly."""
    found = []
    target = str(pgdata.resolve())
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd") == target:
                    found.append(int(entry))
            except OSError:
                continue
    return found
