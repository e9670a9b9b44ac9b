"""The CLI's entry point: help is fast to build, and the bundled sample logs ingest cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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


def test_sample_logs_ingest_with_nothing_quarantined(tmp_path: Path) -> None:
    from apigw_analytics.ingest.pipeline import ingest_paths

    summary = ingest_paths([REPO / "sample_logs"], tmp_path)
    facts = summary.to_dict()
    assert facts["files_failed"] == 0
    assert facts["quarantined"] == 0
    assert facts["records_read"] == facts["records_parsed"] + facts["skipped"]
    assert facts["rows_by_kind"]["access_requests"] == facts["records_parsed"]
    assert summary.exit_code == 0
