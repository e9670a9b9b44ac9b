"""Ingest throughput against bare baselines measured in the same run.

    python benchmarks/ingest.py [--lines 2000000] [--clf-lines 1000000] [--repeat 1] [--keep]
                                [--memory-lines N [N ...]]

JSON: a deterministic REST access log of N lines (about 500 bytes a line) is ingested end to
end by `apigw-analyze ingest` (a subprocess, so start-up and the manifest count), beside a bare
DuckDB `read_json` → `COPY ... TO parquet` of the same file. CLF: the REST CLF preset beside
GoAccess writing its JSON report, when `goaccess` is installed. Each side's wall time and peak
memory (of its own process) are printed with the ratio. Targets (issue 2): JSON ≥ 0.8× the
bare COPY; CLF ≥ 5× GoAccess; peak memory ≤ 2 GB on a 5 GB input.

`--repeat N` runs each side N times, alternating, and keeps each side's fastest run: on a
machine shared with other work, one run of either side can be slowed by a second or more, and
the fastest of several is the closest to what the side costs alone.

`--memory-lines` ingests JSON logs of each size given (alone, after the comparisons) and prints
the peak memory of each: it stays flat as the input grows. 10,000,000 lines is about 5.1 GB,
the size of the streaming target (generating it takes a few minutes and 5 GB of disk).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"
START = datetime(2026, 11, 2, tzinfo=UTC)
ROUTES = ["/products", "/products/{id}", "/orders", "/orders/{id}", "/reports", "/users/{id}"]


def _ids(rng: random.Random, index: int) -> tuple[str, str]:
    bits = rng.getrandbits(96)
    uuid = (
        f"{index:08x}-{bits >> 80:04x}-4{(bits >> 68) & 0xFFF:03x}-"
        f"a{(bits >> 56) & 0xFFF:03x}-{bits & 0xFFFFFFFFFFFF:012x}"
    )
    return uuid, f"{index:012X}{bits & 0xFFF:03X}="


def write_json_log(path: Path, lines: int, seed: int = 7) -> None:
    """REST JSON access log, the console preset plus latency, key and agent fields."""
    rng = random.Random(seed)
    with path.open("w") as out:
        for index in range(lines):
            moment = START + timedelta(milliseconds=index * 3)
            request_id, extended_id = _ids(rng, index)
            status = rng.choices(("200", "201", "429", "504", "404"), (80, 10, 5, 1, 4))[0]
            integration = "-" if status == "429" else str(rng.randint(5, 900))
            out.write(
                '{"requestId":"%s","extendedRequestId":"%s","ip":"198.51.100.%d","caller":"-",'
                '"user":"-","requestTime":"%s","requestTimeEpoch":"%d","httpMethod":"GET",'
                '"resourcePath":"%s","status":"%s","protocol":"HTTP/1.1","responseLength":"%d",'
                '"responseLatency":"%d","integrationLatency":"%s","apiKeyId":"key-%03d",'
                '"userAgent":"Mozilla/5.0 (X11; Linux x86_64) shop-client/2.3",'
                '"apiId":"a1b2c3d4e5","stage":"prod","errorMessage":"-"}\n'
                % (
                    request_id,
                    extended_id,
                    index % 254 + 1,
                    moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                    moment.timestamp() * 1000,
                    rng.choice(ROUTES),
                    status,
                    rng.randint(40, 5000),
                    rng.randint(5, 950),
                    integration,
                    index % 500,
                )
            )


def write_clf_log(path: Path, lines: int, seed: int = 11) -> None:
    """REST CLF preset (with extendedRequestId)."""
    rng = random.Random(seed)
    with path.open("w") as out:
        for index in range(lines):
            moment = START + timedelta(milliseconds=index * 3)
            request_id, extended_id = _ids(rng, index)
            out.write(
                '198.51.100.%d - - [%s] "GET %s HTTP/1.1" %s %d %s %s\n'
                % (
                    index % 254 + 1,
                    moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                    rng.choice(ROUTES),
                    rng.choice(("200", "200", "200", "429", "504")),
                    rng.randint(40, 5000),
                    request_id,
                    extended_id,
                )
            )


Run = tuple[float, float]  # wall seconds, peak RSS in MB


def _run(command: list[str]) -> Run:
    """Wall seconds and peak RSS (MB) of one child process (its own rusage, via wait4)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    exit_code = os.waitstatus_to_exitcode(status)
    if exit_code not in (0, 3):
        error = child.stderr.read().decode() if child.stderr else ""
        sys.exit(f"failed ({exit_code}): {' '.join(command)}\n{error[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def _best_of(repeat: int, ours: list[str], base: list[str], fresh: Path) -> tuple[Run, Run]:
    """The fastest of `repeat` runs of each command, alternating them (so that load from other
    work falls on both alike); `fresh` (our data directory) is emptied before each of ours."""
    ours_runs, base_runs = [], []
    for _ in range(repeat):
        shutil.rmtree(fresh, ignore_errors=True)
        ours_runs.append(_run(ours))
        base_runs.append(_run(base))
    return min(ours_runs), min(base_runs)


def _cli() -> str:
    return str(Path(sys.executable).with_name("apigw-analyze"))


def _report(
    name: str,
    size_bytes: int,
    lines: int,
    ours: Run,
    base: Run,
    base_name: str,
    repeat: int,
) -> None:
    mb = size_bytes / 1e6
    best = f", fastest of {repeat} runs each" if repeat > 1 else ""
    print(f"\n{name}: {lines:,} lines, {mb:,.0f} MB{best}")
    for label, (seconds, peak_mb) in (("apigw-analyze ingest", ours), (base_name, base)):
        print(
            f"  {label:<34} {seconds:7.2f} s  {lines / seconds:>12,.0f} lines/s  "
            f"{mb / seconds:7.1f} MB/s  peak {peak_mb:,.0f} MB"
        )
    print(f"  ratio (ours / baseline throughput): {base[0] / ours[0]:.2f}x")


def bench_json(lines: int, repeat: int) -> None:
    log = WORK / "access.jsonl"
    write_json_log(log, lines)
    data = WORK / "data-json"
    copy = (
        f"COPY (SELECT * FROM read_json('{log}')) TO '{WORK / 'bare.parquet'}' "
        "(FORMAT parquet, COMPRESSION zstd)"
    )
    ours, base = _best_of(
        repeat,
        [_cli(), "ingest", str(log), "--data", str(data), "--quiet"],
        [sys.executable, "-c", f"import duckdb; duckdb.sql({copy!r})"],
        data,
    )
    _report(
        "JSON access log",
        log.stat().st_size,
        lines,
        ours,
        base,
        "bare DuckDB read_json→COPY",
        repeat,
    )


def bench_clf(lines: int, repeat: int) -> None:
    goaccess = shutil.which("goaccess")
    if goaccess is None:
        print("\nCLF: goaccess is not installed (apt-get install goaccess); skipped")
        return
    log = WORK / "access.clf"
    write_clf_log(log, lines)
    data = WORK / "data-clf"
    ours, base = _best_of(
        repeat,
        [_cli(), "ingest", str(log), "--data", str(data), "--quiet"],
        [
            goaccess,
            str(log),
            "--log-format",
            '%h %^ %^ [%d:%t %^] "%m %U %H" %s %b %^ %^',
            "--date-format",
            "%d/%b/%Y",
            "--time-format",
            "%H:%M:%S",
            "-o",
            str(WORK / "goaccess.json"),
        ],
        data,
    )
    _report("CLF access log", log.stat().st_size, lines, ours, base, "GoAccess JSON report", repeat)
    columns = ", ".join(f"'c{index}': 'VARCHAR'" for index in range(10))
    copy = (
        f"COPY (SELECT * FROM read_csv('{log}', delim=' ', quote='\"', escape='\"', "
        f"header=false, auto_detect=false, columns={{{columns}}})) "
        f"TO '{WORK / 'bare-clf.parquet'}' (FORMAT parquet, COMPRESSION zstd)"
    )
    bare = min(
        _run([sys.executable, "-c", f"import duckdb; duckdb.sql({copy!r})"]) for _ in range(repeat)
    )
    print(
        f"  for scale: a bare DuckDB read_csv→COPY of the same file, ten untyped text columns, "
        f"no checks: {bare[0]:.2f} s = {base[0] / bare[0]:.2f}x GoAccess"
    )


def bench_memory(sizes: list[int]) -> None:
    """Peak memory of `apigw-analyze ingest` for JSON logs of growing size."""
    print("\nStreaming: peak memory by input size (JSON access log)")
    for lines in sizes:
        log = WORK / f"memory-{lines}.jsonl"
        write_json_log(log, lines)
        data = WORK / "data-memory"
        shutil.rmtree(data, ignore_errors=True)
        seconds, peak_mb = _run([_cli(), "ingest", str(log), "--data", str(data), "--quiet"])
        size_gb = log.stat().st_size / 1e9
        print(
            f"  {lines:>12,} lines  {size_gb:6.2f} GB  {seconds:7.2f} s  "
            f"{size_gb * 1e3 / seconds:7.1f} MB/s  peak {peak_mb:,.0f} MB"
        )
        log.unlink()
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--clf-lines", type=int, default=1_000_000)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each side; the fastest is kept"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument(
        "--memory-lines",
        type=int,
        nargs="+",
        default=[],
        metavar="N",
        help="also ingest JSON logs of these sizes and print peak memory (10000000 ≈ 5 GB)",
    )
    arguments = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    try:
        bench_json(arguments.lines, arguments.repeat)
        bench_clf(arguments.clf_lines, arguments.repeat)
        if arguments.memory_lines:
            bench_memory(arguments.memory_lines)
    finally:
        if not arguments.keep:
            shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
