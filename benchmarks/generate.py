"""Benchmark: generating a JSON access log from a scenario, beside a bare polars write_ndjson.

Generation = the `steady` scenario's arrivals, backend draws and the reference gateway's outcome
for every request (`generate_run`), then the rich JSON access-log template rendered for every
request in completion order and written as one plain file. The baseline writes the same rows
(the columns the template logs) with polars `write_ndjson`, in the same run. Both print
requests/s; the ratio is generation / baseline. Target (issue 6): >= 1M requests/s.

    .venv/bin/python benchmarks/generate.py [--requests 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl

from apigw_analytics.generate.access_logs import REST_RICH_JSON, render
from apigw_analytics.generate.containers import write_plain
from apigw_analytics.generate.run import generate_run
from apigw_analytics.generate.scenarios import scenario_named
from apigw_analytics.ingest.access_fields import column_for_variable

DAY_S = 86_400.0
TARGET_RPS = 1_000_000


def _generate(requests: int, folder: Path) -> tuple[float, pl.DataFrame]:
    started = time.perf_counter()
    run = generate_run(scenario_named("steady"), duration_s=DAY_S, rps=requests / DAY_S)
    ordered = run.requests.sort("completed_at", "requested_at", maintain_order=True)
    write_plain(folder / "generated.log", render(REST_RICH_JSON, ordered))
    return time.perf_counter() - started, ordered


def _baseline(rows: pl.DataFrame, folder: Path) -> float:
    variables = [part.split('"')[0] for part in REST_RICH_JSON.split("$context.")[1:]]
    columns = sorted({c for v in variables if (c := column_for_variable(v)) in rows.columns})
    started = time.perf_counter()
    rows.select(columns).write_ndjson(folder / "baseline.jsonl")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _generate(10_000, folder)
        generated, baseline, rows = [], [], 0
        for _ in range(args.repeat):
            seconds, frame = _generate(args.requests, folder)
            generated.append(seconds)
            baseline.append(_baseline(frame, folder))
            rows = frame.height
        ours, bare = min(generated), min(baseline)
        size_mb = (folder / "generated.log").stat().st_size / 1e6
    print(f"requests: {rows:,} ({size_mb:,.0f} MB of rich JSON access log); best of {args.repeat}")
    print(f"generate (model + render + write): {ours:6.2f} s  {rows / ours:>12,.0f} requests/s")
    print(f"bare polars write_ndjson:          {bare:6.2f} s  {rows / bare:>12,.0f} requests/s")
    print(
        f"ratio generate / write_ndjson: {bare / ours:.2f}x; "
        f"target >= {TARGET_RPS:,} requests/s: {'met' if rows / ours >= TARGET_RPS else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
