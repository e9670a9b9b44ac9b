"""CloudWatch metrics consistent with the generated logs, and their three export formats.

Each request is one datapoint of every metric it counts toward (§3.4): 1 for `Count`, 0/1 for
the error metrics and cache hit/miss, its latency for `Latency`, its integration latency for
`IntegrationLatency` when the integration was called. A period's statistics are the count, sum,
minimum and maximum of those datapoints; a period with no datapoint has no point at all.
REST APIs are published per `ApiName`, per `ApiName, Stage` and, with detailed metrics, per
`ApiName, Method, Resource, Stage`; HTTP APIs per `ApiId` and `ApiId, Stage` with the HTTP names
(`4xx`, `5xx`, `DataProcessed`). Cache metrics exist where the stage cache is enabled.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from apigw_analytics.generate.containers import ACCOUNT_ID
from apigw_analytics.generate.execution_logs import REGION

NAMESPACE = "AWS/ApiGateway"
STREAM_NAME = "apigw-metrics-to-s3"
_UNITS = {"Latency": "Milliseconds", "IntegrationLatency": "Milliseconds", "DataProcessed": "Bytes"}


def _datapoints(requests: pl.DataFrame, cached_stages: set[tuple[str, str]]) -> pl.DataFrame:
    """One row per (request, metric) with the datapoint's value, REST and HTTP names."""
    rest = pl.col("api_type") == "rest"
    status = pl.col("status")
    cached = pl.concat_str("api_id", "stage", separator="/").is_in(
        [f"{api}/{stage}" for api, stage in sorted(cached_stages)]
    ) & (pl.col("cache_result") != "not_cached")
    metrics = [
        ("Count", pl.lit(True), pl.lit(1.0)),
        ("4XXError", rest, ((status >= 400) & (status < 500)).cast(pl.Float64)),
        ("5XXError", rest, (status >= 500).cast(pl.Float64)),
        ("4xx", ~rest, ((status >= 400) & (status < 500)).cast(pl.Float64)),
        ("5xx", ~rest, (status >= 500).cast(pl.Float64)),
        ("Latency", pl.lit(True), pl.col("latency_ms").cast(pl.Float64)),
        (
            "IntegrationLatency",
            pl.col("integration_latency_ms").is_not_null(),
            pl.col("integration_latency_ms").cast(pl.Float64),
        ),
        ("CacheHitCount", rest & cached, (pl.col("cache_result") == "hit").cast(pl.Float64)),
        ("CacheMissCount", rest & cached, (pl.col("cache_result") == "miss").cast(pl.Float64)),
        ("DataProcessed", ~rest, pl.col("data_processed_bytes").cast(pl.Float64)),
    ]
    frames = [
        requests.filter(condition).select(
            "api_name",
            "api_id",
            "api_type",
            "stage",
            "http_method",
            "resource_path",
            (pl.col("requested_at").dt.epoch("ms") // 60_000 * 60_000).alias("minute_ms"),
            pl.lit(name).alias("metric_name"),
            value.alias("value"),
        )
        for name, condition, value in metrics
    ]
    return pl.concat(frames).filter(pl.col("value").is_not_null())


def _dimensions(**columns: str) -> pl.Expr:
    """The dimensions JSON object (`{"ApiName":"shop","Stage":"prod"}`) from columns."""
    parts: list[pl.Expr] = []
    for index, (name, column) in enumerate(columns.items()):
        parts += [pl.lit(("{" if index == 0 else ",") + f'"{name}":"'), pl.col(column), pl.lit('"')]
    return pl.concat_str([*parts, pl.lit("}")])


def metric_points(
    requests: pl.DataFrame,
    cached_stages: set[tuple[str, str]],
    detailed_apis: set[str],
    period_s: int = 60,
) -> pl.DataFrame:
    """Per period, metric and dimension set: count, sum, minimum, maximum and unit.

    `dimensions` is the JSON object CloudWatch shows, in CloudWatch's key order.
    """
    points = _datapoints(
        requests.filter(pl.col("api_type").is_in(["rest", "http"])), cached_stages
    ).with_columns((pl.col("minute_ms") // (period_s * 1000) * (period_s * 1000)).alias("t_ms"))
    rest = pl.col("api_type") == "rest"
    dimension_sets = [
        pl.when(rest).then(_dimensions(ApiName="api_name")).otherwise(_dimensions(ApiId="api_id")),
        pl.when(rest)
        .then(_dimensions(ApiName="api_name", Stage="stage"))
        .otherwise(_dimensions(ApiId="api_id", Stage="stage")),
        pl.when(rest & pl.col("api_name").is_in(sorted(detailed_apis))).then(
            _dimensions(
                ApiName="api_name", Method="http_method", Resource="resource_path", Stage="stage"
            )
        ),
    ]
    grouped = [
        points.with_columns(dimensions.alias("dimensions"))
        .filter(pl.col("dimensions").is_not_null())
        .group_by("metric_name", "dimensions", "t_ms")
        .agg(
            pl.len().alias("sample_count"),
            pl.col("value").sum().alias("sum"),
            pl.col("value").min().alias("minimum"),
            pl.col("value").max().alias("maximum"),
        )
        for dimensions in dimension_sets
    ]
    return (
        pl.concat(grouped)
        .with_columns(
            pl.col("metric_name").replace_strict(_UNITS, default="Count").alias("unit"),
            pl.lit(period_s).alias("period_s"),
        )
        .sort("dimensions", "metric_name", "t_ms")
    )


def write_metric_stream(path: Path, points: pl.DataFrame) -> Path:
    """Metric Streams JSON (one object a line), as Firehose delivers it to S3, gzip-compressed."""
    lines = [
        json.dumps(
            {
                "metric_stream_name": STREAM_NAME,
                "account_id": ACCOUNT_ID,
                "region": REGION,
                "namespace": NAMESPACE,
                "metric_name": row["metric_name"],
                "dimensions": json.loads(row["dimensions"]),
                "timestamp": row["t_ms"],
                "value": {
                    "max": row["maximum"],
                    "min": row["minimum"],
                    "sum": row["sum"],
                    "count": float(row["sample_count"]),
                },
                "unit": row["unit"],
            },
            separators=(",", ":"),
        )
        for row in points.sort("t_ms", "metric_name", "dimensions").iter_rows(named=True)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    return path


def _iso(t_ms: int) -> str:
    return datetime.fromtimestamp(t_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_get_metric_statistics(folder: Path, points: pl.DataFrame) -> list[tuple[Path, int]]:
    """One `get-metric-statistics` output per metric and dimension set, named by the convention
    the reader uses for dimensions (`ApiName=shop,Stage=prod,Count.json`). Datapoints come in
    CloudWatch's arbitrary order: here, largest sum first."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (metric, dimensions), series in points.group_by(
        "metric_name", "dimensions", maintain_order=True
    ):
        dims = json.loads(str(dimensions))
        name = ",".join(f"{k}={v}" for k, v in dims.items()) + f",{metric}.json"
        datapoints = [
            {
                "Timestamp": _iso(row["t_ms"]),
                "SampleCount": float(row["sample_count"]),
                "Sum": row["sum"],
                "Average": row["sum"] / row["sample_count"],
                "Minimum": row["minimum"],
                "Maximum": row["maximum"],
                "Unit": row["unit"],
            }
            for row in series.sort("sum", "t_ms", descending=[True, False]).iter_rows(named=True)
        ]
        path = folder / name.replace("/", "_").replace("{", "").replace("}", "")
        path.write_text(json.dumps({"Label": metric, "Datapoints": datapoints}, indent=4) + "\n")
        written.append((path, len(datapoints)))
    return written


def _query_id(index: int) -> str:
    return f"m{index}"


def get_metric_data(points: pl.DataFrame) -> tuple[dict, list[dict]]:
    """The `get-metric-data` output (newest first) and the `--metric-data-queries` that asked
    for it: Sum of the count metrics, Average of the latencies."""
    results, queries = [], []
    for index, ((metric, dimensions), series) in enumerate(
        points.group_by("metric_name", "dimensions", maintain_order=True)
    ):
        dims = json.loads(str(dimensions))
        latency = metric in ("Latency", "IntegrationLatency")
        stat = "Average" if latency else "Sum"
        ordered = series.sort("t_ms", descending=True)
        values = (
            (ordered["sum"] / ordered["sample_count"]).to_list()
            if latency
            else ordered["sum"].to_list()
        )
        queries.append(
            {
                "Id": _query_id(index),
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    },
                    "Period": int(series["period_s"][0]),
                    "Stat": stat,
                },
                "ReturnData": True,
            }
        )
        results.append(
            {
                "Id": _query_id(index),
                "Label": metric,
                "Timestamps": [_iso(t).replace("Z", "+00:00") for t in ordered["t_ms"].to_list()],
                "Values": values,
                "StatusCode": "Complete",
            }
        )
    return {"MetricDataResults": results, "Messages": []}, queries
