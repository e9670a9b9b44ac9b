"""An execution event that two overlapping exports both hold is stored once.

Exports without CloudWatch event ids (S3 exports, `aws logs tail`, get-log-events) number a
request's events afresh in every file, so an event is known by its request, time, message and
its occurrence among identical events of its file. The sample day's export and real-world logs
from `../shared/realworld` (skipped when absent) are cut into overlapping parts and ingested in
either order, in one run or several: the `execution_events` view then holds what one ingest of
the whole file holds, a line logged twice in one millisecond is still two events, and ingesting
the events again adds nothing.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.ingest.pipeline import ingest_paths
from apigw_analytics.query.run import run_sql

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_EXPORT = ROOT / "sample_logs" / "execution" / "shop-prod"
REALWORLD = ROOT / ".." / "shared" / "realworld"
AUTHORIZER_LOG = (
    REALWORLD / "peter-bonanni-serverless-aws-logs-parser_execution-log-with-authorizer.log"
)
PAYLOADS = (
    REALWORLD / "ericallam-aws-api-gateway-log-parser_execution-log-subscription-payloads.json"
)
_SAMPLE_LINES = 12_000
_IDENTITY = ("request_id", "event_at", "message", "occurrence")


def _sample_lines() -> list[str]:
    (export,) = SAMPLE_EXPORT.glob("*/000000.gz")
    lines = gzip.decompress(export.read_bytes()).decode().splitlines(keepends=True)
    return lines[:_SAMPLE_LINES]


def _realworld(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real-world sample {path.name} not available")
    return path


def _write(folder: Path, parts: list[list[str]]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, lines in enumerate(parts):
        path = folder / f"part-{index}.log"
        path.write_text("".join(lines), encoding="utf-8")
        paths.append(path)
    return paths


def _events(data: Path) -> pl.DataFrame:
    """The view's events by identity (file, line and sequence differ between exports)."""
    return run_sql(
        f"SELECT {', '.join(_IDENTITY)} FROM execution_events ORDER BY ALL", data_dir=data
    )


def _requests(data: Path) -> pl.DataFrame:
    return run_sql(
        "SELECT * EXCLUDE (source_file, source_line) FROM execution_requests ORDER BY request_id",
        data_dir=data,
    )


def _whole(tmp_path: Path, lines: list[str]) -> Path:
    """The warehouse of one ingest of all the lines, as one file."""
    (path,) = _write(tmp_path / "whole", [lines])
    ingest_paths([path], tmp_path / "whole-data")
    return tmp_path / "whole-data"


@pytest.mark.parametrize(
    "runs",
    [[[0, 1]], [[1, 0]], [[0], [1]], [[1], [0]]],
    ids=["one-run", "one-run-reversed", "two-runs", "two-runs-reversed"],
)
def test_overlapping_exports_store_each_event_once(tmp_path: Path, runs) -> None:
    lines = _sample_lines()
    third = len(lines) // 3
    parts = _write(tmp_path / "exports", [lines[: 2 * third], lines[third:]])
    data = tmp_path / "data"
    for run in runs:
        ingest_paths([parts[index] for index in run], data)
    whole = _whole(tmp_path, lines)
    assert _events(data).height == _events(whole).height == len(lines)
    assert _events(data).equals(_events(whole))
    assert _requests(data).equals(_requests(whole))


def test_ingesting_the_events_again_adds_nothing(tmp_path: Path) -> None:
    lines = _sample_lines()
    half = len(lines) // 2
    parts = _write(tmp_path / "exports", [lines[: half + 500], lines[half - 500 :]])
    data = tmp_path / "data"
    ingest_paths(parts, data)
    stored = _events(data)
    again = ingest_paths(parts, data)
    assert not any(again.rows_by_kind.values())
    (whole_file,) = _write(tmp_path / "recut", [lines])
    recut = ingest_paths([whole_file], data)
    assert recut.rows_by_kind.get("execution_events", 0) == 0
    assert recut.total("duplicates_dropped") >= len(lines)
    assert _events(data).equals(stored)


