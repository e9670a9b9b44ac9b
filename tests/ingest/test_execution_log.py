"""The execution-log format over the real-world samples and hand-made edge cases.

Real samples are read from `../shared/realworld` (skipped when absent) through the same
container detection the pipeline uses, then through the parser, chunk by chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.ingest.containers import open_source
from apigw_analytics.ingest.registry import ParseContext, Sample, get_format
from apigw_analytics.schema import RecordKind, validate

REALWORLD = Path(__file__).resolve().parents[2] / ".." / "shared" / "realworld"


@dataclass
class Parsed:
    """Everything a source produced, concatenated over feed() and finish()."""

    events: pl.DataFrame
    requests: pl.DataFrame
    quarantine: pl.DataFrame
    skipped: int
    records_parsed: int
    lines_in: int

    def request(self, request_id: str) -> dict:
        rows = self.requests.filter(pl.col("request_id") == request_id).to_dicts()
        assert len(rows) == 1, f"{request_id}: {len(rows)} rows"
        return rows[0]


def parse_chunks(chunks: list[pl.DataFrame], log_group: str | None = None) -> Parsed:
    """Feed the chunks in turn, finish, and check the frames against the schema."""
    parser = get_format("execution-log").open_parser(
        ParseContext(source_file="test.log", log_group=log_group)
    )
    results = [parser.feed(chunk) for chunk in chunks]
    results.append(parser.finish())
    events = pl.concat([r.tables[RecordKind.EXECUTION_EVENTS] for r in results])
    requests = results[-1].tables[RecordKind.EXECUTION_REQUESTS]
    validate(events, RecordKind.EXECUTION_EVENTS)
    validate(requests, RecordKind.EXECUTION_REQUESTS)
    return Parsed(
        events=events,
        requests=requests,
        quarantine=pl.concat([r.quarantine for r in results if r.quarantine is not None]),
        skipped=sum(r.skipped for r in results),
        records_parsed=sum(r.records_parsed for r in results),
        lines_in=sum(chunk.height for chunk in chunks),
    )


def parse_file(path: Path, chunk_rows: int | None = None) -> Parsed:
    """Open the file's container and parse it, optionally re-cut into chunks of `chunk_rows`."""
    source = open_source(path)
    frames = list(source.chunks)
    if chunk_rows is not None:
        whole = pl.concat(frames)
        frames = [whole.slice(start, chunk_rows) for start in range(0, whole.height, chunk_rows)]
    return parse_chunks(frames, log_group=source.log_group)


def parse_text(tmp_path: Path, text: str, chunk_rows: int | None = None) -> Parsed:
    """Parse text written to a file (so the real container detection applies)."""
    path = tmp_path / "execution.log"
    path.write_text(text, encoding="utf-8")
    return parse_file(path, chunk_rows)


def assert_reconciled(parsed: Parsed) -> None:
    """Every event fed is an event row, a quarantined record or a skipped line — once."""
    assert parsed.records_parsed == parsed.events.height
    assert parsed.lines_in == parsed.events.height + parsed.quarantine.height + parsed.skipped


def _sample(name: str) -> Path:
    if not REALWORLD.is_dir():
        pytest.skip(f"real-world samples not found at {REALWORLD}")
    return REALWORLD / name


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


SAMPLES = [
    "tmobile-jazz_execution-log-subscription-payload.json",
    "ericallam-aws-api-gateway-log-parser_execution-log-subscription-payloads.json",
    "sakazuki-lambda-ngrok_execution-log-timeout-and-malformed.log",
    "rotemtam-serverless-aws-logs-parser_execution-log-timestamped.log",
    "peter-bonanni-serverless-aws-logs-parser_execution-log-with-authorizer.log",
    "juliancazaux-cu-challenge_test-invoke-execution-log-2024.log",
]


# --- real-world samples ---------------------------------------------------------------------


