"""A synthetic warehouse for the report tests: two days of requests from 2024-05-01, built
straight into the warehouse layout (fast, and the same rows every run)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.query.dedupe import CACHE_DIR_ENV
from apigw_analytics.query.synthetic import build_synthetic_warehouse

REQUESTS = 6_000


@pytest.fixture(autouse=True)
def _query_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path_factory.getbasetemp() / "query-cache"))


@pytest.fixture(scope="session")
def report_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report-warehouse")
    build_synthetic_warehouse(root, REQUESTS)
    return root


@pytest.fixture(scope="session")
def report_requests(report_warehouse: Path) -> pl.DataFrame:
    """The oracle's view: every access request, read by polars."""
    return pl.read_parquet(sorted((report_warehouse / "access_requests").rglob("*.parquet")))
