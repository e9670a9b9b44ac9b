"""A crafted warehouse with a known throttling episode, a known cache pattern and known 504s.

Written through the real WarehouseWriter; every answer below is worked out by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from apigw_analytics.query.run import open_connection, run_query
from apigw_analytics.schema import RecordKind, conform
from apigw_analytics.warehouse.manifest import ManifestEntry
from apigw_analytics.warehouse.writer import WarehouseWriter

T0 = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


def _request(index: int, at: datetime, method: str, resource: str, **fields) -> dict:
    row = {
        "request_id": f"c-{index}",
        "api_id": "crafted001",
        "api_type": "rest",
        "stage": "prod",
        "requested_at": at,
        "http_method": method,
        "resource_path": resource,
        "status": 200,
        "latency_ms": 30,
        "integration_latency_ms": 20,
    }
    return row | fields


def crafted_rows() -> list[dict]:
    rows: list[dict] = []
    # Throttling: 20 arrivals per second on GET /pets for 10 s; in seconds 3-6, 5 of them are 429.
    for second in range(10):
        for slot in range(20):
            throttled = 3 <= second <= 6 and slot < 5
            at = T0 + timedelta(seconds=second, milliseconds=slot * 40)
            extra = {"api_key_id": "k-hot"}
            if throttled:
                extra |= {
                    "status": 429,
                    "error_response_type": "THROTTLED",
                    "integration_latency_ms": None,
                    "latency_ms": 2,
                }
            rows.append(_request(len(rows), at, "GET", "/pets", **extra))
    # A lone quota 429 five minutes later: a second episode.
    rows.append(
        _request(
            len(rows),
            T0 + timedelta(minutes=5),
            "POST",
            "/orders",
            status=429,
            error_response_type="QUOTA_EXCEEDED",
            api_key_id="k-other",
            integration_latency_ms=None,
            latency_ms=1,
        )
    )
    # Cache: 10 GETs of /items, 6 answered without an integration call. A mock: 4 GETs of
    # /status, none calling an integration, so no cache ratio can be inferred for it.
    for resource, minute, count, uncalled in (("/items", 10, 10, 6), ("/status", 12, 4, 4)):
        for index in range(count):
            rows.append(
                _request(
                    len(rows),
                    T0 + timedelta(minutes=minute, seconds=index),
                    "GET",
                    resource,
                    integration_latency_ms=None if index < uncalled else 50,
                )
            )
    # Timeouts: 3 of 10 POST /slow end in 504 after 29 s; the others take 1 s.
    for index in range(10):
        timed_out = index < 3
        rows.append(
            _request(
                len(rows),
                T0 + timedelta(minutes=20, seconds=index),
                "POST",
                "/slow",
                status=504 if timed_out else 200,
                error_response_type="INTEGRATION_TIMEOUT" if timed_out else None,
                integration_latency_ms=29_000 if timed_out else 1_000,
                latency_ms=29_010 if timed_out else 1_010,
            )
        )
    # An HTTP API's default route answers any method: 3 GETs and 2 POSTs in one second.
    for index in range(5):
        rows.append(
            _request(
                len(rows),
                T0 + timedelta(minutes=30, milliseconds=index * 100),
                "GET" if index < 3 else "POST",
                None,
                api_id="crafthttp1",
                api_type="http",
                route_key="$default",
            )
        )
    return rows


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("crafted")
    frame = conform(
        pl.DataFrame(crafted_rows(), infer_schema_length=None), RecordKind.ACCESS_REQUESTS
    )
    with WarehouseWriter(root) as writer:
        writer.stage(RecordKind.ACCESS_REQUESTS, frame)
        writer.commit_source(
            ManifestEntry(
                content_hash="crafted",
                path="crafted",
                size_bytes=0,
                container="test",
                formats=[],
                records_read=frame.height,
            )
        )
    return open_connection(root)


def test_the_throttling_episodes_are_found_exactly(crafted) -> None:
    episodes = run_query("throttling_episodes", connection=crafted)
    assert episodes.select(
        "episode_start",
        "episode_end",
        "duration_s",
        "requests",
        "throttled_429",
        "peak_429_per_s",
        "peak_arrivals_per_s",
        "top_route",
        "top_api_key",
    ).rows() == [
        (
            T0 + timedelta(seconds=3),
            T0 + timedelta(seconds=7),
            4,
            80,
            20,
            5,
            20,
            "GET /pets",
            "k-hot",
        ),
        (
            T0 + timedelta(minutes=5),
            T0 + timedelta(minutes=5, seconds=1),
            1,
            1,
            1,
            1,
            1,
            "POST /orders",
            "k-other",
        ),
    ]


def test_throttled_and_quota_429s_are_told_apart(crafted) -> None:
    by_route = run_query("throttling_by_route", connection=crafted)
    assert by_route.select(
        "resource_path", "http_method", "throttled_429", "throttled", "quota_exceeded"
    ).rows() == [("/pets", "GET", 20, 20, 0), ("/orders", "POST", 1, 0, 1)]


def test_the_cache_pattern_is_inferred(crafted) -> None:
    cache = run_query("cache_hit_ratio", connection=crafted).filter(
        pl.col("resource_path") == "/items"
    )
    assert cache.select(
        "level", "eligible_requests", "inferred_hits", "integration_calls", "inferred_hit_ratio"
    ).rows() == [("method", 10, 6, 4, 0.6)]


def test_a_route_that_never_calls_its_integration_gets_no_inferred_ratio(crafted) -> None:
    cache = run_query("cache_hit_ratio", connection=crafted).filter(
        pl.col("api_id") == "crafted001"
    )
    columns = ("eligible_requests", "inferred_hits", "uninferred_requests", "inferred_hit_ratio")
    by_route = {row[0]: row[1:] for row in cache.select("resource_path", *columns).rows()}
    assert by_route["/status"] == (4, None, 4, None)
    # The stage row counts /status as uninferred and leaves it out of the ratio:
    # hits 6 (/items); calls 4 (/items) + 180 (/pets: 200 arrivals less 20 429s).
    assert by_route[None] == (10 + 4 + 180, 6, 4, 6 / (6 + 4 + 180))


def test_the_504s_are_integration_timeouts(crafted) -> None:
    causes = run_query("errors_5xx_causes", connection=crafted)
    assert causes.select("route", "status", "cause", "evidence", "server_errors_5xx").rows() == [
        ("POST /slow", 504, "integration_timeout", "access_log", 3)
    ]


def test_the_slow_route_is_near_its_timeout(crafted) -> None:
    near = run_query("near_timeout_routes", {"warn_share": 0.8}, connection=crafted)
    flagged = near.filter(pl.col("near_timeout")).select("route", "timeouts_504").rows()
    assert flagged == [("POST /slow", 3)]


def test_a_default_route_has_one_peak_across_its_methods(crafted) -> None:
    peaks = run_query("peak_arrival_rate", {"api": "crafthttp1"}, connection=crafted)
    assert peaks.select("route", "peak_arrivals_per_s", "requests").rows() == [("$default", 5, 5)]


def test_filters_narrow_every_question(crafted) -> None:
    only_orders = run_query(
        "throttling_by_api_key",
        {"route": "POST /orders", "end": "2024-06-01T11:00:00Z"},
        connection=crafted,
    )
    assert only_orders.select("api_key_id", "quota_exceeded").rows() == [("k-other", 1)]
    outside = run_query("throttling_by_api_key", {"start": "2024-06-02"}, connection=crafted)
    assert outside.height == 0
