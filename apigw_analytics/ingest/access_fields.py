"""Access-log fields by meaning: which `$context` variable a key holds, and the typed row.

API Gateway writes whatever template the stage owner configured, so key names are free
(`ip`/`sourceIp`, `httpMethod`/`method`, sorted keys from Terraform). Every format maps its
fields to `$context` variables here, and `finalize_access` turns those raw strings into rows of
the canonical schema the same way for JSON, CLF, CSV, XML and compiled templates:

* `-` (AWS's "no value") and empty strings become null, never 0;
* numbers are parsed; a value that is not a number quarantines the record, naming the field;
* `requested_at` comes from `requestTimeEpoch` (ms, or s when 10 digits), else `requestTime`
  (CLF, second resolution), else the CloudWatch event time; none of them quarantines the record.
"""

from __future__ import annotations

import re

import polars as pl

from apigw_analytics.ingest.events import EMPTY_QUARANTINE
from apigw_analytics.schema import UTC_MS, RecordKind, conform

REQUEST_TIME = "_request_time"
REQUEST_TIME_EPOCH = "_request_time_epoch"
EXTRA = "extra"

# `$context` variable (without the prefix) → canonical column.
CONTEXT_COLUMNS: dict[str, str] = {
    "requestId": "request_id",
    "extendedRequestId": "extended_request_id",
    "apiId": "api_id",
    "stage": "stage",
    "domainName": "domain_name",
    "requestTime": REQUEST_TIME,
    "requestTimeEpoch": REQUEST_TIME_EPOCH,
    "httpMethod": "http_method",
    "resourcePath": "resource_path",
    "routeKey": "route_key",
    "path": "path",
    "protocol": "protocol",
    "status": "status",
    "responseLength": "response_bytes",
    "responseLatency": "latency_ms",
    "integrationLatency": "integration_latency_ms",
    "integration.latency": "integration_latency_ms",
    "integration.status": "integration_status",
    "integration.integrationStatus": "integration_service_status",
    "integrationStatus": "integration_service_status",
    "integration.error": "integration_error",
    "integrationErrorMessage": "integration_error",
    "integration.requestId": "integration_request_id",
    "awsEndpointRequestId": "integration_request_id",
    "error.message": "error_message",
    "error.messageString": "error_message",
    "error.responseType": "error_response_type",
    "identity.sourceIp": "source_ip",
    "identity.userAgent": "user_agent",
    "identity.apiKeyId": "api_key_id",
    "identity.caller": "caller",
    "identity.user": "user",
    "authorizer.principalId": "authorizer_principal_id",
    "authorizer.latency": "authorizer_latency_ms",
    "authorizer.integrationLatency": "authorizer_integration_latency_ms",
    "authorizer.status": "authorizer_status",
    "authorizer.error": "authorizer_error",
    "waf.status": "waf_status",
    "wafResponseCode": "waf_response_code",
    "xrayTraceId": "xray_trace_id",
    "connectionId": "connection_id",
    "eventType": "event_type",
    "messageId": "message_id",
    "dataProcessed": "data_processed_bytes",
    "isCanaryRequest": "is_canary",
}

# Key names seen in the wild (normalised: lower case, letters and digits only) → variable.
_ALIASES: dict[str, str] = {
    "ip": "identity.sourceIp",
    "sourceip": "identity.sourceIp",
    "clientip": "identity.sourceIp",
    "method": "httpMethod",
    "useragent": "identity.userAgent",
    "apikeyid": "identity.apiKeyId",
    "caller": "identity.caller",
    "user": "identity.user",
    "latency": "responseLatency",
    "responselatencyms": "responseLatency",
    "errormessage": "error.message",
    "errorresponsetype": "error.responseType",
    "responsetype": "error.responseType",
    "integrationerror": "integration.error",
    "integrationrequestid": "integration.requestId",
    "principalid": "authorizer.principalId",
    "authorizerlatency": "authorizer.latency",
    "authorizerstatus": "authorizer.status",
    "authorizererror": "authorizer.error",
    "authorizerintegrationlatency": "authorizer.integrationLatency",
    "wafstatus": "waf.status",
    "statuscode": "status",
    "responsebytes": "responseLength",
    "bytes": "responseLength",
    "route": "routeKey",
    "resource": "resourcePath",
    "domain": "domainName",
    "iscanary": "isCanaryRequest",
    "canary": "isCanaryRequest",
}

