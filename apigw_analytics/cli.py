"""The `apigw-analyze` command: thin wiring from options to one library call each.

Heavy libraries (polars, duckdb, numba) are imported inside the commands, so `--help` is fast.
This is the one place where an ApigwError becomes one clear line and a non-zero exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from apigw_analytics.errors import ApigwError
from apigw_analytics.gateway.commands import gateway_app, replay_command
from apigw_analytics.generate.commands import generate_command
from apigw_analytics.query.commands import query_command, sql_command
from apigw_analytics.report.commands import report_command

app = typer.Typer(
    name="apigw-analyze",
    help="Analytics for AWS API Gateway access logs, execution logs and CloudWatch metrics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Warehouse directory (default: $APIGW_ANALYZE_DATA, else ./apigw-data).",
        show_default=False,
    ),
]


def _parse_dimensions(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise ApigwError(f"--dimensions takes Name=Value[,Name=Value...], got {text!r}")
    return {name.strip(): value.strip() for name, value in pairs}


def _read_json_option(path: Path | None, flag: str) -> object | None:
    if path is None:
        return None
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise ApigwError(f"{flag}: {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise ApigwError(f"{flag}: {path}: not JSON: {error}") from None


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (recursive) or globs.")],
    data: DataOption = None,
    format_name: Annotated[
        str | None, typer.Option("--format", help="Force a format (see `apigw-analyze formats`).")
    ] = None,
    access_format: Annotated[
        str | None,
        typer.Option("--access-format", help="The stage's accessLogSettings.format template."),
    ] = None,
    api_type: Annotated[
        str | None, typer.Option("--api-type", help="rest | http | websocket (default: inferred).")
    ] = None,
    api_id: Annotated[
        str | None,
        typer.Option("--api-id", help="API id for access records that do not log one (presets)."),
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option("--stage", help="Stage for access records that do not log one (presets)."),
    ] = None,
    metric_data_queries: Annotated[
        Path | None,
        typer.Option("--metric-data-queries", help="The --metric-data-queries JSON you sent."),
    ] = None,
    dimensions: Annotated[
        str | None,
        typer.Option("--dimensions", help="Metric dimensions, e.g. ApiName=shop,Stage=prod."),
    ] = None,
    period_s: Annotated[
        int | None, typer.Option("--period", help="Metric period in seconds.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Read logs and metric exports into the Parquet warehouse.

    Exit codes: 0 everything read; 3 records were quarantined; 4 a file could not be read.
    """
    from apigw_analytics.ingest.pipeline import ingest_paths
    from apigw_analytics.ingest.render import print_summary
    from apigw_analytics.warehouse.layout import resolve_data_dir

    if api_type not in (None, "rest", "http", "websocket"):
        raise ApigwError(f"--api-type takes rest, http or websocket, got {api_type!r}")
    options: dict[str, object] = {"api_id": api_id, "stage": stage}
    queries = _read_json_option(metric_data_queries, "--metric-data-queries")
    if queries is not None:
        options["metric_data_queries"] = queries
    if parsed := _parse_dimensions(dimensions):
        options["dimensions"] = parsed
    if period_s is not None:
        options["period_s"] = period_s
    summary = ingest_paths(
        paths,
        resolve_data_dir(data),
        format_name=format_name,
        access_template=access_format,
        api_type=api_type,
        options=options,
        show_progress=not (quiet or as_json),
    )
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        print_summary(summary)
    raise typer.Exit(summary.exit_code)


@app.command()
def formats() -> None:
    """List the formats ingest can detect or be forced to with --format."""
    from rich.console import Console
    from rich.table import Table

    from apigw_analytics.ingest.registry import all_formats

    table = Table("name", "what it reads")
    for fmt in all_formats():
        table.add_row(fmt.name, fmt.description)
    Console().print(table)


app.command("query")(query_command)
app.command("sql")(sql_command)
app.command("replay")(replay_command)
app.command("generate")(generate_command)
app.command("report")(report_command)
app.add_typer(gateway_app, name="gateway")


def main() -> None:
    """Entry point: run the app, turning user mistakes into one line on stderr."""
    try:
        exit_code = app(standalone_mode=False)
    except ApigwError as error:
        typer.echo(f"apigw-analyze: error: {error}", err=True)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        typer.echo("apigw-analyze: aborted", err=True)
        sys.exit(130)
    except Exception as error:  # click's usage errors arrive here in standalone_mode=False
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        raise
    sys.exit(exit_code if isinstance(exit_code, int) else 0)


if __name__ == "__main__":
    main()
