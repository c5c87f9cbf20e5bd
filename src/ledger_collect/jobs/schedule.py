"""When the periodic jobs are due: one table, one line per job.

A line is a job (``registry.JOBS``), a crontab expression read in a time zone (the settings'
``time_zone`` unless the line names one) and a group (the runs that belong together, such as
the morning's). The scheduler only requests runs at these times (``scheduler``); a run's
business date is the day it was due, in that time zone.

Days of the week by name (``mon-fri``): APScheduler 3, which reads these expressions, counts
0 as Monday where crontab counts it as Sunday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from ledger_collect.jobs import registry


@dataclass(frozen=True)
class Due:
    job: str
    cron: str  # minute hour day month day-of-week
    group: str
    time_zone: str | None = None  # None: the settings' ``time_zone``

    def zone(self, default: str) -> tzinfo:
        return ZoneInfo(self.time_zone or default)

    def trigger(self, default_zone: str) -> CronTrigger:
        return CronTrigger.from_crontab(self.cron, timezone=self.zone(default_zone))

    def next_due(self, after: datetime, default_zone: str) -> datetime | None:
        """The first due time strictly after ``after``."""
        found: datetime | None = self.trigger(default_zone).get_next_fire_time(
            None, after + timedelta(microseconds=1))
        return found


SCHEDULE: tuple[Due, ...] = (
    Due("promise-valuation", "30 5 * * *", "morning"),
    Due("worklist-rankings", "0 6 * * *", "morning"),
    Due("worklist-generation", "15 6 * * *", "morning"),  # reads the day's ranking of 6:00
    Due("dunning-run", "30 6 * * *", "morning"),  # after the valuation: broken promises' items
    Due("emails", "*/5 * * * *", "emails"),
    Due("compliance", "30 2 * * *", "night"),
)


def check(schedule: tuple[Due, ...] = SCHEDULE) -> None:
    """Every line names a registered run job, once, with an expression and zone that parse."""
    seen: set[str] = set()
    for due in schedule:
        registry.job(due.job)
        if due.job in seen:
            raise ValueError(f"{due.job} is in the schedule twice: one line per job")
        seen.add(due.job)
        due.trigger("UTC")
