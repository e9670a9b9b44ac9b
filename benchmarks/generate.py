"""Benchmark: generating a JSON access log from a scenario, beside a bare polars write_ndjson.

Generation = the `steady` scenario's arrivals, backend draws and the reference gateway's outcome
for every request (`generate_run`), the requests put in completion order, then an access-log
template rendered for every request and written as one plain file. Two templates are measured:
the REST console JSON preset (`rest-json`, the JSON access log most stages have, ~250 bytes a
line) and the rich template with every useful `$context` field (`rest-rich-json`, ~900 bytes a
line). Each one's baseline writes the same rows (the columns that template logs, in the same
order) with polars `write_ndjson`, in the same run; both print requests/s and the ratio is
generation / baseline. Target (issue 6): >= 1M requests/s.

    .venv/bin/python benchmarks/generate.py [--requests 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from apigw_analytics.generate.access_logs import REST_JSON, REST_RICH_JSON, render
from apigw_analytics.generate.containers import write_plain
from apigw_analytics.generate.run import GeneratedRun, generate_run
from apigw_analytics.generate.scenarios import scenario_named
from apigw_analytics.ingest.access_fields import column_for_variable

DAY_S = 86_400.0
TARGET_RPS = 1_000_000
TEMPLATES = {"rest-json": REST_JSON, "rest-rich-json": REST_RICH_JSON}


def _generate(template: str, requests: int, path: Path) -> tuple[float, GeneratedRun]:
    started = time.perf_counter()
    run = generate_run(scenario_named("steady"), duration_s=DAY_S, rps=requests / DAY_S)
    write_plain(path, render(template, run.columns, run.completion_order()))
    return time.perf_counter() - started, run


def _baseline(template: str, run: GeneratedRun, path: Path) -> float:
    """Seconds polars takes to write the template's columns of the same rows, in the same order,
    as JSON lines (the frame is built before the clock starts)."""
    variables = [part.split('"')[0] for part in template.split("$context.")[1:]]
    present = run.requests.columns
    columns = sorted({c for v in variables if (c := column_for_variable(v)) in present})
    rows = run.requests.select(columns)[run.completion_order()]
    started = time.perf_counter()
    rows.write_ndjson(path)
    return time.perf_counter() - started


def _line(label: str, seconds: float, rows: int) -> str:
    return f"  {label:<35}{seconds:6.2f} s  {rows / seconds:>12,.0f} requests/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ours: dict[str, list[float]] = {name: [] for name in TEMPLATES}
    bare: dict[str, list[float]] = {name: [] for name in TEMPLATES}
    size_mb: dict[str, float] = {}
    rows = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for template in TEMPLATES.values():
            _generate(template, 10_000, folder / "warm-up.log")
        for _ in range(args.repeat):
            for name, template in TEMPLATES.items():
                path = folder / f"{name}.log"
                seconds, run = _generate(template, args.requests, path)
                ours[name].append(seconds)
                size_mb[name] = path.stat().st_size / 1e6
                path.unlink()  # its pages are dropped, not written back during the next run
                bare[name].append(_baseline(template, run, folder / "baseline.jsonl"))
                (folder / "baseline.jsonl").unlink()
                rows = run.requests.height
    print(f"requests: {rows:,} (steady scenario over a simulated day); best of {args.repeat}")
    for name in TEMPLATES:
        generated, baseline = min(ours[name]), min(bare[name])
        verdict = "met" if rows / generated >= TARGET_RPS else "MISSED"
        print(f"{name} ({size_mb[name]:,.0f} MB):")
        print(_line("generate (model + render + write):", generated, rows))
        print(_line("bare polars write_ndjson:", baseline, rows))
        print(
            f"  ratio generate / write_ndjson: {baseline / generated:.2f}x; "
            f"target >= {TARGET_RPS:,} requests/s: {verdict}"
        )


if __name__ == "__main__":
    main()
