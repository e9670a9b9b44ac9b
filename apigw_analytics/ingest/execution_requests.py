"""One execution-request row per request id, built from the request's classified messages.

A request's events are spread over chunks (and interleaved with other requests'), so the parser
keeps only the messages a request row is made of (`FACT_KINDS`, a few per request) plus per-request
counts, and this module turns them into rows at the end of the source. The facts are pivoted to
one column per kind (`k_<kind>` = the message text), after which every field is a column-wise
regex over one row per request rather than a pass over every event.

Error classes follow the most specific evidence: a Lambda that refused the call (429, reserved
concurrency, "Rate Exceeded") is `lambda_throttled` even when API Gateway then reports a
malformed proxy response, and a customer function error that says `Task timed out` is
`lambda_function_timeout`.
"""

from __future__ import annotations

import polars as pl

from apigw_analytics.ingest.execution_catalogue import (
    LAMBDA_THROTTLE_EVIDENCE,
    LAMBDA_THROTTLE_EVIDENCE_KINDS,
)
from apigw_analytics.schema import RecordKind, conform, polars_schema

FIRST_KINDS = (
    "extended_request_id", "usage_plan_verify", "api_key_not_required", "api_key_no_usage_plan",
    "key_throttle_exceeded", "key_quota_exceeded", "usage_plan_check_succeeded",
    "usage_plan_internal_error", "throttle_exceeded", "authorizer_start", "authorizer_policy",
    "authorizer_succeeded", "unauthorized", "not_authorized", "execution_start",
    "http_method_resource_path", "api_key", "execution_succeeded", "integration_request_id",
    "xray_trace_id", "timeout_error", "lambda_function_error", "lambda_invocation_failed",
    "malformed_proxy_response", "configuration_error",
)  # fmt: skip
LAST_KINDS = ("method_completed",)
ENDPOINT_KINDS = ("endpoint_request_uri", "sending_request", "endpoint_response_received")
FACT_KINDS = (*FIRST_KINDS, *LAST_KINDS, *ENDPOINT_KINDS)
_AUTHORIZER_END_KINDS = (
    "authorizer_policy", "authorizer_succeeded", "unauthorized", "not_authorized",
    "usage_plan_verify", "execution_start",
)  # fmt: skip

# Which messages state each error class, in the order to quote them as `error_message`.
_ERROR_MESSAGE_KINDS = {
    "lambda_throttled": ("lambda_invocation_failed", "configuration_error",
                         "malformed_proxy_response"),
    "lambda_function_timeout": ("lambda_function_error",),
    "lambda_function_error": ("lambda_function_error",),
    "integration_timeout": ("timeout_error",),
    "malformed_proxy_response": ("malformed_proxy_response",),
    "authorizer_failure": ("configuration_error",),
    "configuration_error": ("configuration_error",),
    "unauthorized": ("unauthorized",),
    "access_denied": ("not_authorized", "api_key_no_usage_plan"),
    "key_throttled": ("key_throttle_exceeded",),
    "quota_exceeded": ("key_quota_exceeded",),
    "throttled": ("throttle_exceeded",),
    "usage_plan_internal_error": ("usage_plan_internal_error",),
}  # fmt: skip

_LAMBDA_URI = (
    r"^https://lambda\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/[0-9-]+/functions/.+/invocations"
)
_AWS_URI = r"^https?://[^/]*\.amazonaws\.com(?:\.cn)?(?:[:/]|$)"


def _k(kind: str) -> pl.Expr:
    return pl.col(f"k_{kind}")


def _has(kind: str) -> pl.Expr:
    return _k(kind).is_not_null()


def _pivot(
    facts: pl.DataFrame, kinds: tuple[str, ...], value: str, prefix: str, aggregate: str
) -> pl.DataFrame:
    """One row per request, one column `<prefix><kind>` per kind (missing kinds as nulls)."""
    subset = facts.filter(pl.col("message_kind").is_in(kinds)).sort("order")
    dtype = facts.schema[value]
    if subset.is_empty():
        wide = pl.DataFrame(schema={"rid_key": pl.String})
    else:
        wide = subset.pivot(
            on="message_kind", index="rid_key", values=value, aggregate_function=aggregate
        )
        wide = wide.rename({kind: f"{prefix}{kind}" for kind in wide.columns if kind != "rid_key"})
    missing = [f"{prefix}{kind}" for kind in kinds if f"{prefix}{kind}" not in wide.columns]
    return wide.with_columns(pl.lit(None, dtype).alias(name) for name in missing)


