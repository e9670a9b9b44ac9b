"""The views: typed and empty when a table is missing, deduplicated when files are copied in."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.errors import QueryError, WarehouseError
from apigw_analytics.query.connection import VIEW_NAMES, connect, duckdb_type
from apigw_analytics.query.run import run_query, run_sql
from apigw_analytics.query.synthetic import synthetic_requests, write_table
from apigw_analytics.schema import SCHEMAS, RecordKind, conform
from apigw_analytics.warehouse.layout import WarehouseLayout
from apigw_analytics.warehouse.writer import dedupe_key

MOMENT = datetime(2026, 1, 1, tzinfo=UTC)
_EVENT = {"request_id": "r1", "event_at": MOMENT, "message": "Method completed", "sequence": 3}
_POINT = {
    "namespace": "AWS/ApiGateway",
    "metric_name": "Latency",
    "api_name": "shop",
    "timestamp": MOMENT,
    "period_s": 60,
}
# Rows that are, or only look like, repeats of one another under the writer's keys.
KEY_CASES: dict[RecordKind, list[dict]] = {
    RecordKind.ACCESS_REQUESTS: [
        {"request_id": "a", "requested_at": MOMENT},
        {"request_id": "a", "extended_request_id": "x", "requested_at": MOMENT},
        {"request_id": "b", "extended_request_id": "x", "requested_at": MOMENT},
        {"request_id": "a", "requested_at": MOMENT},
        {"status": 200, "requested_at": MOMENT},
        {"status": 200, "requested_at": MOMENT},
    ],
    RecordKind.EXECUTION_REQUESTS: [
        {"request_id": "a", "first_event_at": MOMENT},
        {"request_id": "a", "first_event_at": MOMENT},
        {"request_id": None, "first_event_at": MOMENT},
        {"request_id": None, "first_event_at": MOMENT},
    ],
    RecordKind.EXECUTION_EVENTS: [
        {**_EVENT, "source_file": "a.gz", "source_line": 1},
        {**_EVENT, "source_file": "b.gz", "source_line": 9},
        {**_EVENT, "sequence": None, "source_file": "a.gz", "source_line": 2},
        {**_EVENT, "sequence": None, "source_file": "a.gz", "source_line": 3},
        {**_EVENT, "sequence": 7, "occurrence": 0, "source_file": "c.gz", "source_line": 5},
        {**_EVENT, "occurrence": 1, "source_file": "a.gz", "source_line": 6},
        {**_EVENT, "sequence": 0, "occurrence": 1, "source_file": "b.gz", "source_line": 2},
        {**_EVENT, "event_id": "e1", "source_file": "a.gz", "source_line": 4},
        {**_EVENT, "event_id": "e1", "message": "other", "source_file": "a.gz", "source_line": 5},
        *[
            {"message": f"line {n % 2}", "sequence": n, "source_file": "c.log", "source_line": n}
            for n in range(3)
        ],
        {"message": "line 0", "source_file": "c.log", "source_line": 0},
    ],
    RecordKind.METRIC_POINTS: [
        *[{**_POINT, "api_id": api_id, "sum": 1.0} for api_id in ("a", "b", None, None)],
        {**_POINT, "sum": 10.0},
        {**_POINT, "average": 5.0},
        {**_POINT, "sum": 12.0},
    ],
    RecordKind.REPLAY_OUTCOMES: [
        {"replay_name": "r", "request_key": "k", "requested_at": MOMENT},
        {"replay_name": "r", "request_key": "k", "requested_at": MOMENT},
        {"replay_name": "s", "request_key": "k", "requested_at": MOMENT},
        {"replay_name": None, "request_key": "k", "requested_at": MOMENT},
        {"replay_name": None, "request_key": "k", "requested_at": MOMENT},
    ],
    RecordKind.APIS: [
        {"api_type": "rest", "api_id": "a", "api_name": "shop", "created_at": MOMENT},
        {"api_type": "rest", "api_id": "a", "api_name": "shop", "created_at": MOMENT},
        {"api_type": "rest", "api_id": "a", "api_name": "store", "created_at": MOMENT},
        {"api_type": "http", "api_id": "a", "api_name": "shop", "created_at": MOMENT},
        {"api_type": "rest", "api_id": None, "api_name": "shop", "created_at": MOMENT},
        {"api_type": "rest", "api_id": None, "api_name": "shop", "created_at": MOMENT},
    ],
}


def test_a_missing_data_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="no such data directory"):
        connect(tmp_path / "absent")


def test_missing_tables_are_empty_views_with_the_schema_columns(tmp_path: Path) -> None:
    connection = connect(tmp_path)
    for kind, view in VIEW_NAMES.items():
        described = connection.execute(f"DESCRIBE {view}").fetchall()
        expected = [(c.name, duckdb_type(c.dtype)) for c in SCHEMAS[kind]]
        assert [(name, sql_type) for name, sql_type, *_ in described][: len(expected)] == [
            (name, "TIMESTAMP WITH TIME ZONE" if t == "TIMESTAMPTZ" else t) for name, t in expected
        ]
        assert connection.execute(f"SELECT count(*) FROM {view}").fetchall() == [(0,)]


@pytest.mark.parametrize("name", ["overview", "cache_hit_ratio", "logs_vs_metrics"])
def test_questions_over_an_empty_warehouse_return_no_rows(tmp_path: Path, name: str) -> None:
    assert run_query(name, data_dir=tmp_path).height == 0


def test_rows_of_a_file_copied_in_by_hand_are_counted_once(tmp_path: Path) -> None:
    write_table(tmp_path, RecordKind.ACCESS_REQUESTS, synthetic_requests(500, days=1))
    before = run_sql("SELECT count(*) AS n FROM requests", data_dir=tmp_path)["n"][0]
    (original,) = (tmp_path / "access_requests").rglob("*.parquet")
    shutil.copy(original, original.with_name("part-copied-by-hand.parquet"))
    after = run_sql(
        "SELECT count(*) AS n, count(DISTINCT request_key) AS keys FROM requests",
        data_dir=tmp_path,
    )
    assert before == 500
    assert after.rows() == [(500, 500)]


def test_a_file_repeating_part_of_another_adds_only_its_new_rows(tmp_path: Path) -> None:
    write_table(tmp_path, RecordKind.ACCESS_REQUESTS, synthetic_requests(500, days=1))
    (original,) = (tmp_path / "access_requests").rglob("*.parquet")
    overlapping = conform(synthetic_requests(750, days=1).slice(250), RecordKind.ACCESS_REQUESTS)
    overlapping.write_parquet(original.with_name("part-overlapping.parquet"))
    counted = run_sql(
        "SELECT count(*) AS n, count(DISTINCT request_key) AS keys FROM requests",
        data_dir=tmp_path,
    )
    assert counted.rows() == [(750, 750)]


@pytest.mark.parametrize("kind", list(KEY_CASES))
def test_the_views_hide_the_rows_the_writers_keys_call_repeats(
    tmp_path: Path, kind: RecordKind
) -> None:
    frame = conform(pl.DataFrame(KEY_CASES[kind], infer_schema_length=None), kind)
    directory = WarehouseLayout(tmp_path).table_dir(kind.value) / "date=2026-01-01"
    directory.mkdir(parents=True)
    frame.write_parquet(directory / "part-a.parquet")
    frame.write_parquet(directory / "part-b.parquet")
    keys = pl.concat([frame, frame]).select(dedupe_key(kind)).to_series()
    expected = keys.null_count() + keys.drop_nulls().n_unique()
    counted = run_sql(f"SELECT count(*) AS n FROM {VIEW_NAMES[kind]}", data_dir=tmp_path)
    assert counted["n"][0] == expected


def test_sql_errors_become_one_line(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match=r"^SQL failed: .*nope"):
        run_sql("SELECT nope FROM requests", data_dir=tmp_path)


def test_query_results_are_polars_frames(synthetic_warehouse: Path) -> None:
    frame = run_query("overview", {"interval_s": 86400}, data_dir=synthetic_warehouse)
    assert isinstance(frame, pl.DataFrame)
    assert frame.columns[:4] == ["api_id", "stage", "interval_start", "requests"]
