"""The report job over a synthetic warehouse: what it says matches an oracle computed with
polars, files are named after the period and rewritten identically, and thresholds set the exit
code."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from apigw_analytics.cli import app
from apigw_analytics.errors import ConfigError
from apigw_analytics.report.build import SECTIONS, Report, Section, build_report
from apigw_analytics.report.period import period_containing
from apigw_analytics.report.render import SHOWN_ROWS, to_html_report, to_markdown_report
from apigw_analytics.report.thresholds import THRESHOLD_EXIT_CODE

DAY = date(2024, 5, 1)


def _oracle(requests: pl.DataFrame, day: date) -> pl.DataFrame:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return (
        requests.filter(pl.col("requested_at").dt.date() == day)
        .filter(pl.col("requested_at") >= start)
        .group_by("api_id", "stage")
        .agg(
            pl.len().alias("requests"),
            (pl.col("status") >= 500).sum().alias("server_errors_5xx"),
            (pl.col("status") == 429).sum().alias("throttled_429"),
        )
        .sort("api_id", "stage")
    )


def test_health_section_matches_the_oracle(synthetic_warehouse: Path, synthetic_requests) -> None:
    report = build_report(period_containing("day", DAY), {}, synthetic_warehouse)
    health = report.sections[0].rows
    got = health.select("api_id", "stage", "requests", "server_errors_5xx", "throttled_429")
    expected = _oracle(synthetic_requests, DAY)
    assert got.sort("api_id", "stage").to_dicts() == expected.to_dicts()
    assert report.requests == expected["requests"].sum()
    assert [s.query for s in report.sections] == [spec.query for spec in SECTIONS]
    assert report.traffic["requests"].sum() == report.requests
    assert report.traffic["interval_start"].n_unique() == 24


def test_a_period_without_data_is_an_empty_report(synthetic_warehouse: Path) -> None:
    report = build_report(
        period_containing("day", date(2030, 1, 1)), {"min_requests": 1}, synthetic_warehouse
    )
    assert report.requests == 0
    assert all(section.rows.height == 0 for section in report.sections)
    assert [c.breached for c in report.checks] == [True]
    assert "No rows in this period." in to_markdown_report(report)


def test_long_sections_are_cut_for_people_not_for_programs(synthetic_warehouse: Path) -> None:
    report = build_report(period_containing("week", DAY), {}, synthetic_warehouse)
    long = [s for s in report.sections if s.rows.height > SHOWN_ROWS]
    assert long, "the synthetic week should give at least one section more rows than shown"
    markdown = to_markdown_report(report)
    for section in long:
        assert f"{section.rows.height - SHOWN_ROWS} more rows in the JSON report." in markdown


def _run(runner: CliRunner, *args: str):
    result = runner.invoke(app, ["report", *args])
    assert "Traceback" not in result.output
    return result


def test_cli_writes_three_files_named_after_the_period_idempotently(
    synthetic_warehouse: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    out = tmp_path / "reports"
    args = ("--date", "2024-05-01", "--data", str(synthetic_warehouse), "--out", str(out))
    assert _run(runner, *args).exit_code == 0
    names = sorted(path.name for path in out.iterdir())
    assert names == [f"apigw-report-2024-05-01.{suffix}" for suffix in ("html", "json", "md")]
    first = {path.name: path.read_bytes() for path in out.iterdir()}
    assert _run(runner, *args).exit_code == 0
    assert {path.name: path.read_bytes() for path in out.iterdir()} == first

    document = json.loads(first["apigw-report-2024-05-01.json"])
    assert document["period"] == {
        "kind": "day",
        "name": "2024-05-01",
        "start": "2024-05-01T00:00:00+00:00",
        "end": "2024-05-02T00:00:00+00:00",
    }
    health = document["sections"][0]
    assert health["query"] == "health_summary"
    assert sum(row["requests"] for row in health["rows"]) == document["requests"] > 0
    html = first["apigw-report-2024-05-01.html"].decode()
    assert "<script src=" not in html  # plotly.js is inlined: the file opens offline
    assert 'id="traffic"' in html


def test_cli_breached_threshold_exits_5_and_says_so(
    synthetic_warehouse: Path, tmp_path: Path
) -> None:
    result = _run(
        CliRunner(),
        "--date",
        "2024-05-01",
        "--data",
        str(synthetic_warehouse),
        "--out",
        str(tmp_path),
        "--threshold",
        "max_5xx_rate=0",
        "-t",
        "min_requests=1",
    )
    assert result.exit_code == THRESHOLD_EXIT_CODE
    assert "threshold breach" in result.output
    markdown = (tmp_path / "apigw-report-2024-05-01.md").read_text()
    assert "| max_5xx_rate |" in markdown and "BREACHED" in markdown


def test_cli_latest_reports_the_newest_requests_period(
    synthetic_warehouse: Path, synthetic_requests, tmp_path: Path
) -> None:
    newest = synthetic_requests["requested_at"].max().date()
    result = _run(
        CliRunner(),
        "--latest",
        "--period",
        "week",
        "--data",
        str(synthetic_warehouse),
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0
    year, week, _ = newest.isocalendar()
    assert (tmp_path / f"apigw-report-{year}-W{week:02d}.md").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--date", "2024-13-01"), "--date expects YYYY-MM-DD"),
        (("--date", "2024-05-01", "--latest"), "give --date or --latest, not both"),
        (("--period", "year"), "unknown period 'year'"),
    ],
)
def test_cli_user_mistakes_are_one_line_errors(
    synthetic_warehouse: Path, tmp_path: Path, args, message
) -> None:
    result = _run(CliRunner(), *args, "--data", str(synthetic_warehouse), "--out", str(tmp_path))
    assert isinstance(result.exception, ConfigError)  # main() turns it into one line, exit 2
    assert message in str(result.exception)


def test_html_and_markdown_escape_values() -> None:
    hostile = pl.DataFrame({"route": ["GET /<script>alert(1)</script>"], "note": ["a|b"]})
    section = Section("q", "Heading", "Title", "notes <b>", hostile)
    report = Report(period_containing("day", DAY), 1, (section,), pl.DataFrame(), ())
    html = to_html_report(report)
    assert "<script>alert" not in html
    assert "GET /&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "notes &lt;b&gt;" in html
    assert r"a\|b" in to_markdown_report(report)