_NUMERIC_COLUMNS: dict[str, pl.DataType] = {
    "status": pl.Int32,
    "response_bytes": pl.Int64,
    "latency_ms": pl.Int64,
    "integration_latency_ms": pl.Int64,
    "integration_status": pl.Int32,
    "integration_service_status": pl.Int32,
    "authorizer_latency_ms": pl.Int64,
    "authorizer_integration_latency_ms": pl.Int64,
    "authorizer_status": pl.Int32,
    "waf_status": pl.Int32,
    "data_processed_bytes": pl.Int64,
}


def _normalise(name: str) -> str:
    name = name.removeprefix("$").removeprefix("context.")
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_NORMALISED = {_normalise(variable): column for variable, column in CONTEXT_COLUMNS.items()}
_BY_NORMALISED.update({alias: CONTEXT_COLUMNS[variable] for alias, variable in _ALIASES.items()})


def column_for_variable(variable: str) -> str | None:
    """The column of a `$context` variable as written in a template (`$context.x.y`)."""
    variable = variable.removeprefix("$").removeprefix("context.")
    return CONTEXT_COLUMNS.get(variable) or _BY_NORMALISED.get(_normalise(variable))


def column_for_key(key: str) -> str | None:
    """The column a user-chosen key most likely holds, or None (the key goes to `extra`).

    A key spelled exactly like a variable (`integration.status`) means that variable; only
    then is it matched by meaning, where `integration.status` and `integrationStatus` (two
    different statuses) would look alike."""
    return CONTEXT_COLUMNS.get(key.removeprefix("$context.")) or _BY_NORMALISED.get(_normalise(key))


_HTTP_LOG_STREAM = r"^[a-z0-9]{10}_.+-\d{4}-\d\d-\d\d-\d\d-\d\d$"


def infer_api_type(columns: set[str], log_stream: str | None = None) -> str:
    """REST, HTTP or WebSocket from which fields the template logs (per source, not per row:
    a WebSocket request rejected before routing logs `-` for its WebSocket fields)."""
    if {"connection_id", "event_type", "message_id"} & columns:
        return "websocket"
    if log_stream and re.match(_HTTP_LOG_STREAM, log_stream):
        return "http"
    if "route_key" in columns and "resource_path" not in columns:
        return "http"
    return "rest"


def _api_type_per_record(present: set[str]) -> pl.Expr:
    """`infer_api_type` for each record, from the fields that record holds before `-` becomes
    null (a `-` still counts), so that one source mixing templates (a Firehose or subscription
    export of several APIs) gets the right type per record."""

    def holds(column: str) -> pl.Expr:
        return pl.col(column).is_not_null() if column in present else pl.lit(False)

    websocket = holds("connection_id") | holds("event_type") | holds("message_id")
    http_stream = pl.col("log_stream").str.contains(_HTTP_LOG_STREAM).fill_null(False)
    http = http_stream | (holds("route_key") & ~holds("resource_path"))
    return (
        pl.when(websocket)
        .then(pl.lit("websocket"))
        .when(http)
        .then(pl.lit("http"))
        .otherwise(pl.lit("rest"))
    )


def _null_dash(name: str) -> pl.Expr:
    value = pl.col(name)
    return pl.when((value == "-") | (value == "")).then(None).otherwise(value).alias(name)


def _number(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Float64, strict=False)


def _clf_time(text: pl.Expr) -> pl.Expr:
    """`20/Jul/2026:01:50:15 +0000` → UTC; the offset is applied as minutes, which is much
    faster than a `%z` parse per row."""
    naive = text.str.slice(0, 20).str.to_datetime("%d/%b/%Y:%H:%M:%S", strict=False, time_unit="ms")
    offset = text.str.slice(21, 5)
    sign = pl.when(offset.str.starts_with("-")).then(-1).otherwise(1)
    minutes = (
        offset.str.slice(1, 2).cast(pl.Int32, strict=False) * 60
        + offset.str.slice(3, 2).cast(pl.Int32, strict=False)
    ).fill_null(0) * sign
    return (naive - pl.duration(minutes=minutes)).dt.replace_time_zone("UTC")