def _integration_facts(facts: pl.DataFrame) -> pl.DataFrame:
    """Endpoint messages of the integration, leaving out the authorizer's own Lambda call.

    The authorizer reuses the endpoint wording; its messages lie between `Starting authorizer`
    and the first sign the authorizer finished. An authorizer that never finished leaves no
    integration messages at all.
    """
    starts = (
        facts.filter(pl.col("message_kind") == "authorizer_start")
        .group_by("rid_key")
        .agg(pl.col("order").min().alias("authorizer_order"))
    )
    ends = (
        facts.filter(pl.col("message_kind").is_in(_AUTHORIZER_END_KINDS))
        .join(starts, on="rid_key")
        .filter(pl.col("order") > pl.col("authorizer_order"))
        .group_by("rid_key")
        .agg(pl.col("order").min().alias("authorizer_end_order"))
    )
    phases = starts.join(ends, on="rid_key", how="left")
    endpoint = facts.filter(pl.col("message_kind").is_in(ENDPOINT_KINDS))
    return endpoint.join(phases, on="rid_key", how="left").filter(
        pl.col("authorizer_order").is_null()
        | (pl.col("order") > pl.col("authorizer_end_order")).fill_null(False)
    )


def _authorizer_timing(facts: pl.DataFrame) -> pl.DataFrame:
    """Authorizer latency: from its start to the first message showing it finished."""
    starts = (
        facts.filter(pl.col("message_kind") == "authorizer_start")
        .group_by("rid_key")
        .agg(pl.col("order").min().alias("_start"), pl.col("event_at").min().alias("_start_at"))
    )
    return (
        facts.filter(pl.col("message_kind").is_in(_AUTHORIZER_END_KINDS))
        .join(starts, on="rid_key")
        .filter(pl.col("order") > pl.col("_start"))
        .sort("order")
        .group_by("rid_key")
        .agg((pl.col("event_at").first() - pl.col("_start_at").first()).alias("_auth_elapsed"))
        .select(
            "rid_key",
            pl.col("_auth_elapsed").dt.total_milliseconds().alias("authorizer_latency_ms"),
        )
    )


def _error_class() -> pl.Expr:
    evidence = pl.col("lambda_throttle_evidence")
    lambda_error = _k("lambda_function_error")
    return (
        pl.when(evidence)
        .then(pl.lit("lambda_throttled"))
        .when(lambda_error.str.contains("Task timed out"))
        .then(pl.lit("lambda_function_timeout"))
        .when(_has("lambda_function_error"))
        .then(pl.lit("lambda_function_error"))
        .when(_has("timeout_error"))
        .then(pl.lit("integration_timeout"))
        .when(_has("malformed_proxy_response"))
        .then(pl.lit("malformed_proxy_response"))
        .when(_k("configuration_error").str.contains("(?i)authorizer"))
        .then(pl.lit("authorizer_failure"))
        .when(_has("configuration_error"))
        .then(pl.lit("configuration_error"))
        .when(pl.col("authorizer_result") == "error")
        .then(pl.lit("authorizer_failure"))
        .when(_has("unauthorized"))
        .then(pl.lit("unauthorized"))
        .when(_has("not_authorized") | _has("api_key_no_usage_plan"))
        .then(pl.lit("access_denied"))
        .when(_has("key_throttle_exceeded"))
        .then(pl.lit("key_throttled"))
        .when(_has("key_quota_exceeded"))
        .then(pl.lit("quota_exceeded"))
        .when(_has("throttle_exceeded"))
        .then(pl.lit("throttled"))
        .when(_has("usage_plan_internal_error"))
        .then(pl.lit("usage_plan_internal_error"))
        .otherwise(pl.lit("none"))
    )


def _error_message() -> pl.Expr:
    expression = pl.lit(None, pl.String)
    for error_class, kinds in reversed(_ERROR_MESSAGE_KINDS.items()):
        expression = (
            pl.when(pl.col("error_class") == error_class)
            .then(pl.coalesce([_k(kind) for kind in kinds]))
            .otherwise(expression)
        )
    return expression


def _usage_plan_outcome() -> pl.Expr:
    outcomes = (
        ("usage_plan_internal_error", "internal_error"),
        ("key_throttle_exceeded", "key_throttled"),
        ("key_quota_exceeded", "key_quota_exceeded"),
        ("throttle_exceeded", "throttled"),
        ("api_key_no_usage_plan", "no_plan"),
        ("api_key_not_required", "not_required"),
        ("usage_plan_check_succeeded", "authorized"),
    )
    expression = pl.lit(None, pl.String)
    for kind, outcome in reversed(outcomes):
        expression = pl.when(_has(kind)).then(pl.lit(outcome)).otherwise(expression)
    return expression


