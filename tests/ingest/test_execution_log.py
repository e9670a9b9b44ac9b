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
