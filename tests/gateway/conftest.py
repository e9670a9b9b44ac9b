"""Shared builders (as session fixtures): access-request frames and small warehouses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from apigw_analytics.schema import RecordKind, conform
from apigw_analytics.warehouse.manifest import ManifestEntry
from apigw_analytics.warehouse.writer import WarehouseWriter

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _access_frame(t_ms: np.ndarray, **columns: object) -> pl.DataFrame:
    """Arrivals at `t_ms` (REST, stage prod, GET /orders, 200 unless overridden)."""
    n = len(t_ms)
    base: dict[str, object] = {
        "request_id": [f"req-{i}" for i in range(n)],
        "api_id": "abc123",
        "api_type": "rest",
        "stage": "prod",
        "http_method": "GET",
        "resource_path": "/orders",
        "path": "/prod/orders",
        "status": 200,
        "response_bytes": 100,
        "latency_ms": 60,
        "integration_latency_ms": 50,
    }
    base.update(columns)
    data = {
        name: (value if isinstance(value, list | np.ndarray | pl.Series) else [value] * n)
        for name, value in base.items()
    }
    data["requested_at"] = pl.Series(np.asarray(t_ms, np.int64)).cast(pl.Datetime("ms", "UTC"))
    return conform(pl.DataFrame(data, strict=False), RecordKind.ACCESS_REQUESTS)


def _write_warehouse(root: Path, frame: pl.DataFrame) -> Path:
    with WarehouseWriter(root) as writer:
        writer.stage(RecordKind.ACCESS_REQUESTS, frame)
        writer.commit_source(
            ManifestEntry(
                content_hash="test",
                path="test",
                size_bytes=0,
                container="plain",
                formats=["test"],
                records_read=frame.height,
            )
        )
    return root


@pytest.fixture(scope="session")
def access_frame():
    """Builder of arrivals at given times (REST, prod, GET /orders, 200 unless overridden)."""
    return _access_frame


@pytest.fixture(scope="session")
def write_warehouse():
    """Writer of a frame into a fresh warehouse through WarehouseWriter."""
    return _write_warehouse
