"""Golden tests, one per access-log format and preset: small inputs in data/, rows in golden/.

Run with UPDATE_GOLDEN=1 to rewrite the golden files after an intended change, and review the
diff like code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.ingest.pipeline import ingest_paths

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
GOLDEN = HERE / "golden"

JSON_TEMPLATE = (
    '{"rid":"$context.requestId","when":"$context.requestTimeEpoch",'
    '"verb":"$context.httpMethod","tpl":"$context.resourcePath","code":"$context.status",'
    '"size":"$context.responseLength","took":$context.responseLatency,'
    '"who":"$context.identity.sourceIp","tenant":"$context.authorizer.tenant"}'
)
TEXT_TEMPLATE = (
    "$context.requestId|$context.requestTimeEpoch|$context.httpMethod $context.path|"
    "$context.status|$context.responseLatency|$context.identity.userAgent"
)


@dataclass(frozen=True)
class Case:
    file: str
    format: str
    api_type: str
    rows: int
    template: str | None = None


CASES = [
    Case("json-rest-console.log", "access-json", "rest", 3),
    Case("json-http-console.log", "access-json", "http", 2),
    Case("json-sorted-terraform.log", "access-json", "rest", 2),
    Case("json-unquoted-numbers.log", "access-json", "rest", 3),
    Case("clf-rest.log", "access-clf", "rest", 3),
    Case("clf-rest-no-extended.log", "access-clf", "rest", 2),
    Case("clf-rest-extended-first.log", "access-clf", "rest", 2),
    Case("clf-http.log", "access-clf", "http", 3),
    Case("csv-rest.log", "access-csv", "rest", 2),
    Case("csv-http.log", "access-csv", "http", 2),
    Case("xml-rest.log", "access-xml", "rest", 2),
    Case("xml-http.log", "access-xml", "http", 2),
    Case("template-json.log", "access-template", "rest", 2, JSON_TEMPLATE),
    Case("template-text.log", "access-template", "rest", 2, TEXT_TEMPLATE),
]


def _ingest(case: Case, data_dir: Path):
    return ingest_paths([DATA / case.file], data_dir, access_template=case.template)


@pytest.mark.parametrize("case", CASES, ids=[case.file for case in CASES])
def test_format_golden(case, data_dir, access_rows, to_jsonl, golden):
    summary = _ingest(case, data_dir)
    (report,) = summary.sources
    assert report.error is None
    assert report.format == case.format
    assert report.container == "plain"
    assert report.quarantined == 0, summary.quarantine_reasons
    assert report.reconciles
    rows = access_rows(data_dir)
    assert rows.height == case.rows
    assert set(rows["api_type"]) == {case.api_type}
    assert rows["requested_at"].null_count() == 0
    golden(GOLDEN / f"{Path(case.file).stem}.jsonl", to_jsonl(rows, relative_to=HERE))


def _by_id(rows: pl.DataFrame) -> dict[str, dict]:
    return {row["request_id"]: row for row in rows.iter_rows(named=True)}


def test_clf_times_with_offsets_are_utc(data_dir, access_rows):
    _ingest(Case("clf-rest.log", "", "", 0), data_dir)
    rows = _by_id(access_rows(data_dir))
    third = rows["0f2a6c1e-1111-4c7a-9d55-000000000003"]
    assert third["requested_at"] == datetime(2026, 7, 20, 1, 50, 17, tzinfo=UTC)
    assert third["response_bytes"] is None  # `-`, not 0
    assert third["source_ip"] == "2001:db8::1"
    second = rows["0f2a6c1e-1111-4c7a-9d55-000000000002"]
    assert second["caller"] == "AIDAEXAMPLE"
    assert second["user"] == "arn:aws:iam::123456789012:user/ci"
    assert second["extended_request_id"] == "QmFzZTY0QUFBQUI="
    assert second["resource_path"] == "/pets/{petId}"


def test_json_request_time_offsets(data_dir, access_rows):
    _ingest(Case("json-rest-console.log", "", "", 0), data_dir)
    times = access_rows(data_dir)["requested_at"].to_list()
    # 01:50:15 +0000, 03:50:16 +0200, 21:50:17 -0400 (previous day) are one second apart
    assert times == [
        datetime(2026, 7, 20, 1, 50, 15, tzinfo=UTC),
        datetime(2026, 7, 20, 1, 50, 16, tzinfo=UTC),
        datetime(2026, 7, 20, 1, 50, 17, tzinfo=UTC),
    ]


def test_http_clf_route_key_holds_the_method(data_dir, access_rows):
    _ingest(Case("clf-http.log", "", "", 0), data_dir)
    rows = _by_id(access_rows(data_dir))
    assert rows["GQIVriFLIAMEMsA="]["route_key"] == "GET /pets"
    assert rows["GQIVriFLIAMEMsA="]["http_method"] == "GET"
    assert rows["GQIVriFLIAMEMsB="]["route_key"] == "$default"
    assert rows["GQIVriFLIAMEMsB="]["http_method"] == "POST"
    assert rows["GQIVriFLIAMEMsC="]["route_key"] == "GET /pets/{petId}"
    assert all(row["caller"] is None and row["user"] is None for row in rows.values())


def test_http_json_default_stage(data_dir, access_rows):
    _ingest(Case("json-http-console.log", "", "", 0), data_dir)
    rows = _by_id(access_rows(data_dir))
    assert rows["GQIVriFLIAMEMsB="]["stage"] == "$default"
    assert rows["GQIVriFLIAMEMsB="]["route_key"] == "$default"


def test_unquoted_dash_numbers_are_null(data_dir, access_rows):
    _ingest(Case("json-unquoted-numbers.log", "", "", 0), data_dir)
    rows = _by_id(access_rows(data_dir))
    first, second, third = (rows[f"c0ffee00-0000-4000-8000-00000000000{i}"] for i in (1, 2, 3))
    assert (first["status"], first["response_bytes"], first["integration_latency_ms"]) == (
        200,
        512,
        30,
    )
    assert second["integration_latency_ms"] is None
    assert third["response_bytes"] is None
    assert third["latency_ms"] == 29001
    # requestTimeEpoch in seconds (10 digits) is accepted too
    assert third["requested_at"] == datetime(2026, 7, 20, 1, 50, 17, tzinfo=UTC)


def test_sorted_keys_unknown_keys_kept_in_extra(data_dir, access_rows):
    _ingest(Case("json-sorted-terraform.log", "", "", 0), data_dir)
    rows = _by_id(access_rows(data_dir))
    ok = rows["57021f9a-d6e4-441d-80b0-f3bfa7bbbc6c"]
    denied = rows["57021f9a-d6e4-441d-80b0-f3bfa7bbbc6d"]
    assert ok["requested_at"] == datetime(2026, 7, 20, 1, 50, 15, 218000, tzinfo=UTC)
    assert ok["integration_latency_ms"] == 879
    assert ok["latency_ms"] == 912
    assert json.loads(ok["extra"]) == {"dynamoDBTableName": "-"}
    assert json.loads(denied["extra"]) == {"dynamoDBTableName": "orders"}
    assert denied["error_message"] == "Unauthorized"
    assert denied["integration_latency_ms"] is None
    assert denied["integration_service_status"] is None
    assert denied["user_agent"] is None


def test_xml_entities_are_unescaped(data_dir, access_rows):
    _ingest(Case("xml-rest.log", "", "", 0), data_dir)
    rows = _by_id(access_rows(data_dir))
    assert rows["0f2a6c1e-1111-4c7a-9d55-000000000002"]["caller"] == "AIDA&EXAMPLE"


def test_custom_templates(data_dir, access_rows, tmp_path):
    _ingest(Case("template-json.log", "", "", 0, JSON_TEMPLATE), data_dir)
    rows = _by_id(access_rows(data_dir))
    first = rows["a1b2c3d4-0000-4000-8000-000000000001"]
    assert first["resource_path"] == "/carts/{id}"
    assert first["latency_ms"] == 41
    assert first["source_ip"] == "203.0.113.50"
    assert json.loads(first["extra"]) == {"tenant": "acme"}
    second = rows["a1b2c3d4-0000-4000-8000-000000000002"]
    assert second["latency_ms"] is None
    assert second["response_bytes"] is None

    other = tmp_path / "other"
    _ingest(Case("template-text.log", "", "", 0, TEXT_TEMPLATE), other)
    rows = _by_id(access_rows(other))
    first = rows["a1b2c3d4-0000-4000-8000-000000000001"]
    assert first["path"] == "/prod/carts/9"
    assert first["user_agent"] == 'Mozilla/5.0 (X11; Linux) "quoted"'
    assert first["requested_at"] == datetime(2026, 7, 20, 1, 50, 15, 218000, tzinfo=UTC)
    assert rows["a1b2c3d4-0000-4000-8000-000000000002"]["user_agent"] is None