@pytest.mark.realworld
@pytest.mark.parametrize("name", SAMPLES)
def test_sample_parses_with_nothing_quarantined(name):
    parsed = parse_file(_sample(name))
    assert parsed.quarantine.is_empty()
    assert_reconciled(parsed)
    assert parsed.requests.height >= 1
    assert parsed.events["message_kind"].is_in(["other"]).sum() == 0


@pytest.mark.realworld
@pytest.mark.parametrize("name", SAMPLES)
def test_sample_is_detected_as_execution_log(name):
    source = open_source(_sample(name))
    messages = pl.concat(list(source.chunks))["message"].head(200).to_list()
    sample = Sample(messages=messages, container=source.container, log_group=source.log_group)
    assert get_format("execution-log").sniff(sample) >= 0.9


@pytest.mark.realworld
@pytest.mark.parametrize(
    "name",
    [
        "elastic-integrations_apigateway-rest-access.jsonl",
        "elastic-integrations_apigateway-http-access.jsonl",
        "jastek69-SEIR-Serverless-SOAR_rest-access-log_aws-logs-tail.txt",
        "aws-cli-examples_cloudwatch-get-metric-statistics-output.json",
        "awsdocs-cloudwatch-user-guide_metric-stream-json-example.json",
    ],
)
def test_access_logs_and_metrics_do_not_sniff_as_execution_logs(name):
    source = open_source(_sample(name))
    messages = pl.concat(list(source.chunks))["message"].head(200).to_list()
    sample = Sample(messages=messages, container=source.container, log_group=source.log_group)
    assert get_format("execution-log").sniff(sample) < 0.05


@pytest.mark.realworld
def test_ericallam_throttle_timeout_malformed_and_success():
    parsed = parse_file(_sample(SAMPLES[1]))
    assert parsed.requests.height == 6
    throttled = parsed.request("4f3e3b0f-39db-11e9-9c2e-5bd7c2de5998")
    assert throttled["status"] == 429
    assert throttled["error_class"] == "throttled"  # "Key throttle limit … for RestApi", no key
    assert throttled["usage_plan_outcome"] == "throttled"
    assert (throttled["throttle_rate_limit_rps"], throttled["throttle_burst_limit"]) == (1.0, 1)
    assert throttled["resource_id"] == "k0w8mc"
    assert throttled["http_method"] == "POST"
    assert (throttled["api_id"], throttled["stage"], throttled["is_canary"]) == (
        "uwe3g5jm54", "Prod", False)  # fmt: skip
    assert throttled["extended_request_id"] == "Vts2FFmArPEFh8g="
    timeout = parsed.request("286364ab-3a83-11e9-8dc8-db3cf4c83204")
    assert (timeout["status"], timeout["error_class"]) == (502, "lambda_function_timeout")
    assert timeout["integration_latency_ms"] == 11029
    assert timeout["integration_kind"] == "lambda"
    assert timeout["xray_trace_id"] == "1-5c7674f4-a3491d0a9c8012c191821b83"
    assert "Task timed out" in timeout["error_message"]
    malformed = parsed.request("5cb7ee58-39e6-11e9-be7e-29aff96747f2")
    assert (malformed["status"], malformed["error_class"]) == (502, "malformed_proxy_response")
    assert malformed["integration_request_id"] == "15aba189-6719-4153-b214-46824db50ffa"
    success = parsed.request("60aa5e11-39e6-11e9-be7e-29aff96747f2")
    assert (success["status"], success["error_class"]) == (200, "none")
    assert (success["http_method"], success["resource_path"], success["path"]) == (
        "POST", "/echo", "/echo")  # fmt: skip
    assert success["usage_plan_outcome"] == "not_required"
    assert success["first_event_at"] == _utc(2019, 2, 26, 16, 48, 43, 855000)
    assert success["last_event_at"] == _utc(2019, 2, 26, 16, 48, 43, 869000)
    assert success["event_count"] == 23
    assert success["truncated_event_count"] == 2  # cut headers end in […] but not [TRUNCATED]
    events = parsed.events.filter(pl.col("request_id") == "60aa5e11-39e6-11e9-be7e-29aff96747f2")
    assert events["sequence"].to_list() == list(range(23))
    assert events["event_id"].null_count() == 0


