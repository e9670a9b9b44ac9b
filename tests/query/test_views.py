"""The views: typed and empty when a table is missing, deduplicated when files are copied in."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.errors import QueryError, WarehouseError
from apigw_analytics.query.connection import VIEW_NAMES, connect, duckdb_type
from apigw_analytics.query.run import run_query, run_sql
from apigw_analytics.query.synthetic import synthetic_requests, write_table
from apigw_analytics.schema import SCHEMAS, RecordKind


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


def test_sql_errors_become_one_line(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match=r"^SQL failed: .*nope"):
        run_sql("SELECT nope FROM requests", data_dir=tmp_path)


def test_query_results_are_polars_frames(synthetic_warehouse: Path) -> None:
    frame = run_query("overview", {"interval_s": 86400}, data_dir=synthetic_warehouse)
    assert isinstance(frame, pl.DataFrame)
    assert frame.columns[:4] == ["api_id", "stage", "interval_start", "requests"]
