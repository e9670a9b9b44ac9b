"""The `query` and `sql` commands wired into a small typer app, as the CLI registers them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from apigw_analytics.errors import QueryError
from apigw_analytics.query.commands import query_command, sql_command

app = typer.Typer()
app.command("query")(query_command)
app.command("sql")(sql_command)
runner = CliRunner()


def test_list_shows_every_question() -> None:
    result = runner.invoke(app, ["query", "--list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "throttling_episodes" in result.stdout and "interval_s" in result.stdout


def test_query_as_csv_with_parameters(synthetic_warehouse: Path) -> None:
    result = runner.invoke(
        app,
        [
            "query",
            "canary-vs-production",
            "--data",
            str(synthetic_warehouse),
            "--param",
            "stage=prod",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("api_id,stage,release,requests")
    assert {line.split(",")[1] for line in result.stdout.splitlines()[1:]} == {"prod"}


def test_query_as_a_table_by_default(synthetic_warehouse: Path) -> None:
    result = runner.invoke(
        app, ["query", "overview", "--data", str(synthetic_warehouse)], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 0
    assert "Overview" in result.stdout and "latency_p99_ms" in result.stdout


def test_a_piped_table_keeps_its_natural_width(synthetic_warehouse: Path) -> None:
    """Not a terminal, no COLUMNS: rich would fold a wide answer into 80 columns of slivers."""
    result = runner.invoke(
        app, ["query", "cache_hit_ratio", "--data", str(synthetic_warehouse)], env={"COLUMNS": None}
    )
    assert result.exit_code == 0
    header = next(line for line in result.stdout.splitlines() if "api_id" in line)
    assert "uninferred_requests" in header and "metric_hit_ratio" in header
    assert len(header) > 80


def test_parquet_output_to_a_file(synthetic_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "keys.parquet"
    result = runner.invoke(
        app,
        [
            "query",
            "api_key_usage",
            "--data",
            str(synthetic_warehouse),
            "-p",
            "quota_limit=100",
            "-f",
            "parquet",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0
    assert pl.read_parquet(out)["quota_limit"].unique().to_list() == [100]


@pytest.mark.parametrize(
    "arguments",
    [
        ["query", "nope"],
        ["query", "overview", "-p", "start"],
        ["query", "overview", "-f", "xml"],
        ["query", "overview", "-f", "parquet"],
        ["query", "overview", "-p", "interval_s=often"],
    ],
)
def test_bad_input_raises_a_query_error(arguments, synthetic_warehouse: Path) -> None:
    result = runner.invoke(app, [*arguments, "--data", str(synthetic_warehouse)])
    assert isinstance(result.exception, QueryError)


def test_sql_over_the_views(synthetic_warehouse: Path) -> None:
    result = runner.invoke(
        app,
        [
            "sql",
            "SELECT count(*) AS n FROM requests WHERE status = 504",
            "--data",
            str(synthetic_warehouse),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0
    assert result.stdout.startswith('[{"n":')
