"""What a report holds: the catalogue's answers for one period, and the threshold checks.

Every section is a catalogue question bound to the period's start and end, so the report says
exactly what `apigw-analyze query NAME --param start=... --param end=...` says, and a reader
can re-run any section by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from apigw_analytics.query.catalogue import get_query
from apigw_analytics.query.run import open_connection, run_query
from apigw_analytics.report.period import ReportPeriod
from apigw_analytics.report.thresholds import ThresholdCheck, check_thresholds

HEALTH_QUERY = "health_summary"
TRAFFIC_QUERY = "overview"


@dataclass(frozen=True)
class SectionSpec:
    """A catalogue question shown as one section, with parameters beyond the period's."""

    query: str
    heading: str
    parameters: tuple[tuple[str, object], ...] = ()


SECTIONS = (
    SectionSpec(HEALTH_QUERY, "Health by API and stage"),
    SectionSpec("throttling_episodes", "Throttling episodes"),
    SectionSpec("throttle_attribution", "Which limit throttled"),
    SectionSpec("errors_5xx_causes", "5xx causes"),
    SectionSpec("cache_hit_ratio", "Stage cache hit ratio"),
    SectionSpec("latency_by_route", "Slowest routes (p99)", (("top", 20),)),
    SectionSpec("near_timeout_routes", "Routes near their integration timeout"),
)


@dataclass(frozen=True)
class Section:
    """One answered question: its heading, the query's title and notes, and every row."""

    query: str
    heading: str
    title: str
    notes: str
    rows: pl.DataFrame


@dataclass(frozen=True)
class Report:
    """A period's request count, sections, traffic series (for the chart) and threshold
    checks."""

    period: ReportPeriod
    requests: int
    sections: tuple[Section, ...]
    traffic: pl.DataFrame
    checks: tuple[ThresholdCheck, ...]

    @property
    def breached(self) -> tuple[ThresholdCheck, ...]:
        return tuple(check for check in self.checks if check.breached)


def build_report(
    period: ReportPeriod, limits: dict[str, float], data_dir: str | Path | None = None
) -> Report:
    """Answer every section's question over the period, on one connection."""
    connection = open_connection(data_dir)
    window = {"start": period.start, "end": period.end}
    sections = []
    for spec in SECTIONS:
        query = get_query(spec.query)
        rows = run_query(spec.query, {**window, **dict(spec.parameters)}, connection=connection)
        sections.append(Section(spec.query, spec.heading, query.title, query.notes, rows))
    traffic = run_query(
        TRAFFIC_QUERY, {**window, "interval_s": period.chart_interval_s}, connection=connection
    )
    health = sections[0].rows
    requests = int(health["requests"].sum()) if health.height else 0
    checks = tuple(check_thresholds(limits, health))
    return Report(period, requests, tuple(sections), traffic, checks)
