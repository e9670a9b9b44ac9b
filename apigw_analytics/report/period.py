"""The period a report covers: a UTC day, ISO week or calendar month, and the name it goes by.

A report is named after its period (`2026-11-02`, `2026-W45`, `2026-11`), so a cron job that
runs twice for the same period rewrites the same files instead of adding new ones. The default
period is the last complete one before `now`, which the caller passes in (the CLI reads the
clock; tests pin it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from apigw_analytics.errors import ConfigError

PERIOD_KINDS = ("day", "week", "month")


@dataclass(frozen=True)
class ReportPeriod:
    """[start, end) in UTC, both midnight; `kind` is one of PERIOD_KINDS."""

    kind: str
    start: datetime
    end: datetime

    @property
    def name(self) -> str:
        if self.kind == "day":
            return self.start.date().isoformat()
        if self.kind == "week":
            year, week, _ = self.start.date().isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def chart_interval_s(self) -> int:
        """Width of the traffic chart's buckets: hours for a day, 6 hours for a week, days for
        a month (about 24-120 points, readable at a glance)."""
        return {"day": 3600, "week": 6 * 3600, "month": 86400}[self.kind]


def period_containing(kind: str, day: date) -> ReportPeriod:
    """The period of `kind` that holds `day`."""
    if kind not in PERIOD_KINDS:
        raise ConfigError(f"unknown period {kind!r}; known: {', '.join(PERIOD_KINDS)}")
    if kind == "day":
        first, following = day, day + timedelta(days=1)
    elif kind == "week":
        first = day - timedelta(days=day.weekday())
        following = first + timedelta(days=7)
    else:
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
    return ReportPeriod(kind, _midnight(first), _midnight(following))


def last_complete_period(kind: str, now: datetime) -> ReportPeriod:
    """The newest period of `kind` that ended at or before `now`."""
    current = period_containing(kind, now.astimezone(UTC).date())
    return period_containing(kind, current.start.date() - timedelta(days=1))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
