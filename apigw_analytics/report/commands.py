"""The `report` CLI command: pick the period, build the report, write its three files.

Meant for cron and systemd timers: with no date it reports the last complete period, the files
are named after the period (rerunning rewrites them, byte for byte when the data is unchanged),
each is written to a temporary name and renamed so a reader never sees half a file, and the
exit code says whether a threshold was breached (THRESHOLD_EXIT_CODE).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from apigw_analytics.errors import ConfigError

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Data directory (default: $APIGW_ANALYZE_DATA, else ./apigw-data)."
    ),
]


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a rename (the
    process id in its name keeps two overlapping runs from writing into one file)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ConfigError(f"--out {path.parent}: {error.strerror or error}") from None


def _chosen_day(day: str | None, latest: bool, data: Path | None) -> date | None:
    """The day named by --date, or the newest request's day for --latest (None: default)."""
    if day is not None and latest:
        raise ConfigError("give --date or --latest, not both")
    if day is not None:
        try:
            return date.fromisoformat(day)
        except ValueError:
            raise ConfigError(f"--date expects YYYY-MM-DD, got {day!r}") from None
    if not latest:
        return None
    from apigw_analytics.query.run import run_sql

    newest = run_sql("SELECT max(requested_at) AS newest FROM requests", data_dir=data)
    moment = newest["newest"][0]
    if moment is None:
        raise ConfigError("--latest: the warehouse holds no access-log requests")
    return moment.astimezone(UTC).date()


def report_command(
    period: Annotated[str, typer.Option("--period", help="day | week (ISO) | month")] = "day",
    day: Annotated[
        str | None,
        typer.Option(
            "--date", help="A day in the period to report (default: the last complete period)."
        ),
    ] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Report the period of the newest logged request.")
    ] = False,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            "-t",
            help="NAME=VALUE, repeatable: max_5xx_rate, max_4xx_rate, max_throttle_rate, "
            "max_p99_latency_ms, min_requests. A breach exits with code 5.",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory the report files go to.")
    ] = Path("reports"),
    data: DataOption = None,
) -> None:
    """Write one period's report (HTML, Markdown, JSON) for cron; exit 5 on a breached
    threshold."""
    from apigw_analytics.report.build import build_report
    from apigw_analytics.report.period import last_complete_period, period_containing
    from apigw_analytics.report.render import to_html_report, to_json_report, to_markdown_report
    from apigw_analytics.report.thresholds import THRESHOLD_EXIT_CODE, parse_thresholds

    limits = parse_thresholds(threshold or [])
    chosen = _chosen_day(day, latest, data)
    span = (
        period_containing(period, chosen)
        if chosen is not None
        else last_complete_period(period, datetime.now(UTC))
    )
    report = build_report(span, limits, data)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"--out {out}: {error.strerror or error}") from None
    stem = out / f"apigw-report-{span.name}"
    for suffix, render in (
        (".html", to_html_report),
        (".md", to_markdown_report),
        (".json", to_json_report),
    ):
        write_atomically(stem.with_suffix(suffix), render(report))
    verdict = f"{len(report.breached)} threshold breach(es)" if report.breached else "no breach"
    typer.echo(
        f"report {span.name}: {report.requests:,} requests, {verdict}; {stem}.html|.md|.json"
    )
    raise typer.Exit(THRESHOLD_EXIT_CODE if report.breached else 0)
