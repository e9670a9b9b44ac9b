"""Write a generated run to a folder: every API's access log in its own format and container,
the REST execution logs, CloudWatch metric exports, the ground truth and the configuration.

Layout (the `_`-prefixed files are skipped when the folder is ingested):

    access/<api>-<stage>...          one file (or S3 export folder) per API stage
    execution/<api>-<stage>/...      REST execution logs, CloudWatch Logs S3 export
    metrics/metric-stream.jsonl.gz   Metric Streams JSON, 1-minute points
    metrics/get-metric-statistics/   one output per metric and stage, hourly (5-min) points
    metrics/get-metric-data.json     5-minute points, with `_get-metric-data.queries.json`
    apis/get-rest-apis.json          the REST APIs' ids and names (`aws apigateway get-rest-apis`)
    apis/get-apis.json               the HTTP and WebSocket APIs' (`aws apigatewayv2 get-apis`)
    _ground-truth.csv.gz             one row per request: what happened and why
    _gateway-config.json             the configuration the model ran with (for `replay`)

Log lines are written in completion order (a request's access-log line when it completes), with
the timestamps CloudWatch would hold. Everything is byte-for-byte deterministic for a seed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from apigw_analytics.generate import containers, metrics
from apigw_analytics.generate.access_logs import render, template_named
from apigw_analytics.generate.api_listings import rest_api_listing, v2_api_listing
from apigw_analytics.generate.execution_logs import execution_events, log_group
from apigw_analytics.generate.rendering import Codes
from apigw_analytics.generate.run import GeneratedRun
from apigw_analytics.generate.scenarios import Api

TRUTH_FILE = "_ground-truth.csv.gz"
CONFIG_FILE = "_gateway-config.json"
TRUTH_COLUMNS = (
    "request_id", "extended_request_id", "requested_at", "api_id", "api_type", "stage", "route",
    "api_key_id", "status", "error_response_type", "limit_layer", "failure", "cache_result",
    "integration_called", "authorizer_called", "is_canary", "attempt",
)  # fmt: skip
HOURLY_S = 3600
FIVE_MINUTES_S = 300


@dataclass
class WrittenFile:
    """One file the generator wrote: what it holds, its format and container."""

    path: Path
    holds: str
    format_name: str
    container: str
    records: int


def _stream_name(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def _http_stream(api: Api, run: GeneratedRun) -> str:
    stage = api.stage.replace("$", ".")
    return f"{api.api_id}_{stage}-{run.start:%Y-%m-%d-%H-%M}"


def _stage_slug(api: Api) -> str:
    return f"{api.name}-{api.stage.replace('$', '')}"


def _write_access(
    out: Path, api: Api, rows: np.ndarray, run: GeneratedRun, format_name: str | None
) -> list[WrittenFile]:
    chosen = format_name or api.access_format
    ordered = run.completion_order(rows)
    lines = render(template_named(chosen), run.columns, ordered)
    times = pl.Series(run.columns.completed_ms[ordered])
    slug = _stage_slug(api)
    folder = out / "access"
    group = f"/aws/apigateway/{api.name}-{api.stage.replace('$', '')}-access"
    stream = _http_stream(api, run) if api.api_type == "http" else _stream_name(slug)
    container = api.access_container
    if container == "plain":
        paths = containers.write_plain(folder / f"{slug}.log", lines)
    elif container == "gzip":
        paths = containers.write_gzip(folder / f"{slug}.log.gz", lines)
    elif container == "s3-export":
        paths = containers.write_s3_export(folder / slug, stream, times, lines.lines().to_series())
    else:
        paths = containers.write_subscription(
            folder / f"{slug}.firehose.gz", group, stream, times, lines.lines().to_series()
        )
    return [WrittenFile(p, f"{api.name} access log", chosen, container, n) for p, n in paths]


def write_access_logs(
    run: GeneratedRun, out: Path, format_name: str | None = None
) -> list[WrittenFile]:
    """Each API stage's access log in its format and container (`format_name` forces one)."""
    written: list[WrittenFile] = []
    api_names = run.columns["api_name"]
    assert isinstance(api_names, Codes)
    for api in run.scenario.apis:
        of_api = np.array([name == api.name for name in api_names.values], np.bool_)
        rows = np.flatnonzero(of_api[api_names.codes])
        if len(rows):
            written += _write_access(out, api, rows, run, format_name)
    return written


def write_execution_logs(run: GeneratedRun, out: Path) -> list[WrittenFile]:
    """The REST stages' execution logs (INFO level), one S3 export per stage."""
    written: list[WrittenFile] = []
    for api in run.scenario.apis:
        if api.api_type != "rest" or not api.execution_logging:
            continue
        requests = run.requests.filter(pl.col("api_name") == api.name)
        events = execution_events(requests, run.config)
        if events.is_empty():
            continue
        slug = _stage_slug(api)
        paths = containers.write_s3_export(
            out / "execution" / slug,
            _stream_name(log_group(api.api_id, api.stage)),
            events["timestamp_ms"],
            events["message"],
        )
        written += [
            WrittenFile(p, f"{api.name} execution log", "execution-log", "s3-export", n)
            for p, n in paths
        ]
    return written


