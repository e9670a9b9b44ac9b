"""The canonical schema: every record kind's columns, declared once, with types and meanings.

Every frame is validated against its kind before it is written, so the warehouse never holds a
column that is missing, misnamed or of another type. Names are snake_case and carry units.
Other parts (queries, the dashboard, users' scripts) rely on these names: add, never rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import polars as pl

UTC_MS = pl.Datetime("ms", "UTC")


class RecordKind(StrEnum):
    """One warehouse table per kind; the value is the table's directory name."""

    ACCESS_REQUESTS = "access_requests"
    EXECUTION_REQUESTS = "execution_requests"
    EXECUTION_EVENTS = "execution_events"
    METRIC_POINTS = "metric_points"
    REPLAY_OUTCOMES = "replay_outcomes"
    APIS = "apis"


@dataclass(frozen=True)
class Column:
    """One column: its name, polars type and a one-line meaning (shown by `schema` help)."""

    name: str
    dtype: pl.DataType
    meaning: str


def _columns(*rows: tuple[str, pl.DataType, str]) -> tuple[Column, ...]:
    return tuple(Column(name, dtype, meaning) for name, dtype, meaning in rows)


_SOURCE = (
    ("source_file", pl.String, "path of the file the record was read from"),
    (
        "source_line",
        pl.Int64,
        "1-based line of the record in that file (event ordinal inside JSON envelopes)",
    ),
)

# What makes two metric points the same point (besides which statistics each holds): the
# dedupe keys of the warehouse writer and of the query views both read it.
METRIC_POINT_IDENTITY = (
    "namespace", "metric_name", "api_name", "api_id", "stage", "method", "resource", "route",
    "extra_dimensions", "timestamp", "period_s",
)  # fmt: skip

ACCESS_REQUESTS = _columns(
    ("request_id", pl.String, "$context.requestId (client-overridable on REST)"),
    ("extended_request_id", pl.String, "$context.extendedRequestId (x-amz-apigw-id)"),
    ("api_id", pl.String, "API id (10 chars)"),
    ("api_type", pl.String, "rest | http | websocket"),
    ("stage", pl.String, "stage name"),
    ("domain_name", pl.String, "Host the request was sent to"),
    ("requested_at", UTC_MS, "request time, UTC, ms when the log has epoch ms"),
    ("http_method", pl.String, "HTTP verb"),
    ("resource_path", pl.String, "REST resource template, e.g. /pets/{petId}"),
    ("route_key", pl.String, "HTTP/WebSocket route key, e.g. 'GET /pets' or $connect"),
    ("path", pl.String, "actual request path (includes the stage on execute-api hosts)"),
    ("protocol", pl.String, "protocol as logged (always HTTP/1.1)"),
    ("status", pl.Int32, "status returned to the client"),
    ("response_bytes", pl.Int64, "response payload length in bytes"),
    ("latency_ms", pl.Int64, "end-to-end latency seen by API Gateway, ms"),
    ("integration_latency_ms", pl.Int64, "time waiting for the integration, ms; null = no call"),
    ("integration_status", pl.Int32, "status from the integration ($context.integration.status)"),
    (
        "integration_service_status",
        pl.Int32,
        "status of the integration service call ($context.integration.integrationStatus)",
    ),
    ("integration_error", pl.String, "integration error text"),
    ("integration_request_id", pl.String, "request id returned by the AWS endpoint"),
    ("error_message", pl.String, "$context.error.message"),
    ("error_response_type", pl.String, "gateway response type, e.g. THROTTLED"),
    ("source_ip", pl.String, "IP of the immediate client connection"),
    ("user_agent", pl.String, "User-Agent header"),
    ("api_key_id", pl.String, "id of the API key (key-required methods only)"),
    ("caller", pl.String, "IAM caller"),
    ("user", pl.String, "IAM user"),
    ("authorizer_principal_id", pl.String, "principal returned by a Lambda authorizer"),
    ("authorizer_latency_ms", pl.Int64, "authorizer latency, ms"),
    ("authorizer_integration_latency_ms", pl.Int64, "authorizer Lambda latency, ms; null=cached"),
    ("authorizer_status", pl.Int32, "authorizer status"),
    ("authorizer_error", pl.String, "authorizer error text"),
    ("waf_status", pl.Int32, "AWS WAF evaluation status"),
    ("waf_response_code", pl.String, "WAF_ALLOW | WAF_BLOCK"),
    ("xray_trace_id", pl.String, "X-Ray trace id"),
    ("connection_id", pl.String, "WebSocket connection id"),
    ("event_type", pl.String, "WebSocket CONNECT | MESSAGE | DISCONNECT"),
    ("message_id", pl.String, "WebSocket message id"),
    ("data_processed_bytes", pl.Int64, "HTTP API $context.dataProcessed"),
    ("is_canary", pl.Boolean, "served by the canary (isCanaryRequest or a /Canary log group)"),
    ("log_group", pl.String, "CloudWatch log group, when the container names it"),
    ("log_stream", pl.String, "CloudWatch log stream, when the container names it"),
    *_SOURCE,
    ("extra", pl.String, "JSON object of the fields the canonical schema has no column for"),
)

