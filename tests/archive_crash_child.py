"""An archive run in a process of its own that kills itself (SIGKILL) at the n-th time it
reaches a step: the archive's ("segment", "manifest", "indexed") or a purge batch's
("deleting": inside its transaction; "purged": committed).

    python archive_crash_child.py STEP N DATE SEGMENT_STREAMS   (settings from the environment)
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from datetime import date

from ledger_collect.app import open_collections
from ledger_collect.compliance.archive import open_archive
from ledger_collect.compliance.archiver import archive_run
from ledger_collect.compliance.purge import Purger
from ledger_collect.config import Settings


def main() -> None:
    step, nth, day, streams = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    seen: Counter[str] = Counter()

    def at(name: str) -> None:
        seen[name] += 1
        if name == step and seen[name] == nth:
            os.kill(os.getpid(), signal.SIGKILL)

    settings = Settings.from_env()
    with open_collections(settings, migrate=False) as app:
        assert app.database is not None
        archive = open_archive(settings, app.database)
        archive.on_step = at
        Purger.on_step = staticmethod(at)
        archive_run(app, business_date=date.fromisoformat(day), archive=archive,
                    segment_streams=streams)
    print("finished without reaching", step, nth, dict(seen))  # noqa: T201


if __name__ == "__main__":
    main()
