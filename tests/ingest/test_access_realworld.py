"""Every real-world access-log sample ingests with nothing quarantined and the right values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.ingest.pipeline import ingest_paths

pytestmark = pytest.mark.realworld

ACCESS_SAMPLES = {
    "elastic-integrations_apigateway-rest-access.jsonl": ("plain", 5),
    "elastic-integrations_apigateway-http-access.jsonl": ("plain", 5),
    "elastic-integrations_apigateway-websocket-access.jsonl": ("plain", 4),
    "jastek69-SEIR-Serverless-SOAR_rest-access-log_aws-logs-tail.txt": ("logs-tail", 14),
    "ministryofjustice-mpe-pr3807_rest-access-log-console-copy.txt": ("console-copy", 1),
    "elastic-integrations_awsfirehose-apigateway-access-log-records.json": ("cli-log-events", 3),
}


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _ingest_one(realworld_dir: Path, data_dir: Path, name: str, access_rows) -> pl.DataFrame:
    summary = ingest_paths([realworld_dir / name], data_dir)
    (report,) = summary.sources
    expected_container, expected_records = ACCESS_SAMPLES[name]
    assert report.error is None
    assert report.status == "ingested"
    assert report.container == expected_container
    assert report.format == "access-json"
    assert report.records_read == expected_records
    assert report.quarantined == 0
    assert report.reconciles
    assert summary.exit_code == 0
    rows = access_rows(data_dir)
    assert rows.height == expected_records
    return rows


def _row(rows: pl.DataFrame, request_id: str) -> dict:
    found = rows.filter(pl.col("request_id") == request_id)
    assert found.height == 1, f"{request_id}: {found.height} rows"
    return found.row(0, named=True)


@pytest.mark.parametrize("name", sorted(ACCESS_SAMPLES))
def test_sample_ingests_with_nothing_quarantined(realworld_dir, data_dir, access_rows, name):
    rows = _ingest_one(realworld_dir, data_dir, name, access_rows)
    assert rows["requested_at"].null_count() == 0
    assert rows["status"].null_count() == 0
    assert set(rows["source_file"]) == {str(realworld_dir / name)}


def test_rest_console_preset(realworld_dir, data_dir, access_rows):
    name = "elastic-integrations_apigateway-rest-access.jsonl"
    rows = _ingest_one(realworld_dir, data_dir, name, access_rows)
    assert set(rows["api_type"]) == {"rest"}
    first = _row(rows, "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5")
    assert first["source_line"] == 1
    assert first["status"] == 200
    assert first["response_bytes"] == 184
    assert first["source_ip"] == "1.128.0.0"
    assert first["http_method"] == "GET"
    assert first["resource_path"] == "/pets"
    assert first["protocol"] == "HTTP/1.1"
    assert first["requested_at"] == _utc(2023, 6, 10, 15, 36, 28)
    # `-` is "no value": null, never 0 or the text "-"
    assert first["caller"] is None
    assert first["user"] is None
    assert first["route_key"] is None
    second = _row(rows, "caa4a500-2651-4476-aa1f-a639b858819b")
    assert second["resource_path"] == "/pets/{petId}"
    assert second["response_bytes"] == 49
    assert rows.schema["status"] == pl.Int32
    assert rows.schema["response_bytes"] == pl.Int64
    # later lines add stage/apiId/domainName
    assert rows["stage"].drop_nulls().len() >= 1


def test_http_console_preset(realworld_dir, data_dir, access_rows):
    name = "elastic-integrations_apigateway-http-access.jsonl"
    rows = _ingest_one(realworld_dir, data_dir, name, access_rows)
    assert set(rows["api_type"]) == {"http"}
    first = _row(rows, "GQIVriFLIAMEMsA=")
    assert first["route_key"] == "GET /"
    assert first["resource_path"] is None
    assert first["status"] == 200
    assert first["response_bytes"] == 47140
    assert first["requested_at"] == _utc(2023, 6, 9, 12, 54, 8)
    stages = set(rows["stage"].drop_nulls())
    assert stages <= {"$default"}


def test_websocket_with_dashes(realworld_dir, data_dir, access_rows):
    name = "elastic-integrations_apigateway-websocket-access.jsonl"
    rows = _ingest_one(realworld_dir, data_dir, name, access_rows)
    assert set(rows["api_type"]) == {"websocket"}
    rejected = _row(rows, "177a5660-9b20-4614-b620-51dd4d56fb4c")
    assert rejected["status"] == 403
    assert rejected["event_type"] is None
    assert rejected["route_key"] is None
    assert rejected["connection_id"] is None
    assert rejected["caller"] is None
    connect = _row(rows, "Iq9gwFDNoAMFo1A=")
    assert connect["event_type"] == "CONNECT"
    assert connect["route_key"] == "$connect"
    assert connect["connection_id"] == "Iq8gj1UmIAMCKpA="
    assert connect["stage"] == "production"
    assert connect["api_id"] == "z1ctxygne5"
    assert connect["domain_name"] == "z1ctxygne5.execute-api.us-east-1.amazonaws.com"
    assert connect["status"] == 500
    assert connect["requested_at"] == _utc(2023, 7, 26, 12, 20, 46)


def test_logs_tail_sorted_keys_and_extra(realworld_dir, data_dir, access_rows):
    name = "jastek69-SEIR-Serverless-SOAR_rest-access-log_aws-logs-tail.txt"
    rows = _ingest_one(realworld_dir, data_dir, name, access_rows)
    assert set(rows["api_type"]) == {"rest"}
    first = _row(rows, "57021f9a-d6e4-441d-80b0-f3bfa7bbbc6c")
    assert first["source_line"] == 1
    assert first["extended_request_id"] == "AyDBtGT_vHcEQHA="
    assert first["api_id"] == "d2zxhf2ieg"
    assert first["stage"] == "prod"
    assert first["status"] == 403
    assert first["response_bytes"] == 50
    assert first["integration_latency_ms"] == 879
    assert first["source_ip"] == "76.33.40.125"
    assert first["user_agent"] == "curl/8.10.1"
    assert first["resource_path"] == "/PythonResource"
    assert first["path"] == "/prod/PythonResource"
    assert first["waf_response_code"] == "WAF_ALLOW"
    assert first["error_message"] is None
    # requestTimeEpoch (ms) wins over the second-resolution requestTime
    assert first["requested_at"] == _utc(2026, 7, 20, 1, 50, 15, 218000)
    assert first["log_stream"] == "ae862e76abfb8de2e734cc3e8d76ae59"
    extra = json.loads(first["extra"])
    assert {"dynamoDBErrorMessage", "dynamoDBItemId", "dynamoDBOperation"} <= set(extra)
    assert "webAclArn" in extra
    assert set(rows["status"]) >= {200, 401, 403}


def test_console_copy_local_time(realworld_dir, data_dir, access_rows):
    name = "ministryofjustice-mpe-pr3807_rest-access-log-console-copy.txt"
    rows = _ingest_one(realworld_dir, data_dir, name, access_rows)
    (row,) = rows.iter_rows(named=True)
    assert row["request_id"] == "a4188e34-1104-424e-9907-eebbf55dd662"
    # the copy's header is local time (+01:00); requestTime 13:40:57 +0000, epoch has the ms
    assert row["requested_at"] == _utc(2023, 10, 27, 13, 40, 57, 744000)
    assert row["http_method"] == "POST"
    assert row["status"] == 400
    assert row["response_bytes"] == 87
    assert row["source_ip"] == "51.14.4.225"
    assert row["path"] == "/development/data-product/test_product1/table/%c2%a3/schema"
    assert row["resource_path"] == "/data-product/{data-product-name}/table/{table-name}/schema"
    assert row["caller"] is None
    assert row["user"] is None
    assert row["api_type"] == "rest"


def test_firehose_records_of_three_api_types(realworld_dir, data_dir, access_rows):
    name = "elastic-integrations_awsfirehose-apigateway-access-log-records.json"
    rows = _ingest_one(realworld_dir, data_dir, name, access_rows)
    http = _row(rows, "GQIVriFLIAMEMsA=")
    assert http["route_key"] == "GET /"
    assert http["api_type"] == "http"
    # The preset logs neither; the HTTP API's log stream `6am6mj7iqf_.default-...` names both.
    assert (http["api_id"], http["stage"]) == ("6am6mj7iqf", "$default")
    assert http["log_group"] == "aws/api-gateway/test-HTTP"
    rest = _row(rows, "48752d0f-c99d-4cfa-a5a7-f3c6834d19e5")
    assert rest["resource_path"] == "/pets"
    assert rest["api_type"] == "rest"
    websocket = _row(rows, "Iq9gjE_aIAMFZTg=")
    assert websocket["route_key"] == "$connect"
    assert websocket["api_type"] == "websocket"
    assert websocket["requested_at"] == _utc(2023, 7, 26, 12, 20, 44)


def test_all_samples_together_count_shared_requests_once(realworld_dir, data_dir, access_rows):
    """The Firehose file repeats three requests of the JSONL files: one row each."""
    summary = ingest_paths([realworld_dir / name for name in sorted(ACCESS_SAMPLES)], data_dir)
    assert summary.exit_code == 0
    assert all(source.reconciles for source in summary.sources)
    rows = access_rows(data_dir)
    total = sum(records for _, records in ACCESS_SAMPLES.values())
    assert summary.total("duplicates_dropped") == 3
    assert rows.height == total - 3
    keys = rows.select(pl.coalesce("extended_request_id", "request_id"))
    assert keys.n_unique() == rows.height