EXECUTION_REQUESTS = _columns(
    ("request_id", pl.String, "request id from the (requestId) prefix"),
    ("extended_request_id", pl.String, "from 'Extended Request Id:'"),
    ("api_id", pl.String, "from the log group, or the usage-plan line"),
    ("stage", pl.String, "from the log group, or the usage-plan line"),
    ("is_canary", pl.Boolean, "log group ends in /Canary"),
    ("first_event_at", UTC_MS, "time of the request's first event"),
    ("last_event_at", UTC_MS, "time of the request's last event"),
    ("http_method", pl.String, "HTTP verb"),
    ("resource_path", pl.String, "resource template from the usage-plan line"),
    ("path", pl.String, "concrete path from 'HTTP Method: M, Resource Path: P'"),
    ("status", pl.Int32, "from 'Method completed with status:'"),
    ("api_key", pl.String, "masked API key as logged"),
    (
        "usage_plan_outcome",
        pl.String,
        "not_required | authorized | no_plan | key_throttled | key_quota_exceeded | throttled"
        " | internal_error",
    ),
    ("usage_plan_id", pl.String, "plan id named by a key throttle or quota message"),
    ("throttle_rate_limit_rps", pl.Float64, "rate stated by a throttle message (Limit: 5.00)"),
    ("throttle_burst_limit", pl.Int64, "burst stated by a throttle message (Burst: 10)"),
    ("quota_limit", pl.Int64, "limit stated by a quota message"),
    ("quota_period", pl.String, "DAY | WEEK | MONTH stated by a quota message"),
    ("resource_id", pl.String, "resource id named by a throttle message"),
    ("authorizer_id", pl.String, "authorizer started for the request"),
    ("authorizer_invoked", pl.Boolean, "true: authorizer ran; false: no authorizer lines"),
    ("authorizer_result", pl.String, "allow | deny | unauthorized | error"),
    ("authorizer_latency_ms", pl.Int64, "from authorizer start to its result, ms"),
    ("endpoint_uri", pl.String, "'Endpoint request URI:' of the integration"),
    ("integration_kind", pl.String, "lambda | http | aws | mock"),
    ("integration_latency_ms", pl.Int64, "from 'Received response. ... Integration latency'"),
    ("endpoint_status", pl.Int32, "status of the endpoint response"),
    ("integration_request_id", pl.String, "'AWS Integration Endpoint RequestId :'"),
    ("xray_trace_id", pl.String, "'X-ray Tracing ID :'"),
    ("error_class", pl.String, "integration_timeout | lambda_function_error | ... | none"),
    ("error_message", pl.String, "the message that set the error class"),
    ("event_count", pl.Int64, "events logged for the request"),
    ("truncated_event_count", pl.Int64, "events ending in [TRUNCATED]"),
    ("log_group", pl.String, "CloudWatch log group, when known"),
    *_SOURCE,
)

