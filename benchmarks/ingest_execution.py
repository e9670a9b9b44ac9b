"""Benchmark: execution-log parsing end to end against a bare read-and-split baseline.

Generates a deterministic REST execution log shaped like a CloudWatch Logs S3 export
(`<ISO time>Z (requestId) message`, reference §4.5) with requests interleaved the way concurrent
traffic interleaves them, drawn from the §2.4 sequences: successful Lambda-proxy requests,
usage-plan throttles, Lambda task timeouts, malformed proxy responses, integration timeouts,
authorizer flows, and multi-line bodies whose continuation lines carry no prefix.

It then times, in one process, (1) the baseline — the same container reading the same lines and
extracting the request id, with no classification — and (2) the `execution-log` parser, from
`open_source` through every `feed` to `finish`. It prints lines/s for both, their ratio and the
peak RSS. Target: at least 300,000 lines/s on 2 cores.

Last, it ingests all but the last twentieth of the log into a warehouse, then two later exports
of the same day (the last tenth: half overlapping, half new, cut mid-request; and other requests
only), and times the split-request pass of each (`execution_merge`) against the rest of its
ingest.

    .venv/bin/python benchmarks/ingest_execution.py --lines 2000000
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from apigw_analytics.ingest.containers import open_source
from apigw_analytics.ingest.execution_merge import merge_split_requests
from apigw_analytics.ingest.pipeline import ingest_paths
from apigw_analytics.ingest.registry import ParseContext, get_format
from apigw_analytics.schema import RecordKind
from apigw_analytics.warehouse.layout import WarehouseLayout

_API, _STAGE = "uwe3g5jm54", "Prod"
_LAMBDA = (
    "https://lambda.eu-west-2.amazonaws.com/2015-03-31/functions/"
    "arn:aws:lambda:eu-west-2:958845080241:function:bench-{name}/invocations"
)
_HEADERS = (
    "{Accept=application/json, CloudFront-Viewer-Country=GB, CloudFront-Forwarded-Proto=https, "
    "CloudFront-Is-Tablet-Viewer=false, CloudFront-Is-Mobile-Viewer=false, User-Agent=bench/1.0, "
    "X-Forwarded-For=203.0.113.N, 198.51.100.7, X-Forwarded-Port=443, X-Forwarded-Proto=https}"
)
_CONCURRENT_REQUESTS = 16


def _request_lines(rng: random.Random, serial: int) -> tuple[str, list[str]]:
    """A request id and the messages of its request, in one of the §2.4 shapes."""
    rid = f"{serial:08x}-39e6-11e9-be7e-{rng.getrandbits(48):012x}"
    path = rng.choice(["/echo", "/receipt", "/pets/42", "/orders"])
    method = rng.choice(["GET", "POST"])
    uri = _LAMBDA.format(name=path.strip("/").replace("/", "-"))
    start = [
        f"Extended Request Id: V{rng.getrandbits(60):015x}=",
        f"Verifying Usage Plan for request: {rid}. API Key:  API Stage: {_API}/{_STAGE}",
    ]
    shape = rng.random()
    if shape < 0.05:
        return rid, [
            *start,
            f"Key throttle limit exceeded for RestApi {_API}, Stage {_STAGE}, Resource k0w8mc, "
            f"HttpMethod {method}. Limit: 1.00 Burst: 1",
            "Method completed with status: 429",
        ]
    lines = [*start]
    if shape < 0.15:
        lines += [
            f"Starting authorizer: elkw5b for request: {rid}",
            "Incoming identity: ****************************************I1BUdE",
            f"Endpoint request URI: {_LAMBDA.format(name='authorizer')}",
            'Authorizer result body before parsing: {"principalId": "user", "policyDocument": {}}',
            "Using valid authorizer policy for principal: ****bkwef5",
            "Successfully completed authorizer execution",
        ]
    latency_ms = rng.randint(5, 900)
    lines += [
        f"API Key  authorized because method '{method} {path}' does not require API Key. "
        "Request will not contribute to throttle or quota limits",
        f"Usage Plan check succeeded for API Key  and API Stage {_API}/{_STAGE}",
        f"Starting execution for request: {rid}",
        f"HTTP Method: {method}, Resource Path: {path}",
        "Method request path: {}",
        "Method request query string: {}",
        "Method request headers: " + _HEADERS.replace("N", str(serial % 250), 1),
        'Method request body before transformations: {"id": "2a7fd6fe"}',
        f"Endpoint request URI: {uri}",
        "Endpoint request headers: {x-amzn-lambda-integration-tag="
        + rid
        + ", Authorization=******************************** [TRUNCATED]",
        'Endpoint request body after transformations: {"resource":"' + path + '"}',
        f"Sending request to {uri}",
    ]
    if shape < 0.18:
        return rid, [
            *lines,
            "Execution failed due to a timeout error",
            "Method completed with status: 504",
        ]
    lines.append(f"Received response. Status: 200, Integration latency: {latency_ms} ms")
    if shape < 0.21:
        return rid, [
            *lines,
            "Lambda execution failed with status 200 due to customer function error: "
            f"Task timed out after 10.00 seconds. Lambda request id: {rid}",
            "Method completed with status: 502",
        ]
    if shape < 0.24:
        return rid, [
            *lines,
            'Endpoint response body before transformations: {\n  "statusCode": 500,\n'
            '  "body": {"message": "boom"}\n}',
            "Execution failed due to configuration error: Malformed Lambda proxy response",
            "Method completed with status: 502",
        ]
    return rid, [
        *lines,
        "Endpoint response headers: {Date=Tue, 26 Feb 2019 16:48:43 GMT, "
        "Content-Type=application/json, Connection=keep-alive}",
        'Endpoint response body before transformations: {"statusCode":200,"body":"{}"}',
        'Method response body after transformations: {"ok": true}',
        "Method response headers: {X-Amzn-Trace-Id=Root=1-5c756dea;Sampled=0}",
        "Successfully completed execution",
        "Method completed with status: 200",
        f"AWS Integration Endpoint RequestId : {rid}",
        f"X-ray Tracing ID : 1-5c756dea-{rng.getrandbits(96):024x}",
    ]


def _interleaved(seed: int) -> Iterator[tuple[str, str]]:
    """(request id, message) pairs of concurrent requests, in arrival order, forever."""
    rng = random.Random(seed)
    serial = 0
    active: list[tuple[str, list[str]]] = []
    while True:
        while len(active) < _CONCURRENT_REQUESTS:
            serial += 1
            active.append(_request_lines(rng, serial))
        index = rng.randrange(len(active))
        rid, lines = active[index]
        yield rid, lines.pop(0)
        if not lines:
            active.pop(index)


def generate(path: Path, line_count: int, seed: int = 7) -> int:
    """Write about `line_count` lines (multi-line messages count each line); return lines."""
    clock = datetime(2019, 2, 26, 16, 48, tzinfo=UTC)
    written = 0
    with path.open("w", encoding="utf-8") as handle:
        for rid, message in _interleaved(seed):
            clock += timedelta(microseconds=250)
            stamp = clock.strftime("%Y-%m-%dT%H:%M:%S.") + f"{clock.microsecond // 1000:03d}Z"
            handle.write(f"{stamp} ({rid}) {message}\n")
            written += message.count("\n") + 1
            if written >= line_count:
                return written
    return written


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_baseline(path: Path) -> int:
    """Read and split the same lines through the same container, extract request ids only."""
    rows = 0
    for chunk in open_source(path).chunks:
        ids = chunk.select(pl.col("message").str.extract(r"^\(([^()\s]+)\) ", 1))
        rows += ids.height
    return rows


def run_parser(path: Path) -> tuple[int, int, int]:
    """The execution-log parser end to end: (lines in, event rows, request rows)."""
    source = open_source(path)
    parser = get_format("execution-log").open_parser(
        ParseContext(source_file=str(path), log_group=f"API-Gateway-Execution-Logs_{_API}/{_STAGE}")
    )
    lines = events = 0
    for chunk in source.chunks:
        lines += chunk.height
        events += parser.feed(chunk).tables[RecordKind.EXECUTION_EVENTS].height
    result = parser.finish()
    events += result.tables[RecordKind.EXECUTION_EVENTS].height
    return lines, events, result.tables[RecordKind.EXECUTION_REQUESTS].height


def _head_line_at(lines: list[str], at: int) -> int:
    """The first line from `at` on that starts a message (continuation lines carry no time)."""
    while not lines[at][:2].isdigit():
        at += 1
    return at


def _ingest_timing_pass(path: Path, data: Path, run: int) -> tuple[float, float, int]:
    """Ingest one file; return (seconds of the ingest without the split-request pass, seconds
    of the pass, requests it rebuilt).

    The pass is timed by running it again for the ingest's run: it finds the same split
    requests and rebuilds them, only the writes are skipped (they are settled already)."""
    run_at = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(seconds=run)
    started = time.perf_counter()
    summary = ingest_paths([path], data, clock=lambda: run_at)
    ingest_s = time.perf_counter() - started
    layout = WarehouseLayout(data)
    days = [
        day.name.removeprefix("date=") for day in layout.table_dir("execution_events").iterdir()
    ]
    started = time.perf_counter()
    merge_split_requests(layout, days, layout.staging_dir(run_at.strftime("%Y%m%dT%H%M%S%fZ")))
    merge_s = time.perf_counter() - started
    return ingest_s - merge_s, merge_s, summary.execution_requests_merged


def run_merge(path: Path, folder: Path, seed: int) -> list[tuple[str, float, float, int]]:
    """Ingest all but the last twentieth of the log, then two later exports of the same day:
    the last tenth (half already stored, requests cut at both ends) and other requests (as
    many lines, none of them stored); per later export, (what it is, `_ingest_timing_pass`)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    first, overlapping, other = folder / "first.log", folder / "later.log", folder / "other.log"
    first.write_text("".join(lines[: _head_line_at(lines, len(lines) * 19 // 20)]))
    later = lines[_head_line_at(lines, len(lines) * 9 // 10) :]
    overlapping.write_text("".join(later))
    other_lines = generate(other, len(later), seed + 1)
    data = folder / "data"
    ingest_paths([first], data)
    return [
        (f"{len(later):,} lines, half already stored", *_ingest_timing_pass(overlapping, data, 1)),
        (f"{other_lines:,} lines of other requests", *_ingest_timing_pass(other, data, 2)),
    ]


def main() -> None:
    """Generate, time the baseline and the parser, print the figures."""
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--lines", type=int, default=2_000_000, help="lines to generate")
    arguments.add_argument("--seed", type=int, default=7, help="generator seed")
    options = arguments.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "execution.log"
        started = time.perf_counter()
        lines = generate(path, options.lines, options.seed)
        size_mb = path.stat().st_size / 1e6
        generate_s = time.perf_counter() - started
        print(f"generated {lines:,} lines ({size_mb:,.0f} MB) in {generate_s:.1f} s")

        started = time.perf_counter()
        run_baseline(path)
        baseline_s = time.perf_counter() - started
        print(
            f"baseline (read + split + request id): {lines / baseline_s:,.0f} lines/s "
            f"({baseline_s:.2f} s), peak RSS {_peak_rss_mb():,.0f} MB"
        )

        started = time.perf_counter()
        read, events, requests = run_parser(path)
        parser_s = time.perf_counter() - started
        print(
            f"execution-log parser: {lines / parser_s:,.0f} lines/s ({parser_s:.2f} s; "
            f"{read:,} lines in, {events:,} events, {requests:,} requests), "
            f"peak RSS {_peak_rss_mb():,.0f} MB"
        )
        print(
            f"parser / baseline time ratio: {parser_s / baseline_s:.2f}x; "
            f"target 300,000 lines/s: {'met' if lines / parser_s >= 300_000 else 'NOT met'}"
        )

        for export, ingest_s, merge_s, merged in run_merge(path, Path(folder), options.seed):
            print(
                f"later export ({export}): ingest {ingest_s * 1000:,.0f} ms without the "
                f"split-request pass; the pass {merge_s * 1000:,.0f} ms ({merged:,} requests "
                f"rebuilt); pass / ingest ratio {merge_s / ingest_s:.3f}x"
            )


if __name__ == "__main__":
    main()