@pytest.mark.realworld
def test_sakazuki_timeout_and_lambda_throttle_behind_malformed_response():
    parsed = parse_file(_sample(SAMPLES[2]))
    timeout = parsed.request("8a699106-8d59-11e8-905d-b3747276ed60")
    assert (timeout["status"], timeout["error_class"]) == (504, "integration_timeout")
    throttled = parsed.request("a5e3de30-8d59-11e8-b2f5-9339f1c001b0")
    assert throttled["status"] == 502
    assert throttled["error_class"] == "lambda_throttled"  # Lambda said Rate Exceeded first
    assert throttled["integration_latency_ms"] == 5
    body = parsed.events.filter(pl.col("message_kind") == "endpoint_response_body")["message"][0]
    assert body.endswith('"message": "Rate Exceeded."\n}')  # multi-line body kept whole
    assert parsed.skipped == 6  # five continuation lines and one blank line


@pytest.mark.realworld
def test_rotemtam_2016_log_groups_unprefixed_lines_by_request():
    parsed = parse_file(_sample(SAMPLES[3]))
    assert parsed.requests["request_id"].to_list() == [
        "9537d573-87c5-11e6-b3e4-6f23bc206746",
        "9ac0eacd-87c5-11e6-b30c-19c3d9849330",
    ]
    assert parsed.events["request_id"].null_count() == 0
    first = parsed.request("9ac0eacd-87c5-11e6-b30c-19c3d9849330")
    assert (first["status"], first["api_id"], first["stage"]) == (200, "ulhoxnm2x2", "dev")
    assert first["api_key"] == "**********************************bMZHBg"
    assert first["usage_plan_outcome"] == "authorized"
    assert first["integration_kind"] == "lambda"
    assert first["truncated_event_count"] == 4
    assert parsed.request("9537d573-87c5-11e6-b3e4-6f23bc206746")["status"] == 400


@pytest.mark.realworld
def test_peter_bonanni_authorizer_flow():
    parsed = parse_file(_sample(SAMPLES[4]))
    row = parsed.request("cf101403-4a17-11e7-935f-35dfc4618b7d")
    assert row["authorizer_invoked"] is True
    assert (row["authorizer_id"], row["authorizer_result"]) == ("elkw5b", "allow")
    assert row["authorizer_latency_ms"] == 28
    # the authorizer's own Lambda call is not the integration's endpoint
    assert row["endpoint_uri"].endswith("function:extension_state/invocations")
    assert (row["resource_path"], row["path"], row["status"]) == ("/{resource+}", "/user_info", 200)
    assert (row["api_id"], row["stage"]) == ("oo8kadh853", "Test")
    assert row["truncated_event_count"] == 4


@pytest.mark.realworld
def test_juliancazaux_2024_test_invoke_import_error():
    parsed = parse_file(_sample(SAMPLES[5]))
    row = parsed.requests.to_dicts()[0]
    assert parsed.requests.height == 1
    assert (row["status"], row["error_class"]) == (502, "lambda_function_error")
    assert (row["endpoint_status"], row["integration_latency_ms"]) == (200, 426)
    assert row["first_event_at"] == _utc(2024, 6, 5, 19, 31, 5)
    assert row["integration_request_id"] == "7097a698-d600-46fe-b5bc-38df32f3c557"
    error = parsed.events.filter(pl.col("message_kind") == "lambda_function_error")["message"][0]
    assert error.count("\n") == 7  # the message and its seven continuation lines
    assert error.endswith("Lambda request id: 7097a698-d600-46fe-b5bc-38df32f3c557")


@pytest.mark.realworld
def test_tmobile_subscription_payload_mock_requests():
    parsed = parse_file(_sample(SAMPLES[0]))
    assert parsed.requests["integration_kind"].to_list() == ["mock", "mock"]
    assert parsed.requests["status"].to_list() == [200, 200]
    assert set(parsed.events["log_stream"]) == {"2a38a4a9316c49e5a833517c45d31070"}
    assert parsed.requests["resource_path"].to_list() == ["/jazztest/abc"] * 2
    assert parsed.requests["path"].to_list() == ["/api/jazztest/abc"] * 2