def _cached_stages(run: GeneratedRun) -> set[tuple[str, str]]:
    return {
        (stage.api_id or "", stage.name)
        for stage in run.config.stages
        if stage.cache_cluster_enabled
    }


def write_metrics(run: GeneratedRun, out: Path) -> list[WrittenFile]:
    """Metric Streams (1-minute points, detailed metrics where enabled), get-metric-statistics
    (per stage; hourly for runs over 6 h, as a user pulls a day for a report, else 5-minute:
    a reader infers the period from the gaps, so one point alone would not tell it) and
    get-metric-data (5-minute, per stage of the APIs with detailed metrics, as a dashboard
    asks)."""
    detailed = {api.name for api in run.scenario.apis if api.detailed_metrics}
    cached = _cached_stages(run)
    folder = out / "metrics"
    minute = metrics.metric_points(run.requests, cached, detailed)
    stream_path = metrics.write_metric_stream(folder / "metric-stream.jsonl.gz", minute)
    written = [
        WrittenFile(
            stream_path, "CloudWatch metrics", "cloudwatch-metric-stream", "gzip", minute.height
        )
    ]
    stage_level = pl.col("dimensions").str.contains('"Stage"') & ~pl.col("dimensions").str.contains(
        '"Method"'
    )
    period_s = HOURLY_S if run.duration_s > 6 * HOURLY_S else FIVE_MINUTES_S
    coarse = metrics.metric_points(run.requests, cached, set(), period_s).filter(stage_level)
    for path, records in metrics.write_get_metric_statistics(
        folder / "get-metric-statistics", coarse
    ):
        written.append(
            WrittenFile(
                path, "CloudWatch metrics", "cloudwatch-get-metric-statistics", "plain", records
            )
        )
    five_minute = metrics.metric_points(run.requests, cached, set(), FIVE_MINUTES_S)
    detailed_stages = five_minute.filter(
        stage_level
        & pl.col("dimensions").str.extract(r'"ApiName":"([^"]+)"', 1).is_in(sorted(detailed))
    )
    output, queries = metrics.get_metric_data(detailed_stages)
    data_path = folder / "get-metric-data.json"
    data_path.write_text(json.dumps(output, indent=4) + "\n")
    (folder / "_get-metric-data.queries.json").write_text(json.dumps(queries, indent=4) + "\n")
    records = sum(len(r["Values"]) for r in output["MetricDataResults"])
    written.append(
        WrittenFile(data_path, "CloudWatch metrics", "cloudwatch-get-metric-data", "plain", records)
    )
    return written


def write_api_listings(run: GeneratedRun, out: Path) -> list[WrittenFile]:
    """The listings a user saves so that REST metrics, named by ApiName, join the logs."""
    folder = out / "apis"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, format_name, listing, items_key in (
        ("get-rest-apis.json", "apigateway-get-rest-apis", rest_api_listing, "items"),
        ("get-apis.json", "apigatewayv2-get-apis", v2_api_listing, "Items"),
    ):
        output = listing(run.scenario.apis, run.start)
        path = folder / name
        path.write_text(json.dumps(output, indent=4, sort_keys=True) + "\n")
        written.append(
            WrittenFile(path, "API ids and names", format_name, "plain", len(output[items_key]))
        )
    return written


def truth_frame(run: GeneratedRun) -> pl.DataFrame:
    """The ground truth: per request, its outcome and the cause the model assigned."""
    return run.requests.with_columns(
        pl.format(
            "{} {}",
            "api_name",
            pl.coalesce(pl.format("{} {}", "http_method", "resource_path"), "route_key"),
        ).alias("route")
    ).select(TRUTH_COLUMNS)


def write_truth(run: GeneratedRun, out: Path) -> WrittenFile:
    frame = truth_frame(run)
    path = out / TRUTH_FILE
    text = frame.with_columns(
        pl.col("requested_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
    ).write_csv()
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    return WrittenFile(path, "ground truth", "csv", "gzip", frame.height)


def write_config(run: GeneratedRun, out: Path) -> WrittenFile:
    path = out / CONFIG_FILE
    path.write_text(json.dumps(run.config.raw, indent=2, sort_keys=True) + "\n")
    return WrittenFile(path, "gateway configuration", "json", "plain", 1)


def write_run(
    run: GeneratedRun, out: Path, *, access_format: str | None = None
) -> list[WrittenFile]:
    """Write everything a run produces into `out` (created; files it writes are replaced)."""
    out.mkdir(parents=True, exist_ok=True)
    written = write_access_logs(run, out, access_format)
    written += write_execution_logs(run, out)
    written += write_metrics(run, out)
    written += write_api_listings(run, out)
    written += [write_truth(run, out), write_config(run, out)]
    return written
