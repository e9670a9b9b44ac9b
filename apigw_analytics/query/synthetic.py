"""A deterministic synthetic warehouse, for the query benchmark and the catalogue's golden tests.

The reference gateway's `generate` mode is the real source of realistic logs; this module only
has to be fast (vectorised numpy, ten million requests in seconds) and reproducible from a seed,
so that query timings and golden answers do not depend on the ingest pipeline. Requests,
execution records for the interesting ones (429s, 5xx, a sample of successes) and per-minute
stage metrics derived from the requests are written straight into the warehouse layout.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from apigw_analytics.schema import PARTITION_TIME_COLUMN, RecordKind, conform
from apigw_analytics.warehouse.layout import WarehouseLayout

START = datetime(2024, 5, 1, tzinfo=UTC)
APIS = ("a1b2c3d4e5", "k9m8n7p6q5")
STAGES = ("prod", "beta")
ROUTES = (
    ("GET", "/pets"),
    ("GET", "/pets/{petId}"),
    ("POST", "/pets"),
    ("GET", "/orders"),
    ("POST", "/orders"),
    ("DELETE", "/orders/{orderId}"),
    ("GET", "/health"),
    ("PUT", "/users/{userId}"),
)
ROUTE_WEIGHTS = (0.3, 0.25, 0.1, 0.12, 0.08, 0.03, 0.07, 0.05)
# (status, gateway response type, error message) of each outcome, drawn with OUTCOME_WEIGHTS.
OUTCOMES = (
    (200, None, None),
    (429, "THROTTLED", "Too Many Requests"),
    (429, "QUOTA_EXCEEDED", "Limit Exceeded"),
    (403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"),
    (504, "INTEGRATION_TIMEOUT", "Endpoint request timed out"),
    (502, None, "Internal server error"),
    (500, "API_CONFIGURATION_ERROR", "Internal server error"),
    (503, None, None),
)
OUTCOME_WEIGHTS = (0.93, 0.025, 0.005, 0.015, 0.008, 0.007, 0.004, 0.006)
TIMEOUT_MS = 29_000


def _choice(rng: np.random.Generator, values: tuple, weights: tuple, size: int) -> np.ndarray:
    return rng.choice(len(values), size=size, p=np.asarray(weights) / sum(weights))


def _lookup(code_column: str, values: list | tuple) -> pl.Expr:
    return pl.col(code_column).replace_strict(dict(enumerate(values)), return_dtype=pl.String)


def synthetic_requests(request_count: int, *, days: int = 2, seed: int = 7) -> pl.DataFrame:
    """Access requests spread uniformly over `days` from START, reproducible from the seed."""
    rng = np.random.default_rng(seed)
    span_ms = days * 86_400_000
    offsets_ms = np.sort(rng.integers(0, span_ms, size=request_count))
    route = _choice(rng, ROUTES, ROUTE_WEIGHTS, request_count)
    outcome = _choice(rng, OUTCOMES, OUTCOME_WEIGHTS, request_count)
    api = rng.integers(0, len(APIS), size=request_count)
    stage = (rng.random(request_count) < 0.25).astype(np.int64)
    methods = np.array([method for method, _ in ROUTES])
    statuses = np.array([status for status, _, _ in OUTCOMES], dtype=np.int32)
    integration_ms = np.minimum(rng.lognormal(3.5, 0.9, request_count), 20_000).astype(np.int64)
    overhead_ms = rng.integers(3, 40, size=request_count)
    is_get = methods[route] == "GET"
    cache_hit = is_get & (stage == 0) & (outcome == 0) & (rng.random(request_count) < 0.4)
    no_integration = cache_hit | np.isin(outcome, (1, 2, 3, 6))
    integration_ms = np.where(
        outcome == 4, TIMEOUT_MS + rng.integers(0, 30, request_count), integration_ms
    )
    latency_ms = np.where(no_integration, overhead_ms, integration_ms + overhead_ms)
    has_key = rng.random(request_count) < 0.8
    authorizer_ran = rng.random(request_count) < 0.5
    authorizer_cached = authorizer_ran & (rng.random(request_count) < 0.7)
    index = pl.int_range(0, request_count, eager=True)
    status = statuses[outcome]
    frame = pl.DataFrame(
        {
            "_index": index,
            "_api": api,
            "api_type": "rest",
            "_stage": stage,
            "requested_at": (int(START.timestamp() * 1000) + offsets_ms),
            "_route": route,
            "_outcome": outcome,
            "status": status,
            "response_bytes": rng.integers(0, 5000, size=request_count),
            "latency_ms": latency_ms,
            "integration_latency_ms": np.where(no_integration, -1, integration_ms),
            "integration_status": np.where(
                no_integration, -1, np.where(outcome == 7, 503, np.where(outcome == 5, 200, 200))
            ),
            "_ip_a": rng.integers(0, 4, request_count),
            "_ip_b": rng.integers(1, 250, request_count),
            "_key": np.where(has_key, rng.integers(0, 40, request_count), -1),
            "authorizer_latency_ms": np.where(
                authorizer_ran, rng.integers(1, 200, request_count), -1
            ),
            "authorizer_integration_latency_ms": np.where(
                authorizer_ran & ~authorizer_cached, rng.integers(1, 150, request_count), -1
            ),
            "is_canary": (stage == 0) & (rng.random(request_count) < 0.05),
        }
    )
    return frame.with_columns(
        pl.col("requested_at").cast(pl.Datetime("ms", "UTC")),
        *[
            pl.when(pl.col(name) >= 0).then(pl.col(name))
            for name in (
                "integration_latency_ms",
                "integration_status",
                "authorizer_latency_ms",
                "authorizer_integration_latency_ms",
            )
        ],
        _lookup("_api", APIS).alias("api_id"),
        _lookup("_stage", STAGES).alias("stage"),
        _lookup("_route", [method for method, _ in ROUTES]).alias("http_method"),
        _lookup("_route", [resource for _, resource in ROUTES]).alias("resource_path"),
        _lookup("_outcome", [kind for _, kind, _ in OUTCOMES]).alias("error_response_type"),
        _lookup("_outcome", [message for _, _, message in OUTCOMES]).alias("error_message"),
        pl.format("req-{}", "_index").alias("request_id"),
        pl.format("ext{}=", "_index").alias("extended_request_id"),
        pl.format("10.0.{}.{}", "_ip_a", "_ip_b").alias("source_ip"),
        pl.when(pl.col("_key") >= 0).then(pl.format("key{}", "_key")).alias("api_key_id"),
        pl.lit("synthetic.log").alias("source_file"),
        (pl.col("_index") + 1).alias("source_line"),
    ).drop("_index", "_ip_a", "_ip_b", "_key", "_api", "_stage", "_route", "_outcome")


def synthetic_execution_requests(requests: pl.DataFrame) -> pl.DataFrame:
    """Execution records for half of the 429s and 5xx (the rest have only access logs)."""
    errors = requests.filter((pl.col("status") >= 429) & (pl.col("source_line") % 2 == 0))
    quota = pl.col("error_response_type") == "QUOTA_EXCEEDED"
    keyed_throttle = (pl.col("error_response_type") == "THROTTLED") & pl.col(
        "api_key_id"
    ).is_not_null()
    return errors.select(
        "request_id",
        "extended_request_id",
        "api_id",
        "stage",
        "is_canary",
        pl.col("requested_at").alias("first_event_at"),
        pl.col("requested_at").alias("last_event_at"),
        "http_method",
        "resource_path",
        "status",
        pl.col("api_key_id").alias("api_key"),
        pl.when(quota)
        .then(pl.lit("key_quota_exceeded"))
        .when(keyed_throttle)
        .then(pl.lit("key_throttled"))
        .when(pl.col("status") == 429)
        .then(pl.lit("throttled"))
        .otherwise(pl.lit("authorized"))
        .alias("usage_plan_outcome"),
        pl.when(quota | keyed_throttle).then(pl.lit("plan-gold")).alias("usage_plan_id"),
        pl.when(pl.col("status") == 429)
        .then(pl.when(quota).then(None).otherwise(5.0))
        .alias("throttle_rate_limit_rps"),
        pl.when((pl.col("status") == 429) & ~quota).then(10).alias("throttle_burst_limit"),
        pl.when(quota).then(100_000).alias("quota_limit"),
        pl.when(quota).then(pl.lit("DAY")).alias("quota_period"),
        "integration_latency_ms",
        pl.when(pl.col("status") == 504)
        .then(pl.lit("integration_timeout"))
        .when((pl.col("status") == 502) & (pl.col("source_line") % 4 == 0))
        .then(pl.lit("lambda_function_error"))
        .when(pl.col("status") == 502)
        .then(pl.lit("lambda_function_timeout"))
        .when(pl.col("status") == 500)
        .then(pl.lit("configuration_error"))
        .when(quota)
        .then(pl.lit("quota_exceeded"))
        .when(keyed_throttle)
        .then(pl.lit("key_throttled"))
        .when(pl.col("status") == 429)
        .then(pl.lit("throttled"))
        .otherwise(pl.lit("none"))
        .alias("error_class"),
        pl.lit(5).cast(pl.Int64).alias("event_count"),
        "source_file",
        "source_line",
    )


def synthetic_metric_points(requests: pl.DataFrame) -> pl.DataFrame:
    """Per-minute stage metrics (Sum) consistent with the requests, as CloudWatch counts them."""
    cache_eligible = (
        (pl.col("http_method") == "GET") & (pl.col("stage") == "prod") & (pl.col("status") == 200)
    )
    per_minute = requests.group_by(
        pl.col("api_id").alias("api_name"),
        "stage",
        pl.col("requested_at").dt.truncate("1m").alias("timestamp"),
    ).agg(
        pl.len().cast(pl.Float64).alias("request_count"),
        pl.col("status").is_between(400, 499).sum().cast(pl.Float64).alias("client_error_count"),
        (pl.col("status") >= 500).sum().cast(pl.Float64).alias("server_error_count"),
        (cache_eligible & pl.col("integration_latency_ms").is_null())
        .sum()
        .cast(pl.Float64)
        .alias("cache_hit_count"),
        (cache_eligible & pl.col("integration_latency_ms").is_not_null())
        .sum()
        .cast(pl.Float64)
        .alias("cache_miss_count"),
    )
    names = {
        "request_count": "Count",
        "client_error_count": "4XXError",
        "server_error_count": "5XXError",
        "cache_hit_count": "CacheHitCount",
        "cache_miss_count": "CacheMissCount",
    }
    long = per_minute.unpivot(
        index=["api_name", "stage", "timestamp"], variable_name="metric", value_name="sum"
    )
    return long.with_columns(
        pl.lit("AWS/ApiGateway").alias("namespace"),
        pl.col("metric").replace_strict(names).alias("metric_name"),
        pl.lit(60, pl.Int32).alias("period_s"),
        pl.lit("Count").alias("unit"),
        pl.lit("synthetic-metrics.json").alias("source_file"),
    )


def write_table(root: Path, kind: RecordKind, frame: pl.DataFrame) -> None:
    """Write rows straight into their date partitions (the writer's dedupe is not needed here)."""
    frame = conform(frame, kind)
    layout = WarehouseLayout(root)
    dated = frame.with_columns(pl.col(PARTITION_TIME_COLUMN[kind]).dt.date().alias("_date"))
    for (date,), part in dated.group_by("_date", maintain_order=True):
        directory = layout.table_dir(kind.value) / f"date={date}"
        directory.mkdir(parents=True, exist_ok=True)
        part.drop("_date").write_parquet(
            directory / "part-synthetic-00001.parquet", compression="zstd"
        )


def build_synthetic_warehouse(
    root: Path, request_count: int, *, days: int = 2, seed: int = 7
) -> None:
    """Write a complete synthetic warehouse (requests, execution requests, metric points)."""
    requests = synthetic_requests(request_count, days=days, seed=seed)
    write_table(root, RecordKind.ACCESS_REQUESTS, requests)
    write_table(root, RecordKind.EXECUTION_REQUESTS, synthetic_execution_requests(requests))
    write_table(root, RecordKind.METRIC_POINTS, synthetic_metric_points(requests))