@pytest.mark.realworld
@pytest.mark.parametrize("name", SAMPLES[2:])
def test_sample_gives_the_same_rows_in_one_line_chunks(name):
    whole = parse_file(_sample(name))
    cut = parse_file(_sample(name), chunk_rows=1)
    assert_reconciled(cut)
    assert cut.events.equals(whole.events)
    assert cut.requests.equals(whole.requests)


# --- hand-made edge cases -------------------------------------------------------------------

A = "aaaaaaaa-0000-11e9-0000-000000000001"
B = "bbbbbbbb-0000-11e9-0000-000000000002"
LAMBDA_URI = (
    "https://lambda.eu-west-2.amazonaws.com/2015-03-31/functions/"
    "arn:aws:lambda:eu-west-2:123456789012:function:f/invocations"
)


def _lines(*pairs: tuple[str, str]) -> str:
    return "".join(f"({rid}) {message}\n" for rid, message in pairs)


def test_interleaved_requests_are_grouped_by_request_id(tmp_path):
    text = _lines(
        (A, f"Verifying Usage Plan for request: {A}. API Key:  API Stage: abc1234567/prod"),
        (B, f"Verifying Usage Plan for request: {B}. API Key:  API Stage: abc1234567/prod"),
        (A, f"Starting execution for request: {A}"),
        (B, "Key throttle limit exceeded for RestApi abc1234567, Stage prod, Resource r1, "
            "HttpMethod GET. Limit: 1.00 Burst: 1"),
        (A, "HTTP Method: GET, Resource Path: /pets/1"),
        (B, "Method completed with status: 429"),
        (A, f"Endpoint request URI: {LAMBDA_URI}"),
        (A, "Received response. Status: 200, Integration latency: 31 ms"),
        (A, "Method completed with status: 200"),
    )  # fmt: skip
    parsed = parse_text(tmp_path, text, chunk_rows=2)
    assert_reconciled(parsed)
    a, b = parsed.request(A), parsed.request(B)
    assert (a["status"], a["path"], a["integration_latency_ms"]) == (200, "/pets/1", 31)
    assert (a["event_count"], a["api_id"], a["stage"]) == (6, "abc1234567", "prod")
    assert (b["status"], b["error_class"], b["event_count"]) == (429, "throttled", 3)
    sequences = parsed.events.group_by("request_id").agg(pl.col("sequence"))
    for row in sequences.iter_rows():
        assert row[1] == list(range(len(row[1])))


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 5, None])
def test_multi_line_message_across_chunk_boundaries(tmp_path, chunk_rows):
    text = (
        f"({A}) Endpoint response body before transformations:\n"
        "{\n"
        '    "message": "Rate Exceeded."\n'
        "}\n"
        "\n"
        f"({A}) Method completed with status: 502\n"
    )
    parsed = parse_text(tmp_path, text, chunk_rows=chunk_rows)
    assert_reconciled(parsed)
    assert parsed.events["message"].to_list() == [
        'Endpoint response body before transformations:\n{\n    "message": "Rate Exceeded."\n}',
        "Method completed with status: 502",
    ]
    assert parsed.skipped == 4
    assert parsed.events["source_line"].to_list() == [1, 6]


def test_garbage_is_kept_never_lost(tmp_path):
    text = (
        "@@@ garbage before any message\n"
        + _lines((A, f"Starting execution for request: {A}"), (A, "%%% garbage with a prefix"))
        + "garbage without a prefix continues the message before it\n"
        + _lines((A, "Method completed with status: 200"))
    )
    parsed = parse_text(tmp_path, text)
    assert_reconciled(parsed)
    assert parsed.quarantine["record"].to_list() == ["@@@ garbage before any message"]
    assert parsed.quarantine["source_line"].to_list() == [1]
    other = parsed.events.filter(pl.col("message_kind") == "other")
    assert other["request_id"].to_list() == [A]
    assert other["message"][0].endswith(
        "\ngarbage without a prefix continues the message before it"
    )
    assert parsed.request(A)["status"] == 200


