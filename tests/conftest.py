"""Shared fixtures: the real-world samples folder, a fresh warehouse, table readers, goldens,
the synthetic warehouse the query and report tests read, and a private query cache."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.query.dedupe import CACHE_DIR_ENV
from apigw_analytics.query.synthetic import build_synthetic_warehouse

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN_ENV = "UPDATE_GOLDEN"
SYNTHETIC_REQUESTS = 20_000


@pytest.fixture(autouse=True)
def _query_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """The dedupe cache goes to a temporary directory so tests never touch the user's cache."""
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path_factory.getbasetemp() / "query-cache"))


@pytest.fixture(scope="session")
def synthetic_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deterministic synthetic generator's warehouse (two days from 2024-05-01), for
    oracle checks against polars."""
    root = tmp_path_factory.mktemp("synthetic-warehouse")
    build_synthetic_warehouse(root, SYNTHETIC_REQUESTS)
    return root


@pytest.fixture(scope="session")
def synthetic_requests(synthetic_warehouse: Path) -> pl.DataFrame:
    """The oracle's view of the same Parquet: every access request, read by polars."""
    return pl.read_parquet(sorted((synthetic_warehouse / "access_requests").rglob("*.parquet")))


@pytest.fixture(scope="session")
def realworld_dir() -> Path:
    """`../shared/realworld` beside the checkout; tests that need it skip when it is absent."""
    folder = REPO_ROOT.parent / "shared" / "realworld"
    if not folder.is_dir():
        pytest.skip(f"real-world samples not found at {folder}")
    return folder


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A warehouse directory that does not exist yet."""
    return tmp_path / "warehouse"


def read_table(data_dir: Path, table: str) -> pl.DataFrame:
    """Every committed row of a warehouse table (empty frame when there is none)."""
    files = sorted((data_dir / table).rglob("*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.read_parquet(files, hive_partitioning=False)


@pytest.fixture
def access_rows() -> Callable[[Path], pl.DataFrame]:
    """Reader of the committed access_requests rows, in file and line order."""

    def read(data_dir: Path) -> pl.DataFrame:
        frame = read_table(data_dir, "access_requests")
        return frame.sort("source_file", "source_line", "request_id") if frame.height else frame

    return read


@pytest.fixture
def quarantine_rows() -> Callable[[Path], pl.DataFrame]:
    def read(data_dir: Path) -> pl.DataFrame:
        frame = read_table(data_dir, "quarantine")
        return frame.sort("source_file", "source_line") if frame.height else frame

    return read


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _rows_as_jsonl(frame: pl.DataFrame, relative_to: Path | None = None) -> str:
    """One sorted-key JSON object per row, null columns left out, file paths made relative."""
    lines = []
    for row in frame.iter_rows(named=True):
        if relative_to is not None and row.get("source_file"):
            row["source_file"] = Path(row["source_file"]).relative_to(relative_to).as_posix()
        kept = {key: _plain(value) for key, value in row.items() if value is not None}
        lines.append(json.dumps(kept, sort_keys=True, ensure_ascii=False))
    return "\n".join(lines) + "\n"


@pytest.fixture
def to_jsonl() -> Callable[..., str]:
    """Rows as text for golden files: sorted keys, nulls left out, paths relative."""
    return _rows_as_jsonl


@pytest.fixture
def golden() -> Callable[[Path, str], None]:
    """Compare text with tests/<...>/golden/<name>; UPDATE_GOLDEN=1 rewrites it instead."""

    def check(path: Path, text: str) -> None:
        if os.environ.get(GOLDEN_ENV) == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"golden file {path} is missing; run with {GOLDEN_ENV}=1 to create it")
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"output differs from {path} (set {GOLDEN_ENV}=1 to accept)"

    return check
