"""The query tests' own warehouse: `sample_logs/` ingested by the real pipeline (golden
answers), built once per session. The synthetic warehouse and the dedupe cache's directory are
shared with the report tests (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_LOGS = REPO_ROOT / "sample_logs"


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from apigw_analytics.ingest.pipeline import ingest_paths

    if not SAMPLE_LOGS.is_dir() or not any(SAMPLE_LOGS.iterdir()):
        pytest.skip("sample_logs/ is empty")
    root = tmp_path_factory.mktemp("sample-warehouse")
    ingest_paths([SAMPLE_LOGS], root)
    return root
