"""The event frame: what every container yields and every format parses.

A container (plain lines, gzip, an S3 export, a subscription payload, CLI JSON, ...) turns a
file into rows of one message each, with whatever the container knows about it. Formats never
see the container, so each format works in every container.
"""

from __future__ import annotations

import polars as pl

from apigw_analytics.schema import UTC_MS

EVENT_SCHEMA = pl.Schema(
    {
        "message": pl.String,
        "source_line": pl.Int64,
        "event_at": UTC_MS,
        "log_group": pl.String,
        "log_stream": pl.String,
        "event_id": pl.String,
    }
)


def event_frame(
    messages: list[str],
    source_lines: list[int],
    *,
    event_at_ms: list[int | None] | None = None,
    log_group: list[str | None] | str | None = None,
    log_stream: list[str | None] | str | None = None,
    event_id: list[str | None] | None = None,
) -> pl.DataFrame:
    """Build an event frame from Python lists (envelope containers; small by nature)."""
    count = len(messages)

    def column(values: list | str | None) -> list:
        return values if isinstance(values, list) else [values] * count

    return pl.DataFrame(
        {
            "message": messages,
            "source_line": source_lines,
            "event_at": pl.Series(column(event_at_ms), dtype=pl.Int64).cast(UTC_MS),
            "log_group": column(log_group),
            "log_stream": column(log_stream),
            "event_id": column(event_id),
        },
        schema=EVENT_SCHEMA,
    )


def quarantine_frame(
    source_lines: pl.Series | list[int],
    reasons: pl.Series | list[str],
    records: pl.Series | list[str],
) -> pl.DataFrame:
    """Rows for the quarantine, before the pipeline adds file, format and run."""
    return pl.DataFrame(
        {"source_line": source_lines, "reason": reasons, "record": records},
        schema={"source_line": pl.Int64, "reason": pl.String, "record": pl.String},
    )


EMPTY_QUARANTINE = quarantine_frame([], [], [])
