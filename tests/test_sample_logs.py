"""The bundled sample logs: they ingest cleanly, and the record kinds join as they should."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from apigw_analytics.ingest.pipeline import IngestSummary, ingest_paths

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IngestSummary]:
    data = tmp_path_factory.mktemp("sample-warehouse")
    return data, ingest_paths([REPO / "sample_logs"], data)


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from apigw_analytics import cli; "
        "heavy = {'polars', 'duckdb', 'numba', 'pyarrow'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_sample_logs_ingest_with_nothing_quarantined(sample_warehouse) -> None:
    _, summary = sample_warehouse
    facts = summary.to_dict()
    assert facts["files_failed"] == 0
    assert facts["quarantined"] == 0
    assert facts["records_read"] == facts["records_parsed"] + facts["skipped"]
    assert set(facts["rows_by_kind"]) >= {
        "access_requests",
        "execution_events",
        "execution_requests",
        "metric_points",
    }
    assert summary.exit_code == 0


def test_execution_requests_join_access_requests_on_request_id(sample_warehouse) -> None:
    data, _ = sample_warehouse
    agreement = duckdb.sql(
        f"""
        SELECT count(*) AS joined,
               count(*) FILTER (a.status = e.status) AS same_status,
               count(*) FILTER (a.error_response_type = 'INTEGRATION_TIMEOUT'
                                AND e.error_class = 'integration_timeout') AS timeouts,
               count(*) FILTER (a.error_response_type = 'QUOTA_EXCEEDED'
                                AND e.usage_plan_outcome = 'key_quota_exceeded') AS quota
        FROM read_parquet('{data}/access_requests/**/*.parquet') AS a
        JOIN read_parquet('{data}/execution_requests/**/*.parquet') AS e USING (request_id)
        """
    ).fetchall()[0]
    rest_requests = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{data}/access_requests/**/*.parquet') "
        "WHERE api_id = 'a1b2c3d4e5'"
    ).fetchall()[0][0]
    joined, same_status, timeouts, quota = agreement
    assert joined == rest_requests
    assert same_status == joined
    assert timeouts > 0
    assert quota > 0