def _authorizer_result() -> pl.Expr:
    return (
        pl.when(_has("unauthorized"))
        .then(pl.lit("unauthorized"))
        .when(~_has("authorizer_start"))
        .then(pl.lit(None, pl.String))
        .when(_has("authorizer_policy") | _has("authorizer_succeeded"))
        .then(pl.lit("allow"))
        .when(_has("not_authorized"))
        .then(pl.lit("deny"))
        .otherwise(pl.lit("error"))
    )


def _integration_kind() -> pl.Expr:
    uri = pl.col("endpoint_uri")
    return (
        pl.when(uri.str.contains(_LAMBDA_URI))
        .then(pl.lit("lambda"))
        .when(uri.str.contains(_AWS_URI))
        .then(pl.lit("aws"))
        .when(uri.is_not_null())
        .then(pl.lit("http"))
        .when(_has("execution_succeeded"))
        .then(pl.lit("mock"))
    )


def _fields() -> list[pl.Expr]:
    """Every field that is a regex over one message column of the pivoted frame."""
    verify = _k("usage_plan_verify")
    throttle = pl.coalesce(
        _k("key_throttle_exceeded"), _k("throttle_exceeded"), _k("key_quota_exceeded")
    )
    method_line = pl.coalesce(_k("api_key_not_required"), _k("api_key_no_usage_plan"))
    http_line = _k("http_method_resource_path")
    lambda_error = pl.coalesce(_k("lambda_function_error"), _k("lambda_invocation_failed"))
    verify_key = verify.str.extract(r"API Key:\s*(\S*?)\s*API Stage:", 1)
    return [
        _k("extended_request_id").str.extract(r"Extended Request Id:\s*(\S+)", 1)
        .alias("extended_request_id"),
        pl.coalesce(verify.str.extract(r"API Stage: ([^/\s]+)/", 1),
                    throttle.str.extract(r"API Stage ([^/\s]+)/", 1),
                    throttle.str.extract(r"RestApi ([^\s,]+)", 1)).alias("line_api_id"),
        pl.coalesce(verify.str.extract(r"API Stage: [^/\s]+/(\S+)", 1),
                    throttle.str.extract(r"API Stage [^/\s]+/([^\s:]+)", 1),
                    throttle.str.extract(r"Stage ([^\s,:]+),", 1)).alias("line_stage"),
        pl.coalesce(http_line.str.extract(r"^HTTP Method: ([A-Z]+)", 1),
                    method_line.str.extract(r"method '(\S+) ", 1),
                    throttle.str.extract(r"HttpMethod ([A-Z]+)", 1)).alias("http_method"),
        method_line.str.extract(r"method '\S+ ([^']*)'", 1).alias("resource_path"),
        http_line.str.extract(r"Resource Path: (.*)$", 1).alias("path"),
        _k("method_completed").str.extract(r"status: (\d+)", 1).cast(pl.Int32).alias("status"),
        pl.coalesce(pl.when(verify_key != "").then(verify_key),
                    _k("api_key").str.extract(r"API Key: (\S+)", 1)).alias("api_key"),
        throttle.str.extract(r"Usage Plan ID ([^\s,.]+)", 1).alias("usage_plan_id"),
        throttle.str.extract(r"Limit: ([\d.]+) Burst", 1).cast(pl.Float64)
        .alias("throttle_rate_limit_rps"),
        throttle.str.extract(r"Burst: (\d+)", 1).cast(pl.Int64).alias("throttle_burst_limit"),
        throttle.str.extract(r"Limit: (\d+) Period", 1).cast(pl.Int64).alias("quota_limit"),
        throttle.str.extract(r"Period: ([A-Z]+)", 1).alias("quota_period"),
        throttle.str.extract(r"Resource ([^\s,]+)", 1).alias("resource_id"),
        _k("authorizer_start").str.extract(r"Starting authorizer: (\S+)", 1)
        .alias("authorizer_id"),
        _has("authorizer_start").alias("authorizer_invoked"),
        pl.coalesce(_k("endpoint_request_uri").str.extract(r"URI: (.+)$", 1),
                    _k("sending_request").str.extract(r"Sending request to (.+)$", 1))
        .str.strip_chars().alias("endpoint_uri"),
        _k("endpoint_response_received").str.extract(r"Integration latency: (\d+)", 1)
        .cast(pl.Int64).alias("integration_latency_ms"),
        pl.coalesce(_k("endpoint_response_received").str.extract(r"Status: (\d+)", 1),
                    _k("lambda_invocation_failed").str.extract(r"status:? (\d+)", 1),
                    _k("lambda_function_error").str.extract(r"status:? (\d+)", 1))
        .cast(pl.Int32).alias("endpoint_status"),
        pl.coalesce(_k("integration_request_id").str.extract(r"RequestId :\s*(\S+)", 1),
                    lambda_error.str.extract(r"Lambda request id: ([0-9a-f-]{36})", 1))
        .alias("integration_request_id"),
        _k("xray_trace_id").str.extract(r"Tracing ID :\s*(\S+)", 1).alias("xray_trace_id"),
    ]  # fmt: skip


