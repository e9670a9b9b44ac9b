"""The `query` and `sql` CLI commands: parse options, call the library, render the result.

Only typer, rich and the standard library are imported at module level so that
`apigw-analyze --help` stays fast; DuckDB and polars load when a command runs. Errors are
ApigwError subclasses (QueryError, WarehouseError) and are turned into one line by the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from apigw_analytics.errors import QueryError

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Data directory (default: $APIGW_ANALYZE_DATA, else ./apigw-data)."
    ),
]
FormatOption = Annotated[
    str, typer.Option("--format", "-f", help="table | csv | json | markdown | parquet")
]
OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.")]


def parse_parameters(pairs: list[str]) -> dict[str, str]:
    """`k=v` pairs into a dict; a pair without '=' is a QueryError naming the expected form."""
    parameters: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name.strip():
            raise QueryError(f"--param expects NAME=VALUE, got '{pair}'")
        parameters[name.strip()] = value
    return parameters


def _print_catalogue() -> None:
    from rich.console import Console
    from rich.table import Table

    from apigw_analytics.query.catalogue import catalogue

    table = Table(title="Questions (apigw-analyze query NAME --param k=v)", show_lines=True)
    for column in ("name", "title and grain", "parameters"):
        table.add_column(column)
    for spec in catalogue().values():
        parameters = "\n".join(
            f"{p.name} ({p.type_name}{' = ' + p.default if p.default else ''})"
            for p in spec.parameters
        )
        table.add_row(spec.name, f"{spec.title}\n[dim]{spec.grain}[/dim]", parameters)
    Console().print(table)


def query_command(
    name: Annotated[str | None, typer.Argument(help="Question to answer (see --list).")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Parameter as NAME=VALUE (repeatable)."),
    ] = None,
    list_queries: Annotated[
        bool, typer.Option("--list", help="List the questions and their parameters.")
    ] = False,
    output_format: FormatOption = "table",
    out: OutOption = None,
    data: DataOption = None,
) -> None:
    """Answer a question from the catalogue over the warehouse."""
    if list_queries:
        _print_catalogue()
        return
    if name is None:
        raise QueryError("give a question NAME, or --list to see them")
    from apigw_analytics.query.catalogue import get_query
    from apigw_analytics.query.render import render
    from apigw_analytics.query.run import run_query

    spec = get_query(name)
    frame = run_query(spec.name, parse_parameters(param or []), data_dir=data)
    render(frame, output_format, out, title=spec.title)


def sql_command(
    statement: Annotated[str, typer.Argument(help="SQL over the views (requests, ...).")],
    output_format: FormatOption = "table",
    out: OutOption = None,
    data: DataOption = None,
) -> None:
    """Run SQL over the warehouse views: requests, execution_requests, execution_events,
    metric_points, replay_outcomes, quarantine."""
    from apigw_analytics.query.render import render
    from apigw_analytics.query.run import run_sql

    render(run_sql(statement, data_dir=data), output_format, out)