def test_forced_on_an_access_log_everything_is_quarantined(tmp_path):
    access = '{"requestId":"x","status":"200"}\n' * 3 + "1.2.3.4 - - [01/Jan/2024] GET\n"
    parsed = parse_text(tmp_path, access)
    assert_reconciled(parsed)
    assert parsed.events.is_empty() and parsed.requests.is_empty()
    assert parsed.quarantine.height == 4
    assert parsed.quarantine["reason"].str.contains("not an execution-log message").all()


def test_timestamped_access_log_lines_are_quarantined_not_events(tmp_path):
    text = '2024-01-01T00:00:00.000Z {"requestId":"x","status":"200"}\n' * 2
    parsed = parse_text(tmp_path, text)
    assert_reconciled(parsed)
    assert parsed.events.is_empty()
    assert parsed.quarantine["reason"].str.contains("belongs to no request").all()


def test_usage_plan_key_throttle_and_quota_values(tmp_path):
    key = "**********bMZHBg"
    text = _lines(
        (A, f"Verifying Usage Plan for request: {A}. API Key: {key} API Stage: abc1234567/prod"),
        (A, f"API Key {key} exceeded throttle limit for API Stage abc1234567/prod: Key throttle "
            "limit exceeded for Usage Plan ID pl4n1d, RestApi abc1234567, Stage prod, Resource "
            "r1, HttpMethod GET. Limit: 5.00 Burst: 10"),
        (A, "Method completed with status: 429"),
        (B, f"API Key {key} exceeded quota limit for API Stage abc1234567/prod: Key quota "
            "exhausted for Usage Plan ID pl4n1d. Limit: 500 Period: DAY"),
        (B, "Method completed with status: 429"),
    )  # fmt: skip
    parsed = parse_text(tmp_path, text)
    a, b = parsed.request(A), parsed.request(B)
    assert (a["error_class"], a["usage_plan_outcome"], a["usage_plan_id"]) == (
        "key_throttled", "key_throttled", "pl4n1d")  # fmt: skip
    assert (a["throttle_rate_limit_rps"], a["throttle_burst_limit"]) == (5.0, 10)
    assert (a["api_key"], a["resource_id"], a["http_method"]) == (key, "r1", "GET")
    assert (b["error_class"], b["usage_plan_outcome"]) == ("quota_exceeded", "key_quota_exceeded")
    assert (b["quota_limit"], b["quota_period"], b["usage_plan_id"]) == (500, "DAY", "pl4n1d")
    assert (b["api_id"], b["stage"]) == ("abc1234567", "prod")  # from the quota line


def test_authorizer_outcomes(tmp_path):
    text = _lines(
        (A, f"Starting authorizer: au1 for request: {A}"),
        (A, f"Endpoint request URI: {LAMBDA_URI}"),
        (A, f"Unauthorized request: {A}"),
        (A, "Method completed with status: 401"),
        (B, f"Starting authorizer: au1 for request: {B}"),
        (B, f"Endpoint request URI: {LAMBDA_URI}"),
        (B, "Execution failed due to configuration error: Authorizer error"),
        (B, "Method completed with status: 500"),
    )
    parsed = parse_text(tmp_path, text)
    a, b = parsed.request(A), parsed.request(B)
    assert (a["authorizer_result"], a["error_class"], a["endpoint_uri"]) == (
        "unauthorized", "unauthorized", None)  # fmt: skip
    assert (b["authorizer_result"], b["error_class"]) == ("error", "authorizer_failure")


