"""Benchmark: every catalogue question on a generated warehouse, beside bare DuckDB.

For each question it prints the time through `run_query` (views, deduplication, binding,
conversion to polars) and the time of the same SQL, with the same bound values, on a bare
DuckDB connection whose views are plain `read_parquet` over the same files; then the wall
time of the `apigw-analyze query` command (a fresh process each time).

    .venv/bin/python benchmarks/query.py                  # 10M requests, ~15 s to generate
    .venv/bin/python benchmarks/query.py --requests 1000000 --repeat 5

Targets: every question <= 1 s, CLI wall time <= 1.5 s, ratio to bare DuckDB <= 1.2.
The warehouse is kept under --data (default /tmp) and reused when it already holds that size.

Times are medians of --repeat runs. Wall time depends on what else the machine runs, so the
CPU seconds used (all of DuckDB's threads; the child process for the CLI) are printed too, with
the load average before and after: on a shared machine they tell the work from the waiting.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from apigw_analytics.query.catalogue import catalogue
from apigw_analytics.query.connection import (
    METRIC_POINTS_RELATION,
    REQUEST_DERIVED_COLUMNS,
    SCALAR_MACROS,
    TABLE_MACROS,
    VIEW_NAMES,
)
from apigw_analytics.query.run import open_connection, run_query
from apigw_analytics.query.synthetic import build_synthetic_warehouse
from apigw_analytics.warehouse.layout import WarehouseLayout

TARGET_QUERY_S = 1.0
TARGET_CLI_S = 1.5
TARGET_RATIO = 1.2


def bare_connection(root: Path, ours: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The baseline: views that only read the Parquet (no typing, no deduplication).

    A table without files becomes an empty table with our view's columns. The questions' shared
    macros are defined the same way as ours (they only expand into the questions' SQL).
    """
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(SCALAR_MACROS)
    layout = WarehouseLayout(root)
    for kind, view in VIEW_NAMES.items():
        glob = layout.table_glob(kind.value)
        if not any(layout.table_dir(kind.value).rglob("*.parquet")):
            columns = ours.execute(f"DESCRIBE {view}").fetchall()
            listing = ", ".join(f'"{name}" {sql_type}' for name, sql_type, *_ in columns)
            connection.execute(f"CREATE TABLE {view} ({listing})")
            continue
        derived = REQUEST_DERIVED_COLUMNS if view == "requests" else ""
        relation = (
            f"SELECT * EXCLUDE (date){derived} "
            f"FROM read_parquet('{glob}', hive_partitioning = true)"
        )
        if view == "metric_points":  # REST points get their API id from the listings
            relation = METRIC_POINTS_RELATION.format(points=relation)
        connection.execute(f"CREATE VIEW {view} AS {relation}")
    connection.execute(TABLE_MACROS)
    return connection


def _cpu_s() -> float:
    """CPU seconds used so far by this process (every thread) and its finished children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(*functions, repeat: int) -> list[tuple[float, float]]:
    """Median (wall, CPU) seconds of `repeat` runs of each function, after a warm-up run of each.

    The functions take turns, run by run, so that a burst of load from elsewhere on a shared
    machine falls on both sides of a ratio rather than on one.
    """
    samples: list[list[tuple[float, float]]] = [[] for _ in functions]
    for function in functions:
        function()
    for _ in range(repeat):
        for function, timings in zip(functions, samples, strict=True):
            started, cpu_started = time.perf_counter(), _cpu_s()
            function()
            timings.append((time.perf_counter() - started, _cpu_s() - cpu_started))
    return [
        (statistics.median(w for w, _ in timings), statistics.median(c for _, c in timings))
        for timings in samples
    ]


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = args.data or Path(f"/tmp/apigw-bench-query-{args.requests}")
    if not (root / "access_requests").is_dir():
        started = time.perf_counter()
        build_synthetic_warehouse(root, args.requests)
        print(f"generated {args.requests:,} requests in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    connection = open_connection(root)
    print(f"first connection (views, dedupe check or cache): {time.perf_counter() - started:.2f} s")
    bare = bare_connection(root, connection)

    print(f"load average before: {_load()}")
    print(
        f"\n{'question':26} {'ours_s':>8} {'bare_s':>8} {'ratio':>6}"
        f" {'ours_cpu_s':>11} {'bare_cpu_s':>11}"
    )
    failures = []
    for name, spec in catalogue().items():
        bound = spec.bind({})
        (ours, ours_cpu), (baseline, baseline_cpu) = timed(
            lambda name=name: run_query(name, connection=connection),
            lambda spec=spec, bound=bound: bare.sql(spec.sql, params=bound).pl(),
            repeat=args.repeat,
        )
        ratio = ours / baseline
        flag = "" if ours <= TARGET_QUERY_S and ratio <= TARGET_RATIO else "  <-- over target"
        failures += [name] if flag else []
        print(
            f"{name:26} {ours:8.3f} {baseline:8.3f} {ratio:6.2f}"
            f" {ours_cpu:11.3f} {baseline_cpu:11.3f}{flag}"
        )

    command = [
        str(Path(sys.executable).with_name("apigw-analyze")),
        "query",
        "overview",
        "--data",
        str(root),
        "--format",
        "csv",
        "--out",
        "/dev/null",
    ]
    ((wall, cpu),) = timed(lambda: subprocess.run(command, check=True), repeat=args.repeat)
    print(
        f"\napigw-analyze query overview (wall, fresh process): {wall:.3f} s "
        f"(target {TARGET_CLI_S} s; {cpu:.3f} CPU s)"
    )
    print(f"load average after: {_load()}")
    print(
        "all within targets"
        if not failures and wall <= TARGET_CLI_S
        else f"over target: {failures + (['cli'] if wall > TARGET_CLI_S else [])}"
    )


if __name__ == "__main__":
    main()
