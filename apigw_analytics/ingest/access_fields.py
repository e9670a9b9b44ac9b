"""Access-log fields by meaning: which `$context` variable a key holds, and the typed row.

API Gateway writes whatever template the stage owner configured, so key names are free
(`ip`/`sourceIp`, `httpMethod`/`method`, sorted keys from Terraform). Every format maps its
fields to `$context` variables here, and one DuckDB query (`access_rows_sql`, run on a whole
file or on a chunk by `finalize_access`) turns those raw strings into rows of the canonical
schema the same way for JSON, CLF, CSV, XML and compiled templates:

* `-` (AWS's "no value") and empty strings become null, never 0;
* numbers are parsed; a value that is not a number quarantines the record, naming the field;
* `requested_at` comes from `requestTimeEpoch` (ms, or s when 10 digits), else `requestTime`
  (CLF, second resolution), else the CloudWatch event time; none of them quarantines the record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import polars as pl

from apigw_analytics.ingest.events import EMPTY_QUARANTINE
from apigw_analytics.schema import UTC_MS, RecordKind, conform, polars_schema

# Columns a user may label a source's records with, when the records do not log them.
LABEL_COLUMNS = ("api_id", "stage")
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
# The same name's parts: an HTTP API's access-log stream is `<apiId>_<stage>-<yyyy-mm-dd-HH-MM>`,
# the `$` of `$default` written as `.` (aws-formats.md §1.1).
_HTTP_LOG_STREAM_PARTS = r"^([a-z0-9]{10})_(.+)-\d{4}-\d\d-\d\d-\d\d-\d\d$"


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


def sql_name(name: str) -> str:
    """A column name quoted for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def sql_text(text: str) -> str:
    """A string literal for DuckDB."""
    return "'" + text.replace("'", "''") + "'"


