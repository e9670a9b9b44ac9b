"""CLI wiring for `apigw-analyze generate`: options in, one library call, a summary out.

Only typer, rich and the standard library are imported at module level, so `--help` stays fast.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from apigw_analytics.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_duration_s(text: str) -> float:
    """`90`, `90s`, `30m`, `6h`, `1d` → seconds; anything else is a ConfigError."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"--duration {text!r}: a positive number with s, m, h or d")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _list_scenarios() -> None:
    from rich.console import Console
    from rich.table import Table

    from apigw_analytics.generate.scenarios import SCENARIOS

    table = Table("scenario", "what it shows", "default duration", "default rps")
    for scenario in SCENARIOS.values():
        table.add_row(
            scenario.name, scenario.summary, f"{scenario.duration_s:,} s", f"{scenario.rps:g}"
        )
    Console().print(table)


def generate_command(
    scenario: Annotated[
        str | None, typer.Option("--scenario", help="Scenario name (see --list).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder to write into.")] = None,
    duration: Annotated[
        str | None,
        typer.Option("--duration", help="Simulated time: 90s, 30m, 6h, 1d (default: scenario's)."),
    ] = None,
    rps: Annotated[
        float | None,
        typer.Option("--rps", help="Mean base arrival rate, requests/s (default: scenario's)."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (default 1).")] = None,
    access_format: Annotated[
        str | None,
        typer.Option(
            "--access-format", help="Write every API's access log in this format (rest-json, ...)."
        ),
    ] = None,
    list_scenarios: Annotated[
        bool, typer.Option("--list", help="List the scenarios and exit.")
    ] = False,
) -> None:
    """Generate realistic logs and metrics from a scenario run through the reference gateway,
    with a ground-truth file of what happened to every request."""
    if list_scenarios:
        _list_scenarios()
        return
    if scenario is None or out is None:
        raise ConfigError("generate needs --scenario NAME and --out DIR (see --list)")
    from rich.console import Console
    from rich.table import Table

    from apigw_analytics.generate.access_logs import template_named
    from apigw_analytics.generate.output import write_run
    from apigw_analytics.generate.run import generate_run
    from apigw_analytics.generate.scenarios import scenario_named

    chosen = scenario_named(scenario)
    if access_format is not None:
        template_named(access_format)
    if rps is not None and rps <= 0:
        raise ConfigError(f"--rps {rps}: must be positive")
    duration_s = None if duration is None else parse_duration_s(duration)
    run = generate_run(chosen, duration_s=duration_s, rps=rps, seed=seed)
    written = write_run(run, out, access_format=access_format)
    table = Table("file", "holds", "format", "container", "records", title=f"wrote {out}")
    for item in written:
        table.add_row(
            str(item.path.relative_to(out)),
            item.holds,
            item.format_name,
            item.container,
            f"{item.records:,}",
        )
    console = Console()
    console.print(table)
    statuses = run.requests["status"].value_counts().sort("status")
    console.print(
        f"{chosen.name}: {run.requests.height:,} requests over {run.duration_s:,.0f} s (seed "
        f"{run.seed}); statuses "
        + ", ".join(f"{s}: {n:,}" for s, n in statuses.iter_rows())
        + f". Replay with: apigw-analyze replay --config {out / '_gateway-config.json'}"
    )
