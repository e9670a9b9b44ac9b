"""Staged Parquet files are encoded on the writer's own thread, up to two row groups ahead of the
reader: a failed write reaches the caller, and a file is never closed while a write runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from apigw_analytics.schema import RecordKind, conform
from apigw_analytics.warehouse import writer as writer_module
from apigw_analytics.warehouse.writer import WarehouseWriter, arrow_schema


def _rows(first: int, count: int):
    frame = conform(
        pl.DataFrame(
            {
                "request_id": [f"r{n}" for n in range(first, first + count)],
                "requested_at": [1_784_512_215_000 + n for n in range(first, first + count)],
            }
        ).with_columns(pl.col("requested_at").cast(pl.Datetime("ms", "UTC"))),
        RecordKind.ACCESS_REQUESTS,
    )
    return frame.to_arrow().cast(arrow_schema(RecordKind.ACCESS_REQUESTS))


def test_a_failed_write_is_raised_and_no_write_outlives_the_file(tmp_path: Path, monkeypatch):
    """Every write fails (a full disk), after a moment: a file closed while a queued write ran
    would show a write in progress at its close."""
    monkeypatch.setattr(writer_module, "ROW_GROUP_ROWS", 2)
    lock = threading.Lock()
    writing = {"now": 0, "at_close": []}
    real_close = pq.ParquetWriter.close

    def write_table(self, table, **kwargs):
        with lock:
            writing["now"] += 1
        try:
            time.sleep(0.05)  # widens the window a premature close would fall into
            raise OSError("No space left on device")
        finally:
            with lock:
                writing["now"] -= 1

    def close(self):
        with lock:
            writing["at_close"].append(writing["now"])
        return real_close(self)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", write_table)
    monkeypatch.setattr(pq.ParquetWriter, "close", close)
    with WarehouseWriter(tmp_path / "data") as writer:
        with pytest.raises(OSError, match="No space left"):
            for first in range(0, 40, 2):
                writer.stage_arrow(RecordKind.ACCESS_REQUESTS, _rows(first, 2))
        with pytest.raises(OSError, match="No space left"):
            writer.discard_source()
    assert writing["at_close"] == [0]
    assert not list((tmp_path / "data").rglob("*.parquet"))


def test_rows_staged_in_many_groups_are_written_in_order(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(writer_module, "ROW_GROUP_ROWS", 3)
    with WarehouseWriter(tmp_path / "data") as writer:
        for first in range(0, 50, 5):
            writer.stage_arrow(RecordKind.ACCESS_REQUESTS, _rows(first, 5))
        writer.flush_staged()
        staged = writer.settle_source()
        (file,) = staged.files
        stored = pq.read_table(file.staged)
        assert stored.num_rows == 50
        assert stored.column("request_id").to_pylist() == [f"r{n}" for n in range(50)]
        assert pq.ParquetFile(file.staged).metadata.num_row_groups == 10