_SQL_TYPES = {pl.Int32: "INTEGER", pl.Int64: "BIGINT"}
_NO_TIME = "no request time (requestTimeEpoch, requestTime or an event time)"
_CLF_OFFSET_MINUTES = (
    "coalesce((TRY_CAST(substr({t}, 23, 2) AS INTEGER) * 60"
    " + TRY_CAST(substr({t}, 25, 2) AS INTEGER))"
    " * CASE WHEN substr({t}, 22, 1) = '-' THEN -1 ELSE 1 END, 0)"
)
_ISO_ZONED = ["%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z"]
_ISO_NAIVE = ["%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def _sql_list(items: list[str]) -> str:
    return "[" + ", ".join(sql_text(item) for item in items) + "]"


def _number_sql(column: str) -> str:
    """The value as a double, or NULL; surrounding spaces make it not a number, as in polars.
    (`prefix`/`suffix` say what `value = trim(value)` says in a third of the time.)"""
    value = sql_name(column)
    spaced = f"prefix({value}, ' ') OR suffix({value}, ' ')"
    return f"CASE WHEN NOT ({spaced}) THEN TRY_CAST({value} AS DOUBLE) END"


def _api_type_sql(present: set[str]) -> str:
    """`infer_api_type` per record, from the fields it holds before `-` becomes null (a `-`
    still counts), so that one source mixing templates (a Firehose or subscription export of
    several APIs) gets the right type per record."""

    def holds(column: str) -> str:
        return f"{sql_name(column)} IS NOT NULL" if column in present else "false"

    websocket = " OR ".join(holds(c) for c in ("connection_id", "event_type", "message_id"))
    http_stream = f"coalesce(regexp_matches(log_stream, {sql_text(_HTTP_LOG_STREAM)}), false)"
    http = f"{http_stream} OR ({holds('route_key')} AND NOT ({holds('resource_path')}))"
    return f"CASE WHEN {websocket} THEN 'websocket' WHEN {http} THEN 'http' ELSE 'rest' END"


def _requested_at_sql(present: set[str]) -> str:
    """Epoch ms from `requestTimeEpoch` (ms, or s when below 1e11), else `requestTime` (CLF,
    the offset applied as minutes; else ISO 8601), else the event time."""
    candidates = []
    if REQUEST_TIME_EPOCH in present:
        epoch = sql_name("#" + REQUEST_TIME_EPOCH)
        candidates.append(
            f"TRY_CAST(trunc(CASE WHEN {epoch} < 1e11 THEN {epoch} * 1000 ELSE {epoch} END)"
            " AS BIGINT)"
        )
    if REQUEST_TIME in present:
        text = sql_name(REQUEST_TIME)
        candidates.append(f"epoch_ms(try_strptime({text}, '%d/%b/%Y:%H:%M:%S %z'))")  # fast
        candidates.append(
            f"epoch_ms(try_strptime(substr({text}, 1, 20), '%d/%b/%Y:%H:%M:%S'))"
            f" - 60000 * {_CLF_OFFSET_MINUTES.format(t=text)}"
        )
        candidates.append(f"epoch_ms(try_strptime({text}, {_sql_list(_ISO_ZONED)}))")
        candidates.append(f"epoch_ms(try_strptime(rtrim({text}, 'Z'), {_sql_list(_ISO_NAIVE)}))")
    candidates.append("event_at_ms")
    return f"coalesce({', '.join(candidates)})"


def access_rows_sql(
    relation: str,
    present: set[str],
    *,
    source_file: str,
    api_type: str | None,
    with_message: bool,
    carry: tuple[str, ...] = (),
    varying_only: bool = False,
    labels: Mapping[str, str] | None = None,
) -> str:
    """The query turning raw string fields into access-request rows, in DuckDB.

    `relation` holds `source_line` (unless `varying_only`), `event_at_ms`, `log_group`,
    `log_stream` (and `message` when `with_message`), and one VARCHAR column per raw field in
    `present` (canonical columns, `_request_time`, `_request_time_epoch`, `extra`). The result
    has the access-request columns in schema order (`requested_at` as epoch ms), then `message`
    and the `carry` columns of the relation, then `_problem`: the reason a record is
    quarantined, or NULL.
    Running it where the fields are extracted (a whole-file scan, or a chunk) keeps the work
    vectorised and parallel.

    `varying_only` (a whole-file scan of a plain file, whose rows are many) leaves out the
    columns that are the same in every row (absent fields, the file, the log group and
    stream) and `source_line` (the rows come in file order: numbering them in SQL would need
    a window, which runs on one thread), for the caller to add, and keeps `message` only for
    quarantined records.

    `labels` (`source_labels`) give `api_id` and `stage` to records that log neither.
    """
    fields = [c for c in present if c != EXTRA]
    numeric = [c for c in _NUMERIC_COLUMNS if c in present]
    numbers = [*numeric, *([REQUEST_TIME_EPOCH] if REQUEST_TIME_EPOCH in present else [])]
    message = ["message"] if with_message else []
    level_fields = []
    for column in fields:
        value = f"nullif(nullif({sql_name(column)}, '-'), '')"
        if column == "error_message":
            value = f"trim({value}, '\"')"
        level_fields.append(f"{value} AS {sql_name(column)}")
    kept = [
        *([] if varying_only else ["source_line"]),
        "event_at_ms",
        "log_group",
        "log_stream",
        f"{_api_type_sql(present)} AS _api_type",
        *message,
        *carry,
        *level_fields,
        *([EXTRA] if EXTRA in present else []),
    ]
    cleaned = f"SELECT {', '.join(kept)} FROM {relation}"
    as_numbers = [f"{_number_sql(c)} AS {sql_name('#' + c)}" for c in numbers]
    timed = (
        f"SELECT *, {_requested_at_sql(present)} AS _requested_at_ms"
        f" FROM (SELECT {', '.join(['*', *as_numbers])} FROM ({cleaned}))"
    )
    checks = [(f"{c}: not a number: ", c) for c in numeric]
    if REQUEST_TIME_EPOCH in present:
        checks.append(("requestTimeEpoch: not a number: ", REQUEST_TIME_EPOCH))
    problem = " ".join(
        f"WHEN {sql_name(c)} IS NOT NULL AND {sql_name('#' + c)} IS NULL"
        f" THEN {sql_text(label)} || {sql_name(c)}"
        for label, c in checks
    )
    problem = f"CASE {problem} WHEN _requested_at_ms IS NULL THEN {sql_text(_NO_TIME)} END"
    outputs = [
        f"{expression} AS {sql_name(name)}"
        for name, expression in _output_columns(
            present, numeric, source_file=source_file, api_type=api_type, labels=labels or {}
        )
        if expression is not None and not (varying_only and expression.startswith(_CONSTANT))
    ]
    rows = f"SELECT {', '.join([*outputs, *message, *carry])}, {problem} AS _problem FROM ({timed})"
    if varying_only and with_message:
        return (
            "SELECT * REPLACE (CASE WHEN _problem IS NOT NULL THEN message END AS message) "
            f"FROM ({rows})"
        )
    return rows


# Output expressions that are the same for every row of a source start with this comment.
_CONSTANT = "/* constant */ "


def _output_columns(
    present: set[str],
    numeric: list[str],
    *,
    source_file: str,
    api_type: str | None,
    labels: Mapping[str, str],
) -> list[tuple[str, str]]:
    """Each access-request column's expression over the finalised fields."""
    group_canary = "coalesce(ends_with(log_group, '/Canary'), false)"
    columns = []
    for name, dtype in polars_schema(RecordKind.ACCESS_REQUESTS).items():
        if name == "requested_at":
            expression = "_requested_at_ms"
        elif name == "is_canary":
            expression = (
                f"lower(is_canary) IN ('true', '1', 'yes') OR {group_canary}"
                if "is_canary" in present
                else group_canary
            )
        elif name == "api_type":
            expression = sql_text(api_type) if api_type else "_api_type"
        elif name == "source_line":
            expression = _CONSTANT + name  # a whole-file scan numbers its rows in order
        elif name in ("log_group", "log_stream"):
            expression = _CONSTANT + name
        elif name in LABEL_COLUMNS:
            expression = _from_log_stream(name, present, labels.get(name))
        elif name == "source_file":
            expression = _CONSTANT + sql_text(source_file)
        elif name in numeric:
            expression = f"TRY_CAST(round_even({sql_name('#' + name)}, 0) AS {_SQL_TYPES[dtype]})"
        elif name in present:
            expression = sql_name(name)
        else:
            sql_type = _SQL_TYPES.get(dtype, "BOOLEAN" if dtype == pl.Boolean else "VARCHAR")
            expression = f"{_CONSTANT}NULL::{sql_type}"
        columns.append((name, expression))
    return columns


def _from_log_stream(name: str, present: set[str], label: str | None) -> str:
    """`api_id` or `stage` as logged, else read from an HTTP API's log stream name, else the
    label the user gave (`ingest --api-id/--stage`): the console presets log neither, and
    without them every such request would be of an unknown API, matching no metric. (The log
    stream and the label are the same for a whole source, so the value is constant when the
    record does not log it.)"""
    part = f"nullif(regexp_extract(log_stream, {sql_text(_HTTP_LOG_STREAM_PARTS)}, "
    derived = f"{part}1), '')"
    if name == "stage":
        derived = f"replace({part}2), ''), '.default', '$default')"
    if label is not None:
        derived = f"coalesce({derived}, {sql_text(label)})"
    if name in present:
        return f"coalesce({sql_name(name)}, {derived})"
    return _CONSTANT + derived


def source_labels(options: Mapping[str, object]) -> dict[str, str]:
    """The `api_id` and `stage` a user gave for a source's records (ParseContext options)."""
    return {name: str(options[name]) for name in LABEL_COLUMNS if options.get(name)}


def _connection():
    """One DuckDB connection for the chunk-by-chunk parsers (single-threaded callers)."""
    global _CONNECTION  # noqa: PLW0603 - created on first use, so `--help` never imports duckdb
    if _CONNECTION is None:
        import duckdb

        _CONNECTION = duckdb.connect()
    return _CONNECTION


_CONNECTION = None


def finalize_access(
    raw: pl.DataFrame,
    *,
    source_file: str,
    api_type: str | None,
    labels: Mapping[str, str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed access-request rows and quarantine rows from raw string fields.

    `raw` holds one string column per canonical column found (plus `_request_time`,
    `_request_time_epoch`, `extra`), and the event columns `message`, `source_line`,
    `event_at`, `log_group`, `log_stream`.
    """
    present = {c for c in raw.columns if c in CONTEXT_COLUMNS.values() or c == EXTRA}
    chunk = raw.select(
        "message",
        "source_line",
        pl.col("event_at").dt.epoch("ms").alias("event_at_ms"),
        pl.col("log_group").cast(pl.String),
        pl.col("log_stream").cast(pl.String),
        *(pl.col(c).cast(pl.String) for c in sorted(present)),
    )
    query = access_rows_sql(
        "chunk",
        present,
        source_file=source_file,
        api_type=api_type,
        with_message=True,
        labels=labels,
    )
    connection = _connection()
    connection.register("chunk", chunk.to_arrow())
    try:
        frame = connection.sql(query).pl()
    finally:
        connection.unregister("chunk")
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
    rows = good.drop("message", "_problem").with_columns(pl.col("requested_at").cast(UTC_MS))
    return conform(rows, RecordKind.ACCESS_REQUESTS), quarantine
