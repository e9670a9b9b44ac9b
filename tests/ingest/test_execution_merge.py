"""A request whose execution log straddles files gets one row, as if read from one file.

The sample day's execution log (one S3-export object) is cut into parts in the middle of
requests, the way CloudWatch cuts a log stream into numbered objects, and ingested in one run,
in several runs in any order, and as two overlapping exports: each time the execution requests
equal those of the whole file read at once.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.ingest import execution_merge
from apigw_analytics.ingest.execution_merge import merge_split_requests
from apigw_analytics.ingest.pipeline import ingest_paths
from apigw_analytics.warehouse.layout import WarehouseLayout

SAMPLE_EXPORT = Path(__file__).resolve().parents[2] / "sample_logs" / "execution" / "shop-prod"
DAY = "2026-11-02"


def _lines() -> list[str]:
    (export,) = SAMPLE_EXPORT.glob("*/000000.gz")
    return gzip.decompress(export.read_bytes()).decode().splitlines(keepends=True)


def _write_parts(folder: Path, parts: list[list[str]]) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for index, lines in enumerate(parts):
        path = folder / f"{index:06d}.gz"
        path.write_bytes(gzip.compress("".join(lines).encode(), mtime=0))
        paths.append(path)
    return paths


def _requests(data: Path) -> pl.DataFrame:
    frame = pl.read_parquet(
        data / "execution_requests" / "**" / "*.parquet", hive_partitioning=False
    )
    return frame.drop("source_file", "source_line").sort("request_id")


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    root = tmp_path_factory.mktemp("whole")
    (path,) = _write_parts(root / "export", [_lines()])
    ingest_paths([path], root / "data")
    return _requests(root / "data")


def _cut_mid_request(lines: list[str], shares: tuple[float, ...]) -> list[int]:
    """Line numbers near each share of the file where the line after continues a request."""
    cuts = []
    for share in shares:
        at = int(len(lines) * share)
        while lines[at].split(" ", 2)[1] != lines[at - 1].split(" ", 2)[1]:
            at += 1
        cuts.append(at)
    return cuts


def test_an_export_cut_mid_request_reads_as_the_whole(tmp_path: Path, whole) -> None:
    lines = _lines()
    first, second = _cut_mid_request(lines, (1 / 3, 2 / 3))
    _write_parts(tmp_path / "export", [lines[:first], lines[first:second], lines[second:]])
    summary = ingest_paths([tmp_path / "export"], tmp_path / "data")
    assert summary.total("quarantined") == 0
    assert summary.execution_requests_merged >= 2  # at least the request at each cut
    assert summary.to_dict()["execution_requests_merged"] == summary.execution_requests_merged
    assert _requests(tmp_path / "data").equals(whole)


def test_parts_ingested_in_separate_runs_in_any_order(tmp_path: Path, whole) -> None:
    lines = _lines()
    first, second = _cut_mid_request(lines, (0.25, 0.75))
    paths = _write_parts(tmp_path / "export", [lines[:first], lines[first:second], lines[second:]])
    for path in (paths[2], paths[0], paths[1]):
        ingest_paths([path], tmp_path / "data")
    assert _requests(tmp_path / "data").equals(whole)


def test_overlapping_exports_count_each_event_once(tmp_path: Path, whole) -> None:
    lines = _lines()
    (middle,) = _cut_mid_request(lines, (0.5,))
    _write_parts(tmp_path / "export", [lines[: middle + 60], lines[middle - 45 :]])
    ingest_paths([tmp_path / "export"], tmp_path / "data")
    assert _requests(tmp_path / "data").equals(whole)


def test_a_pass_killed_after_committing_the_rebuilt_rows_is_settled_by_the_next(
    tmp_path: Path, whole
) -> None:
    """Between the two renames a request has its rebuilt row and its fragment row; the next
    pass finds two rows and leaves the rebuilt one."""
    lines = _lines()
    (middle,) = _cut_mid_request(lines, (0.5,))
    paths = _write_parts(tmp_path / "export", [lines[:middle], lines[middle:]])
    ingest_paths(paths, tmp_path / "data")
    ingest_paths(paths[:1], tmp_path / "first-part-only")
    split_id = lines[middle].split(" ", 2)[1].strip("()")
    fragment = pl.read_parquet(
        tmp_path / "first-part-only" / "execution_requests" / "**" / "*.parquet",
        hive_partitioning=False,
    ).filter(pl.col("request_id") == split_id)
    assert fragment.height == 1
    fragment.write_parquet(
        tmp_path / "data" / "execution_requests" / f"date={DAY}" / "left.parquet"
    )
    assert _requests(tmp_path / "data").height == whole.height + 1
    layout = WarehouseLayout(tmp_path / "data")
    assert merge_split_requests(layout, [DAY], layout.staging_dir("again")) == 1
    assert _requests(tmp_path / "data").equals(whole)


def test_one_file_is_never_scanned_for_fragments(tmp_path: Path, whole) -> None:
    layout = WarehouseLayout(tmp_path / "data")
    (path,) = _write_parts(tmp_path / "export", [_lines()])
    ingest_paths([path], layout.root)
    assert merge_split_requests(layout, [DAY], layout.staging_dir("again")) == 0


def test_a_later_export_of_other_requests_reads_no_stored_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests merged by an earlier run are not rebuilt again by a run that does not read
    them: the pass tells from the run's files and the request rows that nothing is split."""
    lines = _lines()
    (middle,) = _cut_mid_request(lines, (0.5,))
    (third,) = _cut_mid_request(lines, (0.75,))
    paths = _write_parts(tmp_path / "export", [lines[:middle], lines[middle:third]])
    ingest_paths(paths, tmp_path / "data")
    rebuilt: list[list[str]] = []
    real = execution_merge._request_events
    monkeypatch.setattr(
        execution_merge,
        "_request_events",
        lambda files, ids: rebuilt.append(ids) or real(files, ids),
    )
    started = {line.split(" ", 2)[1] for line in lines[:third]}
    own = [line for line in lines[third:] if line.split(" ", 2)[1] not in started]
    (later,) = _write_parts(tmp_path / "later", [own])
    summary = ingest_paths([later], tmp_path / "data")
    assert summary.execution_requests_merged == 0
    assert rebuilt == []


def _midnight_request(request_id: str) -> list[str]:
    """A request whose events straddle midnight UTC, as an S3 export writes them."""
    messages = (
        ("2026-11-02T23:59:59.990Z", "Extended Request Id: Xy1="),
        ("2026-11-02T23:59:59.995Z", "Starting execution for request: " + request_id),
        ("2026-11-02T23:59:59.998Z", "HTTP Method: GET, Resource Path: /pets"),
        ("2026-11-03T00:00:00.120Z", "Received response. Status: 200, Integration latency: 120 ms"),
        ("2026-11-03T00:00:00.121Z", "Method completed with status: 200"),
    )
    return [f"{stamp} ({request_id}) {message}\n" for stamp, message in messages]


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_a_request_cut_at_midnight_in_separate_runs_is_one_row(tmp_path: Path, order) -> None:
    """Each part's row is dated by its first event, so the two rows sit in two partitions."""
    lines = _midnight_request("c0ffee00-0000-4000-8000-000000000001")
    (whole,) = _write_parts(tmp_path / "whole", [lines])
    ingest_paths([whole], tmp_path / "whole-data")
    paths = _write_parts(tmp_path / "export", [lines[:3], lines[3:]])
    for index in order:
        ingest_paths([paths[index]], tmp_path / "data")
    assert _requests(tmp_path / "data").equals(_requests(tmp_path / "whole-data"))
