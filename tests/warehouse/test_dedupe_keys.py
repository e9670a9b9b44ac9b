"""Deduplication keys: distinct records never share a key, even with null parts."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from apigw_analytics.schema import RecordKind, conform
from apigw_analytics.warehouse.writer import dedupe_key


def _keys(kind: RecordKind, rows: list[dict]) -> pl.Series:
    frame = conform(pl.DataFrame(rows), kind)
    return frame.select(dedupe_key(kind)).to_series()


def test_events_without_time_or_request_id_are_all_distinct() -> None:
    rows = [
        {
            "request_id": None,
            "event_at": None,
            "message": f"line {n}",
            "sequence": n,
            "source_file": "a.log",
            "source_line": n,
        }
        for n in range(5)
    ]
    assert _keys(RecordKind.EXECUTION_EVENTS, rows).n_unique() == 5


def test_the_same_timed_event_from_two_exports_shares_a_key() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    event = {"request_id": "r1", "event_at": moment, "message": "Method completed", "sequence": 3}
    keys = _keys(
        RecordKind.EXECUTION_EVENTS,
        [
            {**event, "source_file": "a.gz", "source_line": 1},
            {**event, "source_file": "b.gz", "source_line": 9},
        ],
    )
    assert keys.n_unique() == 1


def test_an_event_is_known_by_its_occurrence_not_its_sequence() -> None:
    """Sequences restart in every file; the n-th identical event of a file is the n-th in
    every export that holds it. A file written before `occurrence` existed reads it as null:
    the first of its kind."""
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    event = {"request_id": "r1", "event_at": moment, "message": "Method completed"}
    keys = _keys(
        RecordKind.EXECUTION_EVENTS,
        [
            {**event, "sequence": 3, "occurrence": 0, "source_file": "a.gz", "source_line": 4},
            {**event, "sequence": 0, "occurrence": 0, "source_file": "b.gz", "source_line": 1},
            {**event, "sequence": 3, "occurrence": None, "source_file": "old.gz"},
            {**event, "sequence": 4, "occurrence": 1, "source_file": "a.gz", "source_line": 5},
            {**event, "sequence": 1, "occurrence": 1, "source_file": "b.gz", "source_line": 2},
        ],
    )
    assert keys.to_list()[:3] == [keys[0]] * 3
    assert keys[3] == keys[4] != keys[0]


def test_metric_points_with_null_dimensions_are_distinct() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "namespace": "AWS/ApiGateway",
            "metric_name": "Count",
            "api_id": api_id,
            "api_name": None,
            "timestamp": moment,
            "period_s": 60,
        }
        for api_id in ("a", "b", None)
    ]
    assert _keys(RecordKind.METRIC_POINTS, rows).n_unique() == 3


def test_access_requests_without_ids_are_never_duplicates() -> None:
    keys = _keys(RecordKind.ACCESS_REQUESTS, [{"status": 200}, {"status": 200}])
    assert keys.null_count() == 2


def test_metric_points_with_other_statistics_are_other_records() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    point = {
        "namespace": "AWS/ApiGateway",
        "metric_name": "Latency",
        "api_name": "shop",
        "timestamp": moment,
        "period_s": 60,
    }
    keys = _keys(
        RecordKind.METRIC_POINTS,
        [{**point, "sum": 10.0}, {**point, "average": 5.0}, {**point, "sum": 10.0}],
    )
    assert keys.n_unique() == 2
