"""Every writer's output is read back by its ingestor: nothing quarantined, the same values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from apigw_analytics.generate import containers
from apigw_analytics.generate.access_logs import ACCESS_TEMPLATES, render
from apigw_analytics.generate.execution_logs import execution_events
from apigw_analytics.generate.output import write_execution_logs, write_metrics
from apigw_analytics.generate.rendering import Rendering
from apigw_analytics.generate.run import GeneratedRun, generate_run
from apigw_analytics.generate.scenarios import scenario_named
from apigw_analytics.ingest.pipeline import ingest_paths

API_OF_FORMAT = {"rest": "shop", "http": "catalog", "websocket": "chat"}
ROWS = 400


def _sample(run: GeneratedRun, format_name: str) -> np.ndarray:
    """Row indices of the format's API: its first requests that are not 200, then its first."""
    api = API_OF_FORMAT[format_name.split("-", maxsplit=1)[0]]
    rows = run.requests.with_row_index().filter(pl.col("api_name") == api)
    picked = rows.filter(pl.col("status") != 200).head(ROWS // 2).vstack(rows.head(ROWS // 2))
    return picked["index"].to_numpy().astype(np.int64)


def _write(container: str, folder: Path, times: pl.Series, lines: Rendering) -> None:
    if container == "plain":
        containers.write_plain(folder / "access.log", lines)
    elif container == "gzip":
        containers.write_gzip(folder / "access.log.gz", lines)
    elif container == "s3-export":
        messages = lines.lines().to_series()
        containers.write_s3_export(folder, "0123456789abcdef0123456789abcdef", times, messages)
    else:
        messages = lines.lines().to_series()
        containers.write_subscription(folder / "f.gz", "/aws/access", "stream", times, messages)


def _read(data: Path) -> pl.DataFrame:
    return pl.read_parquet(data / "access_requests" / "**" / "*.parquet", hive_partitioning=False)


@pytest.mark.parametrize("container", containers.CONTAINERS)
@pytest.mark.parametrize("format_name", sorted(ACCESS_TEMPLATES))
def test_access_writer_round_trip(
    runs: dict[str, GeneratedRun], tmp_path: Path, format_name: str, container: str
) -> None:
    run = runs["method-burst"]
    picked = _sample(run, format_name)
    rows = run.requests[picked]
    lines = render(ACCESS_TEMPLATES[format_name], run.columns, picked)
    _write(container, tmp_path / "out", rows["completed_at"].dt.epoch("ms"), lines)
    summary = ingest_paths([tmp_path / "out"], tmp_path / "data")
    assert summary.total("quarantined") == 0
    assert summary.exit_code == 0
    read = _read(tmp_path / "data")
    assert read.height == rows.height
    joined = rows.join(read, on="request_id", suffix="_read")
    assert joined.height == rows.height
    assert joined["status"].to_list() == joined["status_read"].to_list()
    seconds = pl.col("requested_at").dt.truncate("1s")
    assert joined.select((seconds == pl.col("requested_at_read").dt.truncate("1s")).all()).item()
    expected_type = rows["api_type"][0]
    assert set(read["api_type"].to_list()) == {expected_type}
    if format_name == "rest-rich-json":
        for column in (
            "latency_ms", "integration_latency_ms", "integration_status",
            "integration_service_status", "error_response_type", "api_key_id", "is_canary",
            "requested_at", "integration_error",
        ):  # fmt: skip
            assert joined[column].to_list() == joined[f"{column}_read"].to_list(), column


def test_s3_export_lines_carry_the_event_time() -> None:
    lines = containers.s3_export_lines(pl.Series([1_793_577_600_123]), pl.Series(["hello"]))
    assert lines.to_list() == ["2026-11-02T00:00:00.123Z hello"]


def test_execution_logs_read_back_one_request_each(
    runs: dict[str, GeneratedRun], tmp_path: Path
) -> None:
    run = generate_run(scenario_named("key-limits"), duration_s=1500.0, rps=4.0)
    written = write_execution_logs(run, tmp_path / "out")
    assert len(written) == 1, "a request split across export objects is not merged (yet)"
    summary = ingest_paths([tmp_path / "out"], tmp_path / "data")
    assert summary.total("quarantined") == 0
    shop = run.requests.filter(pl.col("api_name") == "shop")
    read = pl.read_parquet(tmp_path / "data" / "execution_requests" / "**" / "*.parquet")
    assert read.height == shop.height
    joined = shop.join(read, on="request_id", suffix="_read")
    assert joined["status"].to_list() == joined["status_read"].to_list()
    outcome = dict(joined.select("limit_layer", "usage_plan_outcome").unique().iter_rows())
    assert outcome["quota"] == "key_quota_exceeded"
    assert outcome["usage_plan"] == "key_throttled"


def test_execution_events_are_in_time_order_and_interleaved(runs: dict[str, GeneratedRun]) -> None:
    run = runs["slow-backend"]
    events = execution_events(run.requests.filter(pl.col("api_name") == "shop"), run.config)
    times = events["timestamp_ms"]
    assert times.is_sorted()
    request_ids = events["message"].str.extract(r"^\(([^)]+)\)", 1)
    changes = (request_ids != request_ids.shift(1)).sum()
    assert changes > request_ids.n_unique()


def test_metric_exports_reconcile_with_the_requests(
    runs: dict[str, GeneratedRun], tmp_path: Path
) -> None:
    run = runs["cache-ttl"]
    written = write_metrics(run, tmp_path / "out")
    summary = ingest_paths([tmp_path / "out"], tmp_path / "data")
    assert summary.total("quarantined") == 0
    assert summary.exit_code == 0
    formats = {w.format_name for w in written}
    assert formats == {
        f"cloudwatch-{name}"
        for name in ("metric-stream", "get-metric-statistics", "get-metric-data")
    }
    points = pl.read_parquet(tmp_path / "data" / "metric_points" / "**" / "*.parquet")
    shop = run.requests.filter(pl.col("api_name") == "shop")
    stage_counts = points.filter(
        (pl.col("metric_name") == "Count")
        & (pl.col("api_name") == "shop")
        & pl.col("stage").is_not_null()
        & pl.col("resource").is_null()
        & pl.col("source_file").str.contains("metric-stream")
    )
    assert stage_counts["sum"].sum() == shop.height
    hits = points.filter(
        (pl.col("metric_name") == "CacheHitCount")
        & pl.col("resource").is_null()
        & pl.col("stage").is_not_null()
        & pl.col("source_file").str.contains("get-metric-statistics")
    )
    assert hits["sum"].sum() == (shop["cache_result"] == "hit").sum()
