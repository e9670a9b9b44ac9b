"""Execution-log lines taken apart: prefixes, request ids, times, and the log group's meaning.

One line of an execution log may carry, in this order, an ISO time (S3 exports and exporters,
unless the container already moved it into `event_at`), a console test-invoke time in Java's
`Date.toString()` form followed by ` : `, and the `(requestId) ` prefix; any of them may be absent
(2016 logs have no request id, test-invoke output has no request id either). Only the short
prefix is captured by the regex, and the message is a slice after it, so the cost of a line does
not grow with its body (bodies and header maps run to 1 KB).
"""

from __future__ import annotations

import polars as pl

from apigw_analytics.schema import UTC_MS

_ISO_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"
_JAVA_TIME = (
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (?:UTC|GMT) \d{4}"
)
_REQUEST_ID = r"\([^()\s]{1,128}\)"
_PREFIX = rf"^((?:{_ISO_TIME} )?(?:{_JAVA_TIME} : )?(?:{_REQUEST_ID} )?)"
_JAVA_FORMAT = "%a %b %d %H:%M:%S %Y"
_TIME_START = r"^(?:\d{4}-\d\d-\d\dT|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z])"

# Old logs without the prefix name their request on these lines; the lines after them belong
# to that request until the next one.
_NAMING_LINE = (
    r"^(?:Verifying Usage Plan for request|Starting execution for request"
    r"|Starting authorizer: \S+ for request): ([0-9A-Za-z_-]+)"
)

_REST_GROUP = (
    r"^API-Gateway-Execution-Logs[_/](?<api_id>[^/]+)/(?<stage>[^/]+?)(?<canary>/Canary)?$"
)
_WEBSOCKET_GROUP = r"^/aws/apigateway/(?<api_id>[^/]+)/(?<stage>[^/]+)$"


def split_prefix(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `prefix_request_id`, `prefix_event_at` and `body` (the message after the prefix).

    Chunks whose lines carry no time of their own (the common case: the container already took
    the time, or there is none) take a path that only looks for the request id.
    """
    message = pl.col("message")
    if not frame.select(message.str.contains(_TIME_START).any()).item():
        request_id = message.str.extract(r"^\(([^()\s]{1,128})\) ", 1)
        return frame.with_columns(request_id.alias("prefix_request_id")).with_columns(
            pl.lit(None, UTC_MS).alias("prefix_event_at"),
            message.str.slice(pl.col("prefix_request_id").str.len_chars().fill_null(-3) + 3)
            .alias("body"),
        )  # fmt: skip
    with_prefix = frame.with_columns(message.str.extract(_PREFIX, 1).alias("_prefix"))
    iso = pl.col("_prefix").str.extract(rf"^({_ISO_TIME}) ", 1)
    java = pl.col("_prefix").str.extract(rf"({_JAVA_TIME}) : ", 1)
    java_time = java.str.replace(r" (?:UTC|GMT) ", " ").str.to_datetime(
        _JAVA_FORMAT, time_unit="ms", strict=False
    )
    return with_prefix.with_columns(
        pl.col("_prefix").str.extract(r"\(([^()\s]+)\) $", 1).alias("prefix_request_id"),
        pl.coalesce(
            iso.str.to_datetime(time_unit="ms", time_zone="UTC", strict=False),
            java_time.dt.replace_time_zone("UTC"),
        ).alias("prefix_event_at"),
        message.str.slice(pl.col("_prefix").str.len_chars()).alias("body"),
    ).drop("_prefix")


def named_request_id(body: pl.Expr) -> pl.Expr:
    """The request id a usage-plan, execution or authorizer start line names (else null)."""
    return body.str.extract(_NAMING_LINE, 1)


def log_group_fields(log_groups: pl.Series) -> pl.DataFrame:
    """api_id, stage and is_canary for each distinct log group (REST or WebSocket naming).

    Works on the distinct values because a source has one or a handful of groups; a group that
    is neither naming (or no group at all) gives nulls: unknown, not false.
    """
    groups = pl.DataFrame({"log_group": log_groups.unique()}, schema={"log_group": pl.String})
    rest = pl.col("log_group").str.extract_groups(_REST_GROUP)
    websocket = pl.col("log_group").str.extract_groups(_WEBSOCKET_GROUP)
    named = groups.select(
        "log_group",
        pl.coalesce(rest.struct.field("api_id"), websocket.struct.field("api_id")).alias("api_id"),
        pl.coalesce(rest.struct.field("stage"), websocket.struct.field("stage")).alias("stage"),
        rest.struct.field("canary").is_not_null().alias("is_canary"),
    )
    return named.with_columns(
        pl.when(pl.col("api_id").is_not_null()).then(pl.col("is_canary")).alias("is_canary")
    )


def with_log_group_fields(frame: pl.DataFrame) -> pl.DataFrame:
    """Add api_id, stage, is_canary from the frame's `log_group` column."""
    fields = log_group_fields(frame["log_group"])
    if fields.height == 1:
        row = fields.row(0, named=True)
        return frame.with_columns(
            pl.lit(row["api_id"], pl.String).alias("api_id"),
            pl.lit(row["stage"], pl.String).alias("stage"),
            pl.lit(row["is_canary"], pl.Boolean).alias("is_canary"),
        )
    return frame.join(fields, on="log_group", how="left", nulls_equal=True)
