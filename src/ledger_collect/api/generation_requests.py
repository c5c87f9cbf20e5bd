"""After a change that reshapes today's worklists — a strategy made active, a team's members or
absences — the API requests a run of the worklist generation for the business day.

The change is committed whatever happens here: a run that cannot be requested is logged, and
the next morning's run (or one by hand) generates the lists. A run that finds the day's basis
(strategy version, who is present, absent and standing in) unchanged records nothing, so a
change that does not touch today (an absence next week) costs one idle run.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool

from ledger_collect.api.context import Info
from ledger_collect.jobs.actors import request_run
from ledger_collect.jobs.worklists import JOB as GENERATION

logger = logging.getLogger("ledger_collect.api")


async def generate_again(info: Info, why: str) -> None:
    """Request a run of the worklist generation for the day, after ``why`` (for the log)."""
    context = info.context

    def request() -> None:
        try:
            request_run(context.collections, GENERATION, business_date=context.business_date,
                        actor=context.user.id)
        except Exception:  # the change stands
            logger.exception("could not request a run of %s after %s", GENERATION, why)

    await run_in_threadpool(request)