def _requested_at(frame: pl.DataFrame, columns: set[str]) -> pl.Series:
    """Each candidate is parsed only for the rows the earlier ones left null."""
    candidates: list[pl.Expr] = []
    if REQUEST_TIME_EPOCH in columns:
        epoch = _number(REQUEST_TIME_EPOCH)
        epoch_ms = pl.when(epoch < 1e11).then(epoch * 1000).otherwise(epoch)
        candidates.append(epoch_ms.cast(pl.Int64).cast(UTC_MS))
    if REQUEST_TIME in columns:
        candidates.append(_clf_time(pl.col(REQUEST_TIME)))
        candidates.append(
            pl.col(REQUEST_TIME).str.to_datetime(strict=False, time_unit="ms", time_zone="UTC")
        )
    candidates.append(pl.col("event_at"))
    result = pl.Series("requested_at", [None] * frame.height, dtype=UTC_MS)
    for candidate in candidates:
        missing = result.is_null()
        if not missing.any():
            break
        parsed = frame.filter(missing).select(candidate.alias("requested_at")).to_series()
        result = result.scatter(missing.arg_true(), parsed)
    return result


def _problems(frame: pl.DataFrame, numeric: list[str]) -> pl.Series:
    """A reason per row (null = fine); reasons are only formatted for the rows that have one."""
    checks = [(f"{column}: not a number", column) for column in numeric]
    if REQUEST_TIME_EPOCH in frame.columns:
        checks.append(("requestTimeEpoch: not a number", REQUEST_TIME_EPOCH))
    flags = [pl.col(column).is_not_null() & _number(column).is_null() for _, column in checks]
    no_time = pl.col("requested_at").is_null()
    bad = frame.select(pl.any_horizontal([*flags, no_time]) if flags else no_time).to_series()
    reasons = pl.Series("reason", [None] * frame.height, dtype=pl.String)
    if not bad.any():
        return reasons
    subset = frame.filter(bad)
    text = [
        pl.when(flag).then(pl.format("{}: {}", pl.lit(label), pl.col(column)))
        for (label, column), flag in zip(checks, flags, strict=True)
    ]
    text.append(
        pl.when(no_time).then(
            pl.lit("no request time (requestTimeEpoch, requestTime or an event time)")
        )
    )
    return reasons.scatter(bad.arg_true(), subset.select(pl.coalesce(text)).to_series())


def finalize_access(
    raw: pl.DataFrame,
    *,
    source_file: str,
    api_type: str | None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed access-request rows and quarantine rows from raw string fields.

    `raw` holds one string column per canonical column found (plus `_request_time`,
    `_request_time_epoch`, `extra`), and the event columns `message`, `source_line`,
    `event_at`, `log_group`, `log_stream`.
    """
    present = {c for c in raw.columns if c in CONTEXT_COLUMNS.values() or c == EXTRA}
    string_fields = [c for c in present if c != EXTRA and raw.schema[c] == pl.String]
    frame = raw.with_columns(
        (pl.lit(api_type) if api_type else _api_type_per_record(present)).alias("_api_type")
    ).with_columns([_null_dash(c) for c in string_fields])
    if "error_message" in present:
        frame = frame.with_columns(pl.col("error_message").str.strip_chars('"'))
    numeric = [column for column in _NUMERIC_COLUMNS if column in present]
    frame = frame.with_columns(_requested_at(frame, present))
    frame = frame.with_columns(_problems(frame, numeric).alias("_problem")).with_columns(
        _number(column).round(0).cast(_NUMERIC_COLUMNS[column], strict=False) for column in numeric
    )
    bad = frame.filter(pl.col("_problem").is_not_null())
    quarantine = (
        bad.select(
            pl.col("source_line"),
            pl.col("_problem").alias("reason"),
            pl.col("message").alias("record"),
        )
        if bad.height
        else EMPTY_QUARANTINE
    )
    good = frame.filter(pl.col("_problem").is_null()) if bad.height else frame
    canary_from_group = pl.col("log_group").str.ends_with("/Canary").fill_null(False)
    canary = (
        pl.col("is_canary").str.to_lowercase().is_in(["true", "1", "yes"]) | canary_from_group
        if "is_canary" in present
        else canary_from_group
    )
    keep = [c for c in present if c in CONTEXT_COLUMNS.values() and not c.startswith("_")]
    rows = good.select(
        *[pl.col(c) for c in keep if c != "is_canary"],
        pl.col("requested_at"),
        canary.alias("is_canary"),
        pl.col("_api_type").alias("api_type"),
        pl.col("log_group"),
        pl.col("log_stream"),
        pl.lit(source_file).alias("source_file"),
        pl.col("source_line"),
        *([pl.col(EXTRA)] if EXTRA in present else []),
    )
    return conform(rows, RecordKind.ACCESS_REQUESTS), quarantine
