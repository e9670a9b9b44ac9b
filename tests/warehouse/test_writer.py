"""The warehouse never double counts: re-ingests, overlapping exports, renamed copies, and
ingests killed part-way (in staging, or between the renames of a commit) then re-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from apigw_analytics.ingest.pipeline import ingest_paths
from apigw_analytics.warehouse import writer as writer_module
from apigw_analytics.warehouse.layout import WarehouseLayout
from apigw_analytics.warehouse.manifest import read_manifest

START = datetime(2026, 7, 20, 22, 0, tzinfo=UTC)


def _line(number: int, *, spread_s: int = 1) -> str:
    at = START + timedelta(seconds=number * spread_s)
    return json.dumps(
        {
            "requestId": f"00000000-0000-4000-8000-{number:012d}",
            "extendedRequestId": f"X{number:015d}=",
            "ip": "203.0.113.9",
            "requestTimeEpoch": str(int(at.timestamp() * 1000)),
            "httpMethod": "GET",
            "resourcePath": "/items/{id}",
            "status": "200",
            "responseLength": str(number % 1000),
        },
        separators=(",", ":"),
    )


def _write(path: Path, numbers: range, *, spread_s: int = 1, extra: list[str] = ()) -> Path:
    path.write_text("\n".join([*(_line(n, spread_s=spread_s) for n in numbers), *extra]) + "\n")
    return path


def _count(data_dir: Path) -> int:
    """Rows visible to a reader of the table glob (DuckDB, as users would read it)."""
    layout = WarehouseLayout(data_dir)
    if not list(layout.table_dir("access_requests").rglob("*.parquet")):
        return 0
    glob = layout.table_glob("access_requests")
    return duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()[0][0]


def _distinct_keys(data_dir: Path) -> int:
    glob = WarehouseLayout(data_dir).table_glob("access_requests")
    query = f"SELECT count(DISTINCT coalesce(extended_request_id, request_id)) FROM '{glob}'"
    return duckdb.sql(query).fetchall()[0][0]


def test_same_file_twice_is_already_ingested(tmp_path, data_dir):
    source = _write(tmp_path / "a.log", range(1, 101))
    first = ingest_paths([source], data_dir)
    assert first.sources[0].status == "ingested"
    assert first.rows_by_kind == {"access_requests": 100}
    second = ingest_paths([source], data_dir)
    assert second.sources[0].status == "already ingested"
    assert second.rows_by_kind == {}
    assert second.exit_code == 0
    assert _count(data_dir) == 100
    assert len(read_manifest(WarehouseLayout(data_dir).manifest_path)) == 1


def test_same_file_twice_in_one_run(tmp_path, data_dir):
    source = _write(tmp_path / "a.log", range(1, 11))
    summary = ingest_paths([source, str(source)], data_dir)
    assert len(summary.sources) == 1  # the same path is expanded once
    assert _count(data_dir) == 10


def test_renamed_copy_is_a_no_op(tmp_path, data_dir):
    source = _write(tmp_path / "a.log", range(1, 51))
    ingest_paths([source], data_dir)
    copy = tmp_path / "elsewhere" / "renamed-export.txt"
    copy.parent.mkdir()
    copy.write_bytes(source.read_bytes())
    summary = ingest_paths([copy], data_dir)
    assert summary.sources[0].status == "already ingested"
    assert _count(data_dir) == 50


@pytest.mark.parametrize("same_run", [True, False], ids=["one-run", "two-runs"])
def test_overlapping_exports_never_double_count(tmp_path, data_dir, same_run):
    first = _write(tmp_path / "export-1.log", range(1, 101), spread_s=3600)
    second = _write(tmp_path / "export-2.log", range(61, 161), spread_s=3600)
    if same_run:
        summary = ingest_paths([first, second], data_dir)
        reports = summary.sources
    else:
        reports = [*ingest_paths([first], data_dir).sources]
        reports += ingest_paths([second], data_dir).sources
    assert [r.rows_by_kind["access_requests"] for r in reports] == [100, 60]
    assert [r.duplicates_dropped for r in reports] == [0, 40]
    assert _count(data_dir) == 160
    assert _distinct_keys(data_dir) == 160


def test_duplicates_inside_one_file_are_dropped(tmp_path, data_dir):
    source = _write(tmp_path / "dups.log", range(1, 21), extra=[_line(5), _line(6)])
    summary = ingest_paths([source], data_dir)
    report = summary.sources[0]
    assert report.records_parsed == 22
    assert report.duplicates_dropped == 2
    assert _count(data_dir) == 20


def test_request_id_is_the_key_without_extended_id(tmp_path, data_dir):
    line = '{"requestId":"only-id","requestTime":"20/Jul/2026:01:50:15 +0000","status":"200"}'
    a = tmp_path / "a.log"
    a.write_text(line + "\n")
    b = tmp_path / "b.log"
    b.write_text(line + "\n\n")  # other bytes, same request
    ingest_paths([a], data_dir)
    summary = ingest_paths([b], data_dir)
    assert summary.sources[0].duplicates_dropped == 1
    assert _count(data_dir) == 1


_KILLED_INGEST = textwrap.dedent(
    """
    import sys
    from apigw_analytics.ingest import bulk, containers
    containers.CHUNK_BYTES = 16 * 1024  # many small chunks: many staging writes before commit
    bulk.BATCH_ROWS = 256
    from apigw_analytics.cli import main
    sys.argv = ["apigw-analyze", "ingest", sys.argv[1], "--data", sys.argv[2], "--quiet"]
    main()
    """
)


def test_ingest_killed_while_staging_then_rerun(tmp_path, data_dir):
    count = 30_000
    source = _write(tmp_path / "big.log", range(1, count + 1), spread_s=20)  # ~7 days
    staging = WarehouseLayout(data_dir).staging_root
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_INGEST, str(source), str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(staging.rglob("*.parquet")):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the ingest never staged a file"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    # killed before its commit: staging files left behind, nothing visible to readers
    assert any(staging.rglob("*.parquet"))
    assert _count(data_dir) == 0
    assert not WarehouseLayout(data_dir).manifest_path.exists()

    summary = ingest_paths([source], data_dir)
    assert summary.sources[0].status == "ingested"
    assert summary.rows_by_kind == {"access_requests": count}
    assert summary.total("duplicates_dropped") == 0
    assert _count(data_dir) == count
    assert _distinct_keys(data_dir) == count
    assert not staging.exists() or not any(staging.rglob("*"))


def _flaky_replace(monkeypatch, fail_on: int, *, staged_only: bool = True):
    """os.replace that fails on its n-th call (of staged files only, or of any file)."""
    real = os.replace
    calls: list[str] = []

    def replace(src, dst):
        if not staged_only or "_staging" in str(src):
            calls.append(str(dst))
            if len(calls) == fail_on:
                raise OSError(28, "No space left on device", str(dst))
        return real(src, dst)

    monkeypatch.setattr(writer_module.os, "replace", replace)
    return calls


def test_commit_interrupted_between_renames_then_rerun(tmp_path, data_dir, monkeypatch):
    count = 3000
    source = _write(tmp_path / "days.log", range(1, count + 1), spread_s=120)  # 5 partitions
    calls = _flaky_replace(monkeypatch, fail_on=2)
    with pytest.raises(OSError, match="No space left"):
        ingest_paths([source], data_dir)
    monkeypatch.undo()
    assert len(calls) == 2
    visible = _count(data_dir)
    assert 0 < visible < count  # one partition made it, the manifest did not
    assert not WarehouseLayout(data_dir).manifest_path.exists()

    summary = ingest_paths([source], data_dir)
    report = summary.sources[0]
    assert report.status == "ingested"
    assert report.rows_by_kind["access_requests"] == count - visible
    assert report.duplicates_dropped == visible
    assert _count(data_dir) == count
    assert _distinct_keys(data_dir) == count
    again = ingest_paths([source], data_dir)
    assert again.sources[0].status == "already ingested"
    assert _count(data_dir) == count


def test_commit_interrupted_before_the_manifest_then_rerun(
    tmp_path, data_dir, monkeypatch, quarantine_rows
):
    """Every data file renamed, the manifest not written: the re-run adds nothing twice,
    quarantined records included."""
    count = 500
    source = _write(tmp_path / "q.log", range(1, count + 1), spread_s=600, extra=["garbage"])
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith("manifest.jsonl"):
            raise OSError(5, "Input/output error", str(dst))
        return real(src, dst)

    monkeypatch.setattr(writer_module.os, "replace", replace)
    with pytest.raises(OSError):
        ingest_paths([source], data_dir)
    monkeypatch.undo()
    assert _count(data_dir) == count

    summary = ingest_paths([source], data_dir)
    assert summary.sources[0].status == "ingested"
    assert summary.sources[0].reconciles
    assert _count(data_dir) == count
    assert _distinct_keys(data_dir) == count
    assert quarantine_rows(data_dir).height == 1


def test_staging_of_a_failed_source_is_discarded(tmp_path, data_dir):
    """A source that fails part-way (undetectable) stages nothing that survives."""
    good = _write(tmp_path / "good.log", range(1, 11))
    bad = tmp_path / "bad.log"
    bad.write_text("nothing to see\n")
    ingest_paths([bad, good], data_dir)
    assert _count(data_dir) == 10
    assert not WarehouseLayout(data_dir).staging_root.exists()


def test_table_is_readable_by_polars_and_duckdb(tmp_path, data_dir):
    source = _write(tmp_path / "a.log", range(1, 41), spread_s=7200)
    ingest_paths([source], data_dir)
    glob = WarehouseLayout(data_dir).table_glob("access_requests")
    frame = pl.scan_parquet(glob, hive_partitioning=True).collect()
    assert frame.height == 40
    assert "date" in frame.columns
    by_date = duckdb.sql(
        f"SELECT date, count(*) FROM read_parquet('{glob}', hive_partitioning=true) "
        "GROUP BY date ORDER BY date"
    ).fetchall()
    assert sum(n for _, n in by_date) == 40
    # requests 1..40, two hours apart from 2026-07-20T22:00Z: 2026-07-21 .. 2026-07-24
    assert [str(d) for d, _ in by_date] == ["2026-07-21", "2026-07-22", "2026-07-23", "2026-07-24"]
    assert [n for _, n in by_date] == [12, 12, 12, 4]
