"""Numbers the catalogue computes, recomputed by polars over the same Parquet files."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from apigw_analytics.query.run import open_connection, run_query


@pytest.fixture(scope="module")
def connection(synthetic_warehouse: Path):
    return open_connection(synthetic_warehouse)


def test_overview_counts_and_percentiles(connection, synthetic_requests: pl.DataFrame) -> None:
    actual = run_query("overview", {"interval_s": 86400}, connection=connection)
    status = pl.col("status")
    expected = (
        synthetic_requests.group_by(
            "api_id", "stage", pl.col("requested_at").dt.truncate("1d").alias("interval_start")
        )
        .agg(
            pl.len().alias("requests"),
            status.is_between(400, 499).sum().alias("client_errors_4xx"),
            (status >= 500).sum().alias("server_errors_5xx"),
            *[
                pl.col(column).quantile(q, "linear").alias(f"{prefix}_p{int(q * 100)}_ms")
                for column, prefix in (
                    ("latency_ms", "latency"),
                    ("integration_latency_ms", "integration_latency"),
                )
                for q in (0.5, 0.9, 0.99)
            ],
        )
        .sort("api_id", "stage", "interval_start")
    )
    assert_frame_equal(
        actual.select(expected.columns),
        expected,
        check_dtypes=False,
        check_exact=False,
    )


def test_throttling_counts(connection, synthetic_requests: pl.DataFrame) -> None:
    actual = run_query("throttling_by_route", connection=connection)
    throttled = synthetic_requests.filter(pl.col("status") == 429)
    assert actual["throttled_429"].sum() == throttled.height
    assert (
        actual["quota_exceeded"].sum()
        == throttled.filter(pl.col("error_response_type") == "QUOTA_EXCEEDED").height
    )


def test_logs_and_metrics_agree_when_metrics_come_from_the_same_requests(connection) -> None:
    compared = run_query("logs_vs_metrics", connection=connection)
    assert compared.height > 0
    assert not compared["mismatch"].any()


def test_a_missing_metric_point_is_flagged(connection) -> None:
    flagged = run_query("logs_vs_metrics", {"tolerance": -1}, connection=connection)
    assert flagged["mismatch"].all()


def test_inferred_cache_ratio_equals_the_metric_ratio(connection) -> None:
    stage_rows = run_query("cache_hit_ratio", {"stage": "prod"}, connection=connection).filter(
        pl.col("level") == "stage"
    )
    assert stage_rows.height == 2
    assert stage_rows["inferred_hits"].to_list() == stage_rows["metric_hits"].to_list()
    assert stage_rows["integration_calls"].to_list() == stage_rows["metric_misses"].to_list()


def test_histogram_buckets_add_up_per_route(connection, synthetic_requests) -> None:
    histogram = run_query("latency_histogram", connection=connection)
    per_route = histogram.group_by("api_id", "stage", "route").agg(
        pl.col("requests").sum(), pl.col("cumulative_share").max()
    )
    assert per_route["requests"].sum() == synthetic_requests.height
    assert per_route["cumulative_share"].to_list() == pytest.approx([1.0] * per_route.height)


def test_every_5xx_gets_one_cause(connection, synthetic_requests) -> None:
    causes = run_query("errors_5xx_causes", connection=connection)
    assert (
        causes["server_errors_5xx"].sum()
        == synthetic_requests.filter(pl.col("status") >= 500).height
    )
    assert set(causes["cause"]) >= {"integration_timeout", "configuration_error", "unknown"}