EXECUTION_EVENTS = _columns(
    ("request_id", pl.String, "request id (null for lines with no prefix and no grouping)"),
    ("api_id", pl.String, "from the log group when known"),
    ("stage", pl.String, "from the log group when known"),
    ("is_canary", pl.Boolean, "log group ends in /Canary"),
    ("event_at", UTC_MS, "event time"),
    ("sequence", pl.Int32, "0-based order of the event within its request"),
    (
        "occurrence",
        pl.Int32,
        "0-based count of earlier events in the same file with the same request, time and"
        " message (1 for a line logged twice in one millisecond); part of the event's identity",
    ),
    ("message_kind", pl.String, "classified kind of message; 'other' when unknown"),
    ("message", pl.String, "the message text without the (requestId) prefix"),
    ("is_truncated", pl.Boolean, "message ended in [TRUNCATED]"),
    ("log_group", pl.String, "CloudWatch log group"),
    ("log_stream", pl.String, "CloudWatch log stream"),
    ("event_id", pl.String, "CloudWatch event id (a large decimal, kept as text)"),
    *_SOURCE,
)

METRIC_POINTS = _columns(
    ("namespace", pl.String, "CloudWatch namespace, e.g. AWS/ApiGateway"),
    ("metric_name", pl.String, "metric name as AWS writes it (4XXError, 4xx, Count)"),
    ("metric", pl.String, "canonical metric: request_count, client_error_count, ..."),
    ("api_name", pl.String, "ApiName dimension (REST)"),
    ("api_id", pl.String, "ApiId dimension (HTTP, WebSocket)"),
    ("stage", pl.String, "Stage dimension"),
    ("method", pl.String, "Method dimension"),
    ("resource", pl.String, "Resource dimension"),
    ("route", pl.String, "Route dimension"),
    ("timestamp", UTC_MS, "start of the period, UTC"),
    ("period_s", pl.Int32, "period length in seconds"),
    ("sample_count", pl.Float64, "SampleCount statistic"),
    ("sum", pl.Float64, "Sum statistic"),
    ("average", pl.Float64, "Average statistic"),
    ("minimum", pl.Float64, "Minimum statistic"),
    ("maximum", pl.Float64, "Maximum statistic"),
    ("p50", pl.Float64, "p50 extended statistic"),
    ("p90", pl.Float64, "p90 extended statistic"),
    ("p99", pl.Float64, "p99 extended statistic"),
    ("unit", pl.String, "Count | Milliseconds | Bytes"),
    ("extra_dimensions", pl.String, "JSON object of dimensions without a column"),
    (
        "extra_statistics",
        pl.String,
        "JSON object of statistics without a column, e.g. p95, p99.9, TM(25%:75%)",
    ),
    *_SOURCE,
)

REPLAY_OUTCOMES = _columns(
    ("replay_name", pl.String, "name given to the replay run"),
    ("request_key", pl.String, "extended_request_id, else request_id, of the recorded arrival"),
    ("requested_at", UTC_MS, "arrival time"),
    ("api_id", pl.String, "API id"),
    ("stage", pl.String, "stage"),
    ("http_method", pl.String, "HTTP verb"),
    ("resource_path", pl.String, "resource template or route key"),
    ("api_key_id", pl.String, "API key id"),
    ("observed_status", pl.Int32, "status in the recording"),
    ("predicted_status", pl.Int32, "status the model predicts"),
    ("predicted_response_type", pl.String, "gateway response type the model predicts"),
    ("limit_layer", pl.String, "usage_plan_method | usage_plan | quota | method | stage | account"),
    ("cache_result", pl.String, "hit | miss | not_cached"),
    ("integration_called", pl.Boolean, "whether the model calls the integration"),
    ("predicted_latency_ms", pl.Float64, "latency the model predicts, ms"),
    ("latency_was_drawn", pl.Boolean, "latency drawn from the route's distribution"),
    ("is_canary", pl.Boolean, "routed to the canary"),
    ("authorizer_called", pl.Boolean, "whether the model invokes the authorizer (cache miss)"),
)