def _with_repeated_line(lines: list[str], index: int) -> list[str]:
    """The lines with one of them logged again right after itself (same time and message)."""
    return [*lines[: index + 1], lines[index], *lines[index + 1 :]]


def test_a_line_logged_twice_in_one_millisecond_stays_two_events(tmp_path: Path) -> None:
    lines = _with_repeated_line(_sample_lines(), 5_000)
    whole = _events(_whole(tmp_path, lines))
    assert whole.height == len(lines)
    assert whole.filter(pl.col("occurrence") == 1).height == 1
    parts = _write(tmp_path / "exports", [lines[:6_000], lines[4_000:]])
    ingest_paths(parts[::-1], tmp_path / "data")
    assert _events(tmp_path / "data").equals(whole)


def test_a_repeated_line_cut_from_its_twin_is_numbered_by_its_own_file(tmp_path: Path) -> None:
    """Occurrence counts within a file: the second of a pair, alone at the head of the next
    part, is that part's first of its kind and so taken for the pair's first."""
    lines = _with_repeated_line(_sample_lines(), 5_000)
    parts = _write(tmp_path / "exports", [lines[:5_001], lines[5_001:]])
    ingest_paths(parts, tmp_path / "data")
    assert _events(tmp_path / "data").height == len(lines) - 1


def test_realworld_authorizer_log_cut_into_overlapping_parts(tmp_path: Path) -> None:
    lines = _realworld(AUTHORIZER_LOG).read_text(encoding="utf-8").splitlines(keepends=True)
    lines = _with_repeated_line(lines, 8)
    whole = _events(_whole(tmp_path, lines))
    assert whole.height == len(lines)
    for order, parts in enumerate(([lines[:18], lines[6:]], [lines[6:], lines[:18]])):
        data = tmp_path / f"data-{order}"
        for path in _write(tmp_path / f"exports-{order}", parts):
            ingest_paths([path], data)
        assert _events(data).equals(whole)


def _payload_lines(payloads: list[dict]) -> list[str]:
    """The payloads' events as an S3 export writes them: `<ISO time> <message>`, no event ids."""
    events = sorted(
        (event["timestamp"], index, event["message"])
        for payload in payloads
        for index, event in enumerate(payload["logEvents"])
    )
    lines = []
    for stamp_ms, _, message in events:
        moment = datetime.fromtimestamp(stamp_ms / 1000, tz=UTC)
        lines.append(f"{moment.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z {message}\n")
    return lines


def test_realworld_subscription_events_exported_twice_without_ids(tmp_path: Path) -> None:
    payloads = json.loads(_realworld(PAYLOADS).read_text(encoding="utf-8"))
    lines = _payload_lines(payloads)
    whole = _events(_whole(tmp_path, lines))
    assert whole.height == len(lines)
    cut = len(lines) // 2
    parts = _write(tmp_path / "exports", [lines[cut - 30 :], lines[: cut + 30]])
    ingest_paths(parts, tmp_path / "data")
    assert _events(tmp_path / "data").equals(whole)
    assert _requests(tmp_path / "data").equals(_requests(tmp_path / "whole-data"))


def test_events_stored_before_the_occurrence_column_count_as_first(tmp_path: Path) -> None:
    """A warehouse written before the column: its files lack it, which reads as 0, so an
    overlapping export ingested now adds only the events that are new."""
    lines = _sample_lines()
    half = len(lines) // 2
    first, second = _write(tmp_path / "exports", [lines[: half + 500], lines[half - 500 :]])
    data = tmp_path / "data"
    ingest_paths([first], data)
    for path in (data / "execution_events").rglob("*.parquet"):
        pl.read_parquet(path).drop("occurrence").write_parquet(path)
    ingest_paths([second], data)
    whole = _whole(tmp_path, lines)
    stored = _events(data).with_columns(pl.col("occurrence").fill_null(0))
    assert stored.sort(_IDENTITY).equals(_events(whole).sort(_IDENTITY))
    assert _requests(data).equals(_requests(whole))
