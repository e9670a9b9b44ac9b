"""CLI wiring for the reference gateway: `gateway import` and the top-level `replay`.

Only typer, rich and the standard library are imported here; the model (polars, numba) is
imported inside the command bodies so that `apigw-analyze --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from apigw_analytics.gateway.compare import ReplayComparison
    from apigw_analytics.gateway.replay import ReplayReport

gateway_app = typer.Typer(
    help="The reference gateway: a model of API Gateway's limits, cache and timeouts.",
    no_args_is_help=True,
)

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Warehouse directory (default: $APIGW_ANALYZE_DATA, else ./apigw-data)."
    ),
]


@gateway_app.command("import")
def import_command(
    files: Annotated[list[Path], typer.Argument(help="JSON printed by aws apigateway get-*.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the configuration here (JSON).")
    ] = None,
    api_id: Annotated[
        str | None, typer.Option("--api-id", help="The API the stages belong to.")
    ] = None,
) -> None:
    """Build a gateway configuration from get-stage(s), get-usage-plans, get-usage-plan-keys,
    get-resources and get-authorizers output."""
    from apigw_analytics.gateway.aws_import import import_aws_json

    text = json.dumps(import_aws_json(files, api_id=api_id), indent=2, sort_keys=True)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n")
        typer.echo(f"wrote {output}")


def _render_report(report: ReplayReport) -> None:
    from rich.console import Console
    from rich.table import Table

    from apigw_analytics.gateway.replay import OUTCOME_CLASSES

    console = Console()
    console.print(
        f"replay [bold]{report.name}[/]: {report.requests:,} requests, status agreement "
        f"[bold]{report.status_agreement:.2%}[/]; {report.drawn_latencies:,} outcomes rest on "
        f"integration latencies drawn from the route's recorded distribution"
    )
    confusion = Table("observed \\ predicted", *OUTCOME_CLASSES, title="outcome classes")
    for name, row in zip(OUTCOME_CLASSES, report.confusion, strict=True):
        confusion.add_row(name, *(f"{int(v):,}" for v in row))
    console.print(confusion)
    minutes = Table("minute (UTC)", "observed 429", "predicted 429", title="429s per minute")
    for minute, observed, predicted in report.per_minute_429.head(30).iter_rows():
        minutes.add_row(f"{minute:%Y-%m-%d %H:%M}", f"{observed:,}", f"{predicted:,}")
    if report.per_minute_429.height > 30:
        minutes.caption = f"first 30 of {report.per_minute_429.height} minutes with 429s"
    console.print(minutes)
    console.print(
        f"limit layers: {report.limit_layers or 'none fired'}; cache: {report.cache_results}; "
        f"integration calls: {report.integration_calls:,}; outcomes: {report.outcomes_path}"
    )


def _render_comparison(comparison: ReplayComparison) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("change", "requests", title=f"{comparison.baseline} → {comparison.what_if}")
    for label, value in (
        ("429s avoided", comparison.throttled_avoided),
        ("429s added", comparison.throttled_added),
        ("cache hits gained", comparison.cache_hits_gained),
        ("cache hits lost", comparison.cache_hits_lost),
        ("504s avoided", comparison.timeouts_avoided),
        ("504s added", comparison.timeouts_added),
        ("integration calls saved", comparison.integration_calls_saved),
        ("status changed", comparison.status_changed),
        ("requests compared", comparison.requests),
    ):
        table.add_row(label, f"{value:,}")
    Console().print(table)


def replay_command(
    config: Annotated[
        Path | None, typer.Option("--config", help="Gateway configuration (TOML, JSON, YAML).")
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help='Override a setting: stages.prod.methodSettings."*/*".x=1'),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Name of this replay.")] = "baseline",
    data: DataOption = None,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option("--compare", help="Show what changed from replay A to replay B."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Replay recorded arrivals through the reference gateway (what-if with --set)."""
    from apigw_analytics.warehouse.layout import resolve_data_dir

    root = resolve_data_dir(data)
    if compare is not None:
        from apigw_analytics.gateway.compare import compare_replays

        comparison = compare_replays(root, *compare)
        if as_json:
            typer.echo(json.dumps(comparison.to_dict(), indent=2))
        else:
            _render_comparison(comparison)
        return
    from apigw_analytics.gateway.config import load_config
    from apigw_analytics.gateway.replay import run_replay

    report = run_replay(root, load_config(config, overrides or []), name)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        _render_report(report)