def test_lambda_429_is_lambda_throttled_and_integration_kinds(tmp_path):
    text = _lines(
        (A, f"Endpoint request URI: {LAMBDA_URI}"),
        (A, "Lambda invocation failed with status: 429. Lambda request id: 1234"),
        (A, "Execution failed due to configuration error: Rate Exceeded."),
        (A, "Method completed with status: 500"),
        (B, "Endpoint request URI: https://dynamodb.eu-west-2.amazonaws.com/?Action=PutItem"),
        (B, "Successfully completed execution"),
    )
    parsed = parse_text(tmp_path, text)
    a, b = parsed.request(A), parsed.request(B)
    assert (a["error_class"], a["endpoint_status"], a["integration_kind"]) == (
        "lambda_throttled", 429, "lambda")  # fmt: skip
    assert a["error_message"].startswith("Lambda invocation failed with status: 429")
    assert b["integration_kind"] == "aws"


@pytest.mark.parametrize(
    ("log_group", "expected"),
    [
        ("API-Gateway-Execution-Logs_abc1234567/prod", ("abc1234567", "prod", False)),
        ("API-Gateway-Execution-Logs/abc1234567/prod", ("abc1234567", "prod", False)),
        ("API-Gateway-Execution-Logs_abc1234567/prod/Canary", ("abc1234567", "prod", True)),
        ("/aws/apigateway/ws12345678/dev", ("ws12345678", "dev", False)),
    ],
)
def test_api_stage_and_canary_from_the_log_group(tmp_path, log_group, expected):
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": "072b030ba126b2f4b2374f342be9ed44",
        "subscriptionFilters": ["f"],
        "logEvents": [
            {"id": "1", "timestamp": 1551194970161, "message": f"({A}) Starting execution"},
            {"id": "2", "timestamp": 1551194970162, "message": f"({A}) Method completed with "
             "status: 200"},
        ],
    }  # fmt: skip
    path = tmp_path / "payload.json"
    path.write_text(__import__("json").dumps(payload))
    parsed = parse_file(path)
    row = parsed.request(A)
    assert (row["api_id"], row["stage"], row["is_canary"]) == expected
    events = parsed.events.select("api_id", "stage", "is_canary").unique().rows()
    assert events == [expected]


def test_test_invoke_transcript_groups_by_its_request_line(tmp_path):
    text = (
        "Execution log for request test-request\n"
        "Thu Aug 31 01:07:25 UTC 2017 : Starting execution for request: test-invoke-request\n"
        "Thu Aug 31 01:07:25 UTC 2017 : HTTP Method: GET, Resource Path: /pets\n"
        "Thu Aug 31 01:07:25 UTC 2017 : Successfully completed execution\n"
        "Thu Aug 31 01:07:26 UTC 2017 : Method completed with status: 200\n"
    )
    parsed = parse_text(tmp_path, text)
    assert_reconciled(parsed)
    row = parsed.request("test-invoke-request")
    assert (row["status"], row["integration_kind"]) == (200, "mock")
    assert row["last_event_at"] == _utc(2017, 8, 31, 1, 7, 26)
    assert parsed.events["message_kind"][0] == "execution_log_header"


def test_empty_source_gives_empty_tables():
    parsed = parse_chunks([])
    assert parsed.events.is_empty() and parsed.requests.is_empty()


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, None])
def test_identical_events_are_numbered_across_chunks_in_file_order(tmp_path, chunk_rows):
    """`occurrence` counts the earlier events of the file with the same request, time and
    message, whichever chunks they were read in, and in a file whose times go back too."""
    first = "2026-01-01T00:00:00.001Z"
    earlier = "2026-01-01T00:00:00.000Z"
    text = "".join(
        f"{stamp} ({request}) {message}\n"
        for stamp, request, message in (
            (first, "r1", "Method request path: {}"),
            (first, "r1", "Method request path: {}"),
            (first, "r2", "Method request path: {}"),
            (earlier, "r1", "Method request path: {}"),
            (first, "r1", "Method request query string: {}"),
            (first, "r1", "Method request path: {}"),
            (earlier, "r1", "Method request path: {}"),
        )
    )
    parsed = parse_text(tmp_path, text, chunk_rows=chunk_rows)
    assert parsed.events["occurrence"].to_list() == [0, 1, 0, 0, 0, 2, 1]
    assert parsed.events["sequence"].to_list() == [0, 1, 0, 2, 3, 4, 5]
