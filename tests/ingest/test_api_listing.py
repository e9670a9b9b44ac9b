"""API listings (`get-rest-apis`, `get-apis`) → the `apis` table, read as the pipeline reads them.

Shapes are those of the AWS CLI reference and its examples: REST `{"items": [{"id", "name",
"createdDate", ...}], "position"}` (createdDate epoch seconds in CLI v1, ISO 8601 in v2) and
HTTP/WebSocket `{"Items": [{"ApiId", "Name", "ProtocolType", "CreatedDate", ...}], "NextToken"}`.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.ingest.formats.api_listing import metric_api_name
from apigw_analytics.ingest.pipeline import IngestSummary, ingest_paths
from apigw_analytics.ingest.registry import Sample, detect_format

REST_PAGE = {
    "items": [
        {
            "apiKeySource": "HEADER",
            "createdDate": "2024-03-01T09:30:00+00:00",
            "endpointConfiguration": {"types": ["REGIONAL"]},
            "id": "a1b2c3d4e5",
            "name": "shop",
        },
        {"createdDate": 1438884790, "id": "12s44z21rb", "name": "My First API"},
    ]
}
V2_PAGE = {
    "Items": [
        {
            "ApiEndpoint": "wss://a1b2c3d4.execute-api.us-west-2.amazonaws.com",
            "ApiId": "a1b2c3d4",
            "ApiKeySelectionExpression": "$request.header.x-api-key",
            "CreatedDate": "2020-04-07T20:21:59Z",
            "Name": "my-websocket-api",
            "ProtocolType": "WEBSOCKET",
            "RouteSelectionExpression": "$request.body.message",
            "Tags": {},
        },
        {
            "ApiEndpoint": "https://a1b2c3d5.execute-api.us-west-2.amazonaws.com",
            "ApiId": "a1b2c3d5",
            "CreatedDate": "2020-04-07T20:23:50Z",
            "Name": "my-http-api",
            "ProtocolType": "HTTP",
            "RouteSelectionExpression": "$request.method $request.path",
            "Tags": {},
        },
    ]
}


def _write(path: Path, *documents: dict) -> Path:
    path.write_text("".join(json.dumps(document, indent=4) + "\n" for document in documents))
    return path


def _ingest(tmp_path: Path, *paths: Path) -> IngestSummary:
    return ingest_paths(list(paths), tmp_path / "data")


def _apis(tmp_path: Path) -> pl.DataFrame:
    files = sorted((tmp_path / "data" / "apis").rglob("*.parquet"))
    return pl.read_parquet(files, hive_partitioning=False).sort("api_id") if files else None


def _quarantine(tmp_path: Path) -> pl.DataFrame:
    files = sorted((tmp_path / "data" / "quarantine").glob("*.parquet"))
    return pl.read_parquet(files).sort("reason")


def test_rest_listing_of_cli_v1_and_v2(tmp_path: Path) -> None:
    summary = _ingest(tmp_path, _write(tmp_path / "get-rest-apis.json", REST_PAGE))
    (source,) = summary.sources
    assert source.format == "apigateway-get-rest-apis"
    assert (source.records_read, source.records_parsed, source.quarantined) == (2, 2, 0)
    assert source.warnings == []
    apis = _apis(tmp_path)
    columns = ("api_id", "api_name", "api_type", "metric_api_name", "created_at")
    v1_created = datetime(2015, 8, 6, 18, 13, 10, tzinfo=UTC)  # epoch 1438884790
    assert apis.select(columns).rows() == [
        ("12s44z21rb", "My First API", "rest", "My First API", v1_created),
        ("a1b2c3d4e5", "shop", "rest", "shop", datetime(2024, 3, 1, 9, 30, tzinfo=UTC)),
    ]
    extra = json.loads(apis.filter(pl.col("api_id") == "a1b2c3d4e5")["extra"][0])
    assert extra == {"apiKeySource": "HEADER", "endpointConfiguration": {"types": ["REGIONAL"]}}


def test_http_and_websocket_listing(tmp_path: Path) -> None:
    summary = _ingest(tmp_path, _write(tmp_path / "get-apis.json", V2_PAGE))
    assert summary.sources[0].format == "apigatewayv2-get-apis"
    apis = _apis(tmp_path)
    columns = ("api_id", "api_name", "api_type", "metric_api_name", "api_endpoint")
    assert apis.select(columns).rows() == [
        ("a1b2c3d4", "my-websocket-api", "websocket", None, V2_PAGE["Items"][0]["ApiEndpoint"]),
        ("a1b2c3d5", "my-http-api", "http", None, V2_PAGE["Items"][1]["ApiEndpoint"]),
    ]
    assert apis["created_at"].to_list() == [
        datetime(2020, 4, 7, 20, 21, 59, tzinfo=UTC),
        datetime(2020, 4, 7, 20, 23, 50, tzinfo=UTC),
    ]


def test_compact_one_line_output_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "rest.json"
    path.write_text(json.dumps(REST_PAGE) + "\n")
    assert _ingest(tmp_path, path).sources[0].records_parsed == 2


def test_pages_in_one_file_or_many(tmp_path: Path) -> None:
    """`--max-items` / `--no-paginate` print one page and where the next starts; every page
    saved is read, and a page that says more follow is a warning."""
    first = {"items": REST_PAGE["items"][:1], "position": "eyJwb3NpdGlvbiI6IDF9"}
    second = {"items": REST_PAGE["items"][1:]}
    together = _ingest(tmp_path / "one", _write(tmp_path / "pages.json", first, second))
    (source,) = together.sources
    assert (source.records_read, source.records_parsed) == (2, 2)
    assert len(source.warnings) == 1
    assert "one page of a longer get-rest-apis listing (position is set)" in source.warnings[0]
    apart = _ingest(
        tmp_path / "two",
        _write(tmp_path / "page-1.json", first),
        _write(tmp_path / "page-2.json", second),
    )
    assert [len(s.warnings) for s in apart.sources] == [1, 0]
    assert (
        _apis(tmp_path / "one")["api_id"].to_list() == _apis(tmp_path / "two")["api_id"].to_list()
    )
    v2_page = {"Items": V2_PAGE["Items"][:1], "NextToken": "abc"}
    summary = _ingest(tmp_path / "v2", _write(tmp_path / "v2.json", v2_page))
    assert "(NextToken is set)" in summary.sources[0].warnings[0]


@pytest.mark.parametrize("document", [{"items": []}, {"Items": []}], ids=["rest", "v2"])
def test_an_empty_listing_is_no_record_and_a_warning(tmp_path: Path, document: dict) -> None:
    summary = _ingest(tmp_path, _write(tmp_path / "empty.json", document))
    (source,) = summary.sources
    assert source.status == "ingested"
    assert (source.records_read, source.records_parsed, source.quarantined) == (0, 0, 0)
    assert "listing holds no APIs" in source.warnings[0]
    assert summary.exit_code == 0
    assert _apis(tmp_path) is None


def test_a_cut_file_fails_with_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "get-rest-apis.json"
    path.write_text(json.dumps(REST_PAGE, indent=4)[:120])
    summary = _ingest(tmp_path, path)
    (source,) = summary.sources
    assert source.status == "failed"
    assert re.match(rf"^{re.escape(str(path))}:\d+: invalid JSON: [^\n]+$", source.error)
    assert summary.exit_code == 4


def test_unusable_apis_are_quarantined_with_their_reason(tmp_path: Path) -> None:
    rest = {
        "items": [
            {"id": "a1b2c3d4e5", "name": "shop"},
            {"name": "no id"},
            {"id": "b1b2c3d4e5"},
            {"id": "c1b2c3d4e5", "name": "when?", "createdDate": "last Tuesday"},
            "not an object",
        ]
    }
    v2 = {"Items": [{"ApiId": "d1b2c3d4e5", "Name": "grpc", "ProtocolType": "GRPC"}]}
    summary = _ingest(
        tmp_path,
        _write(tmp_path / "get-rest-apis.json", rest),
        _write(tmp_path / "get-apis.json", v2),
    )
    assert [s.reconciles for s in summary.sources] == [True, True]
    assert summary.total("records_parsed") == 1
    assert summary.exit_code == 3
    assert _quarantine(tmp_path).select("format", "reason").rows() == [
        ("apigateway-get-rest-apis", "bad createdDate: last Tuesday"),
        ("apigateway-get-rest-apis", "listed API has no id"),
        ("apigateway-get-rest-apis", "listed API has no name"),
        ("apigateway-get-rest-apis", "listed API is not an object"),
        ("apigatewayv2-get-apis", "unknown ProtocolType: GRPC"),
    ]


def test_another_document_read_as_a_listing_is_quarantined(tmp_path: Path) -> None:
    path = _write(tmp_path / "stage.json", {"stageName": "prod", "items": "none"})
    summary = ingest_paths([path], tmp_path / "data", format_name="apigateway-get-rest-apis")
    assert summary.sources[0].quarantined == 1
    assert _quarantine(tmp_path)["reason"].to_list() == ["not a get-rest-apis listing"]


def test_listings_are_told_from_other_json_documents() -> None:
    def detected(document: dict) -> str:
        return detect_format(Sample([json.dumps(document, indent=4)], "json"), "f.json").name

    assert detected(REST_PAGE) == "apigateway-get-rest-apis"
    assert detected(V2_PAGE) == "apigatewayv2-get-apis"
    assert detected({"items": [], "position": "x"}) == "apigateway-get-rest-apis"
    metric_data = {"MetricDataResults": [{"Id": "m1", "Timestamps": [], "Values": []}]}
    assert detected(metric_data) == "cloudwatch-get-metric-data"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("shop", "shop"), ("Café API", "Caf API"), ("ショップ", "a1b2c3d4e5")],
)
def test_the_api_name_cloudwatch_uses(name: str, expected: str) -> None:
    """ApiName is the name without non-ASCII characters; an all-non-ASCII name is the id."""
    assert metric_api_name(name, "a1b2c3d4e5") == expected


def test_reingesting_or_a_second_listing_adds_nothing(tmp_path: Path) -> None:
    listing = _write(tmp_path / "get-rest-apis.json", REST_PAGE)
    first = _ingest(tmp_path, listing)
    again = _ingest(tmp_path, listing)
    assert first.rows_by_kind == {"apis": 2}
    assert again.sources[0].status == "already ingested"
    # The same APIs saved another day, in another layout: every row is a duplicate.
    later = tmp_path / "get-rest-apis-later.json"
    later.write_text(json.dumps({"items": REST_PAGE["items"][::-1]}) + "\n")
    second = _ingest(tmp_path, later)
    assert second.sources[0].duplicates_dropped == 2
    assert second.rows_by_kind.get("apis", 0) == 0
    assert _apis(tmp_path).height == 2


def test_a_renamed_api_is_kept_under_both_names(tmp_path: Path) -> None:
    """Its metrics carry the old name before the rename and the new one after."""
    before = _write(tmp_path / "before.json", {"items": [{"id": "a1b2c3d4e5", "name": "shop"}]})
    after = _write(tmp_path / "after.json", {"items": [{"id": "a1b2c3d4e5", "name": "store"}]})
    _ingest(tmp_path, before, after)
    assert _apis(tmp_path).select("api_id", "api_name").sort("api_name").rows() == [
        ("a1b2c3d4e5", "shop"),
        ("a1b2c3d4e5", "store"),
    ]