# The APIs of an account, from the listings users save (`aws apigateway get-rest-apis`,
# `aws apigatewayv2 get-apis`): what lets REST metrics, named by ApiName, meet the logs' api_id.
APIS = _columns(
    ("api_id", pl.String, "API id (10 chars)"),
    ("api_name", pl.String, "the API's name as listed"),
    ("api_type", pl.String, "rest | http | websocket"),
    (
        "metric_api_name",
        pl.String,
        "ApiName dimension of its REST metrics: the name without non-ASCII characters, the id"
        " when none is left; null for HTTP and WebSocket APIs (their metrics carry ApiId)",
    ),
    ("created_at", UTC_MS, "when the API was created (createdDate)"),
    ("description", pl.String, "the API's description"),
    ("api_endpoint", pl.String, "default endpoint URL (HTTP and WebSocket listings only)"),
    *_SOURCE,
    ("extra", pl.String, "JSON object of the listed fields the schema has no column for"),
)

SCHEMAS: dict[RecordKind, tuple[Column, ...]] = {
    RecordKind.ACCESS_REQUESTS: ACCESS_REQUESTS,
    RecordKind.EXECUTION_REQUESTS: EXECUTION_REQUESTS,
    RecordKind.EXECUTION_EVENTS: EXECUTION_EVENTS,
    RecordKind.METRIC_POINTS: METRIC_POINTS,
    RecordKind.REPLAY_OUTCOMES: REPLAY_OUTCOMES,
    RecordKind.APIS: APIS,
}

# The column whose date partitions each kind's files (hive `date=YYYY-MM-DD`).
PARTITION_TIME_COLUMN: dict[RecordKind, str] = {
    RecordKind.ACCESS_REQUESTS: "requested_at",
    RecordKind.EXECUTION_REQUESTS: "first_event_at",
    RecordKind.EXECUTION_EVENTS: "event_at",
    RecordKind.METRIC_POINTS: "timestamp",
    RecordKind.REPLAY_OUTCOMES: "requested_at",
    RecordKind.APIS: "created_at",
}


def polars_schema(kind: RecordKind) -> pl.Schema:
    """The polars schema of a kind, in declared column order."""
    return pl.Schema({column.name: column.dtype for column in SCHEMAS[kind]})


def empty_frame(kind: RecordKind) -> pl.DataFrame:
    """A zero-row frame of the kind, for code paths that found nothing."""
    return pl.DataFrame(schema=polars_schema(kind))


def conform(frame: pl.DataFrame, kind: RecordKind) -> pl.DataFrame:
    """Add missing columns as nulls and order them as declared; extra columns are an error.

    Parsers build only the columns they know; this fills the rest so that every file of a kind
    has the same schema, which is what lets DuckDB and Athena read the dataset as one table.
    """
    schema = polars_schema(kind)
    unknown = [name for name in frame.columns if name not in schema]
    if unknown:
        raise ValueError(f"{kind}: columns not in the canonical schema: {unknown}")
    return frame.select(
        [
            pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )


def validate(frame: pl.DataFrame, kind: RecordKind) -> None:
    """Raise ValueError unless the frame has exactly the kind's columns and types, in order."""
    expected = polars_schema(kind)
    if frame.schema != expected:
        differences = [
            f"{name}: {frame.schema.get(name)} != {dtype}"
            for name, dtype in expected.items()
            if frame.schema.get(name) != dtype
        ]
        extra = [name for name in frame.columns if name not in expected]
        raise ValueError(f"{kind}: frame does not match the schema: {differences} extra={extra}")
