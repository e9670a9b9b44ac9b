"""Warehouses for the query tests: built once per session, each in its own directory.

- `sample_warehouse`: `sample_logs/` ingested by the real pipeline (golden answers);
- `synthetic_warehouse`: the deterministic synthetic generator (oracle checks against polars);
- the dedupe cache goes to a temporary directory so tests never touch the user's cache.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.query.dedupe import CACHE_DIR_ENV
from apigw_analytics.query.synthetic import build_synthetic_warehouse

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_LOGS = REPO_ROOT / "sample_logs"
SYNTHETIC_REQUESTS = 20_000


@pytest.fixture(autouse=True)
def _query_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path_factory.getbasetemp() / "query-cache"))


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from apigw_analytics.ingest.pipeline import ingest_paths

    if not SAMPLE_LOGS.is_dir() or not any(SAMPLE_LOGS.iterdir()):
        pytest.skip("sample_logs/ is empty")
    root = tmp_path_factory.mktemp("sample-warehouse")
    ingest_paths([SAMPLE_LOGS], root)
    return root


@pytest.fixture(scope="session")
def synthetic_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic-warehouse")
    build_synthetic_warehouse(root, SYNTHETIC_REQUESTS)
    return root


@pytest.fixture(scope="session")
def synthetic_requests(synthetic_warehouse: Path) -> pl.DataFrame:
    """The oracle's view of the same Parquet: every access request, read by polars."""
    return pl.read_parquet(sorted((synthetic_warehouse / "access_requests").rglob("*.parquet")))