_GROUP_FIELDS = ("log_group", "api_id", "stage", "is_canary")


def request_stats(events: pl.DataFrame) -> pl.DataFrame:
    """Per-request counts and times of some of a request's events (combine with
    `combined_stats`). `events` has rid_key, request_id, event_at, is_truncated, source_line
    and the log-group fields."""
    return events.group_by("rid_key").agg(
        pl.col("request_id").first(),
        pl.col("event_at").min().alias("first_event_at"),
        pl.col("event_at").max().alias("last_event_at"),
        pl.len().cast(pl.Int64).alias("event_count"),
        pl.col("is_truncated").sum().cast(pl.Int64).alias("truncated_event_count"),
        pl.col("source_line").min(),
        *(pl.col(name).drop_nulls().first() for name in _GROUP_FIELDS),
    )


def combined_stats(stats: pl.DataFrame) -> pl.DataFrame:
    """One stats row per request from several `request_stats` frames concatenated."""
    return stats.group_by("rid_key").agg(
        pl.col("request_id").first(),
        pl.col("first_event_at").min(),
        pl.col("last_event_at").max(),
        pl.col("event_count").sum(),
        pl.col("truncated_event_count").sum(),
        pl.col("source_line").min(),
        *(pl.col(name).drop_nulls().first() for name in _GROUP_FIELDS),
    )


def request_facts(events: pl.DataFrame) -> pl.DataFrame:
    """The messages a request row is made of (`FACT_KINDS`, and Lambda-throttle evidence).
    `events` has rid_key, order (position across the request's events), event_at,
    message_kind and message."""
    evidence = pl.col("message_kind").is_in(LAMBDA_THROTTLE_EVIDENCE_KINDS) & pl.col(
        "message"
    ).str.contains(LAMBDA_THROTTLE_EVIDENCE)
    return events.filter(pl.col("message_kind").is_in(FACT_KINDS) | evidence).select(
        "rid_key",
        "order",
        "event_at",
        "message_kind",
        pl.col("message").alias("body"),
        evidence.alias("lambda_throttle_evidence"),
    )


def build_requests(stats: pl.DataFrame, facts: pl.DataFrame, source_file: str) -> pl.DataFrame:
    """The EXECUTION_REQUESTS rows of a source.

    `stats` has one row per request (rid_key, request_id, first/last_event_at, event_count,
    truncated_event_count, source_line, log_group, api_id, stage, is_canary from the group);
    `facts` has the FACT_KINDS messages (rid_key, order, event_at, message_kind, body) and the
    per-event `lambda_throttle_evidence` flag.
    """
    evidence = facts.group_by("rid_key").agg(
        pl.col("lambda_throttle_evidence").any().alias("lambda_throttle_evidence")
    )
    wide = (
        stats.join(_pivot(facts, FIRST_KINDS, "body", "k_", "first"), on="rid_key", how="left")
        .join(_pivot(facts, LAST_KINDS, "body", "k_", "last"), on="rid_key", how="left")
        .join(
            _pivot(_integration_facts(facts), ENDPOINT_KINDS, "body", "k_", "last"),
            on="rid_key",
            how="left",
        )
        .join(evidence, on="rid_key", how="left")
        .join(_authorizer_timing(facts), on="rid_key", how="left")
        .with_columns(pl.col("lambda_throttle_evidence").fill_null(False))
    )
    rows = (
        wide.with_columns(_fields())
        .with_columns(
            pl.coalesce("api_id", "line_api_id").alias("api_id"),
            pl.coalesce("stage", "line_stage").alias("stage"),
            _usage_plan_outcome().alias("usage_plan_outcome"),
            _authorizer_result().alias("authorizer_result"),
            _integration_kind().alias("integration_kind"),
        )
        .with_columns(_error_class().alias("error_class"))
        .with_columns(
            _error_message().alias("error_message"),
            pl.lit(source_file, pl.String).alias("source_file"),
        )
        .sort("first_event_at", "source_line", nulls_last=True)
    )
    kind = RecordKind.EXECUTION_REQUESTS
    return conform(rows.select(name for name in polars_schema(kind) if name in rows.columns), kind)
