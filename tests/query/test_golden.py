"""Every catalogue question over the warehouse built from sample_logs/, against a golden CSV.

Run with UPDATE_GOLDEN=1 to rewrite the golden files after an intended change, then review the
diff. Floats are rounded to 6 decimals so the files do not depend on summation order.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.query.catalogue import catalogue
from apigw_analytics.query.run import open_connection, run_query

GOLDEN_DIR = Path(__file__).parent / "golden"


def golden_text(frame: pl.DataFrame) -> str:
    rounded = frame.with_columns(
        pl.col(name).round(6) for name, dtype in frame.schema.items() if dtype.is_float()
    )
    return rounded.write_csv(datetime_format="%Y-%m-%dT%H:%M:%S%.3fZ")


@pytest.fixture(scope="module")
def sample_connection(sample_warehouse: Path):
    return open_connection(sample_warehouse)


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_query_matches_its_golden_csv(name: str, sample_connection) -> None:
    actual = golden_text(run_query(name, connection=sample_connection))
    golden = GOLDEN_DIR / f"{name}.csv"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"{golden} missing: run with UPDATE_GOLDEN=1 and review it"
    assert actual == golden.read_text(encoding="utf-8")


def test_every_golden_file_belongs_to_a_query() -> None:
    orphans = {path.stem for path in GOLDEN_DIR.glob("*.csv")} - set(catalogue())
    assert not orphans
