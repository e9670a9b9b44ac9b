"""REST metrics (named by ApiName) beside logs (named by api id), through the API listings.

A small warehouse: REST API `shop` (id shop000001) with three cache-eligible GETs, two REST APIs
both named `twin`, an HTTP API also named `shop` (its metrics carry ApiId, so its name clashes
with nothing), and metrics for each, plus an unlisted `legacy`. Every answer is worked out by
hand; the listings go through the real ingest.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.ingest.pipeline import ingest_paths
from apigw_analytics.query.run import run_query
from apigw_analytics.query.synthetic import write_table
from apigw_analytics.schema import RecordKind

T0 = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
REST_LISTING = {
    "items": [
        {"id": "shop000001", "name": "shop", "createdDate": 1700000000},
        {"id": "twin000001", "name": "twin", "createdDate": 1700000100},
        {"id": "twin000002", "name": "twin", "createdDate": 1700000200},
    ]
}
V2_LISTING = {
    "Items": [
        {
            "ApiId": "http000001",
            "Name": "shop",
            "ProtocolType": "HTTP",
            "CreatedDate": "2023-11-14T22:13:20+00:00",
        }
    ]
}
COMPARED = ("api_id", "log_requests", "metric_requests", "mismatch")
NAMED = ("api_id", "api_name", "metrics_api_match")


def _requests() -> pl.DataFrame:
    rest = {"api_type": "rest", "stage": "prod", "http_method": "GET", "status": 200}
    rows = [
        {**rest, "api_id": "shop000001", "resource_path": "/items", "integration_latency_ms": ms}
        for ms in (None, 20, 30)
    ]
    rows += [
        {**rest, "api_id": api_id, "resource_path": "/pairs", "integration_latency_ms": 10}
        for api_id in ("twin000001", "twin000002")
    ]
    rows.append(
        {"api_id": "http000001", "api_type": "http", "stage": "$default", "route_key": "GET /x"}
        | {"http_method": "GET", "status": 200}
    )
    return pl.DataFrame(
        [
            {**row, "request_id": f"r{index}", "requested_at": T0.replace(second=index)}
            for index, row in enumerate(rows)
        ],
        infer_schema_length=None,
    )


def _points() -> pl.DataFrame:
    point = {"namespace": "AWS/ApiGateway", "timestamp": T0, "period_s": 60, "unit": "Count"}
    series = [
        ({"api_name": "shop", "stage": "prod"}, "Count", "request_count", 3.0),
        ({"api_name": "shop", "stage": "prod"}, "CacheHitCount", "cache_hit_count", 1.0),
        ({"api_name": "shop", "stage": "prod"}, "CacheMissCount", "cache_miss_count", 2.0),
        ({"api_name": "twin", "stage": "prod"}, "Count", "request_count", 2.0),
        ({"api_id": "http000001", "stage": "$default"}, "Count", "request_count", 1.0),
        ({"api_name": "legacy", "stage": "prod"}, "Count", "request_count", 4.0),
    ]
    return pl.DataFrame(
        [
            {**point, **dimensions, "metric_name": name, "metric": metric, "sum": value}
            for dimensions, name, metric, value in series
        ],
        infer_schema_length=None,
    )


def _warehouse(root: Path) -> Path:
    write_table(root, RecordKind.ACCESS_REQUESTS, _requests())
    write_table(root, RecordKind.METRIC_POINTS, _points())
    return root


def _listings(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rest, v2 = folder / "get-rest-apis.json", folder / "get-apis.json"
    rest.write_text(json.dumps(REST_LISTING, indent=4) + "\n")
    v2.write_text(json.dumps(V2_LISTING, indent=4) + "\n")
    return [rest, v2]


@pytest.fixture(scope="module")
def unlisted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _warehouse(tmp_path_factory.mktemp("unlisted"))


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _warehouse(tmp_path_factory.mktemp("listed"))
    summary = ingest_paths(_listings(root.parent / "listings"), root)
    assert summary.rows_by_kind == {"apis": 4}
    return root


def _by_api(frame: pl.DataFrame, columns: tuple[str, ...]) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in frame.select(columns).rows()}


def test_without_a_listing_rest_metrics_stay_on_rows_of_their_name(unlisted: Path) -> None:
    compared = run_query("logs_vs_metrics", data_dir=unlisted)
    assert _by_api(compared, COMPARED) == {
        "shop000001": (3, None, True),
        "shop": (0, 3.0, True),
        "twin000001": (1, None, True),
        "twin000002": (1, None, True),
        "twin": (0, 2.0, True),
        "http000001": (1, 1.0, False),
        "legacy": (0, 4.0, True),
    }
    matches = _by_api(compared, NAMED)
    assert matches["shop"] == ("shop", "unlisted")
    assert matches["http000001"] == (None, "ApiId")
    assert matches["shop000001"] == (None, None)


def test_with_a_listing_rest_metrics_join_their_logs(listed: Path) -> None:
    compared = run_query("logs_vs_metrics", data_dir=listed)
    assert _by_api(compared, COMPARED) == {
        "shop000001": (3, 3.0, False),
        "twin000001": (1, None, True),
        "twin000002": (1, None, True),
        "twin": (0, 2.0, True),
        "http000001": (1, 1.0, False),
        "legacy": (0, 4.0, True),
    }
    assert _by_api(compared, NAMED) == {
        "shop000001": ("shop", "listing"),
        "twin000001": ("twin", None),
        "twin000002": ("twin", None),
        "twin": ("twin", "ambiguous"),
        "http000001": ("shop", "ApiId"),
        "legacy": ("legacy", "unlisted"),
    }


def test_the_api_filter_takes_the_id_for_both_sides(listed: Path) -> None:
    compared = run_query("logs_vs_metrics", {"api": "shop000001"}, data_dir=listed)
    assert compared.select(COMPARED).rows() == [("shop000001", 3, 3.0, False)]


def test_cache_metrics_sit_beside_the_inferred_ratio(listed: Path, unlisted: Path) -> None:
    columns = (
        "api_id", "level", "eligible_requests", "inferred_hits", "integration_calls",
        "metric_hits", "metric_misses", "api_name", "metrics_api_match",
    )  # fmt: skip
    stage = pl.col("level") == "stage"
    joined = run_query("cache_hit_ratio", data_dir=listed).filter(stage)
    assert joined.filter(pl.col("api_id") == "shop000001").select(columns).rows() == [
        ("shop000001", "stage", 3, 1, 2, 1.0, 2.0, "shop", "listing")
    ]
    apart = run_query("cache_hit_ratio", data_dir=unlisted).filter(stage)
    assert apart.filter(pl.col("api_id").str.starts_with("shop")).select(columns).rows() == [
        ("shop", "stage", None, None, None, 1.0, 2.0, "shop", "unlisted"),
        ("shop000001", "stage", 3, 1, 2, None, None, None, None),
    ]


def test_a_name_two_rest_apis_share_is_never_guessed(listed: Path) -> None:
    """`twin` names two REST APIs: its metrics keep their own row, flagged ambiguous, and
    neither API's logs get them."""
    compared = run_query("logs_vs_metrics", data_dir=listed)
    twins = compared.filter(pl.col("api_name") == "twin").sort("api_id")
    assert twins.select("api_id", "metric_requests", "metrics_api_match").rows() == [
        ("twin", 2.0, "ambiguous"),
        ("twin000001", None, None),
        ("twin000002", None, None),
    ]


def test_ingesting_the_listings_again_changes_no_answer(listed: Path, tmp_path: Path) -> None:
    before = run_query("logs_vs_metrics", data_dir=listed)
    again = ingest_paths(_listings(listed.parent / "listings"), listed)
    assert {source.status for source in again.sources} == {"already ingested"}
    saved_later = _listings(tmp_path / "later")
    saved_later[0].write_text(json.dumps(REST_LISTING) + "\n")  # same APIs, other bytes
    later = ingest_paths(saved_later, listed)
    assert [source.status for source in later.sources] == ["ingested", "already ingested"]
    assert later.total("duplicates_dropped") == 3
    assert run_query("logs_vs_metrics", data_dir=listed).equals(before)
