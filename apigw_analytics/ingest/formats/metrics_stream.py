"""CloudWatch Metric Streams, JSON output format: one datapoint object per line.

Each object is one minute of one metric: `metric_stream_name, account_id, region, namespace,
metric_name, dimensions{}, timestamp` (epoch ms) `, value{count, sum, max, min, p99, ...}, unit`.
Streams are the large metric source (every metric of every dimension set every minute), so a
chunk is decoded by polars in one go; only a chunk holding a line polars cannot decode goes
line by line to find it, and the rest is decoded in one go again.

One record = one line (one datapoint); blank lines are skipped. Rows: sample_count = count,
sum, minimum = min, maximum = max, average = sum / count (when count > 0), p50/p90/p99 when
streamed, other statistics (p99.9, TM(25%:75%)) in `extra_statistics`; period 60 s, the
stream's aggregation.
"""

from __future__ import annotations

import orjson
import polars as pl

from apigw_analytics.ingest.metric_names import dimension_frame
from apigw_analytics.ingest.metric_points import (
    build_points,
    raw,
    statistic_column,
)
from apigw_analytics.ingest.registry import ParseContext, ParseResult, Sample, register

STREAM_PERIOD_S = 60
_STREAM_STATISTICS = {"count": "sample_count", "sum": "sum", "max": "maximum", "min": "minimum"}


_PREFIX = "json."  # decoded keys are prefixed so that no key can shadow our own columns


def _is_nested(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.Struct | pl.List | pl.Array)


def _field(decoded: pl.DataFrame, name: str) -> pl.Expr:
    """A top-level key as text; null where absent or not a scalar (all-absent keys have no
    column at all)."""
    dtype = decoded.schema.get(_PREFIX + name)
    if dtype is None or _is_nested(dtype):
        return pl.lit(None, pl.String)
    return pl.col(_PREFIX + name).cast(pl.String)


def _statistics(decoded: pl.DataFrame) -> tuple[list[pl.Expr], pl.Expr | None]:
    """One raw text column per streamed statistic, and a reason for a `value` that is not an
    object (None when every `value` is)."""
    dtype = decoded.schema.get(_PREFIX + "value")
    if not isinstance(dtype, pl.Struct):
        present = pl.col(_PREFIX + "value").is_not_null() if dtype else pl.lit(False)
        return [], pl.when(present).then(pl.lit("value is not an object"))
    columns = []
    for statistic in dtype.fields:
        value = pl.col(_PREFIX + "value").struct.field(statistic.name)
        text = pl.lit("<nested JSON>") if _is_nested(statistic.dtype) else value.cast(pl.String)
        name = _STREAM_STATISTICS.get(statistic.name) or statistic_column(statistic.name)
        columns.append(pl.when(value.is_not_null()).then(text).alias(raw(name)))
    return columns, None


def _decode(messages: pl.Series) -> pl.DataFrame:
    """The JSON objects of a column of lines, one prefixed column per top-level key."""
    decoded = messages.str.json_decode(infer_schema_length=None)
    if not isinstance(decoded.dtype, pl.Struct):
        raise pl.exceptions.ComputeError("lines are not JSON objects")
    return decoded.struct.unnest().rename(lambda name: _PREFIX + name)


def _points_from_lines(lines: pl.DataFrame, source_file: str) -> pl.DataFrame:
    """Raw datapoints of lines that all decode to objects."""
    decoded = _decode(lines.get_column("message"))
    statistics, value_problem = _statistics(decoded)
    dimensions = decoded.schema.get(_PREFIX + "dimensions")
    if isinstance(dimensions, pl.Struct) and dimensions.fields:
        dimension_text = decoded.get_column(_PREFIX + "dimensions").struct.json_encode()
    else:
        dimension_text = pl.Series([None] * decoded.height, dtype=pl.String)
    problems = [
        pl.when(_field(decoded, key).is_null()).then(pl.lit(f"missing {key}"))
        for key in ("metric_name", "timestamp")
    ]
    if value_problem is not None:
        problems.append(value_problem)
    combined = pl.concat(
        [lines.select("source_line", pl.col("message").alias("record")), decoded],
        how="horizontal",
    )
    points = combined.select(
        "source_line",
        "record",
        _field(decoded, "namespace").alias("namespace"),
        _field(decoded, "metric_name").alias("metric_name"),
        _field(decoded, "timestamp").alias("raw_timestamp"),
        _field(decoded, "unit").alias("unit"),
        pl.coalesce(problems).alias("reason"),
        *statistics,
    )
    return pl.concat(
        [_with_average(points), dimension_frame(dimension_text)], how="horizontal"
    ).with_columns(
        pl.lit(STREAM_PERIOD_S, pl.Int32).alias("period_s"),
        pl.lit(source_file).alias("source_file"),
    )


def _with_average(points: pl.DataFrame) -> pl.DataFrame:
    """Average = sum / count; the stream does not send it, and an empty minute has none."""
    if raw("sum") not in points.columns or raw("sample_count") not in points.columns:
        return points
    total = pl.col(raw("sum")).cast(pl.Float64, strict=False)
    count = pl.col(raw("sample_count")).cast(pl.Float64, strict=False)
    return points.with_columns(
        pl.when(count > 0).then(total / count).cast(pl.String).alias(raw("average"))
    )


def _split_undecodable(lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Lines that are JSON objects, and the quarantine rows of those that are not."""
    reasons: list[str | None] = []
    for message in lines.get_column("message"):
        try:
            value = orjson.loads(message)
        except orjson.JSONDecodeError as error:
            reasons.append(f"invalid JSON: {error}")
            continue
        if not isinstance(value, dict):
            reasons.append("not a JSON object")
        elif not isinstance(value.get("value", {}), dict):
            reasons.append("value is not an object")
        elif not isinstance(value.get("dimensions", {}), dict | None):
            reasons.append("dimensions is not an object")
        else:
            reasons.append(None)
    flagged = lines.with_columns(pl.Series("reason", reasons, dtype=pl.String))
    bad = flagged.filter(pl.col("reason").is_not_null()).select(
        "source_line", "reason", pl.col("message").alias("record")
    )
    return flagged.filter(pl.col("reason").is_null()).drop("reason"), bad


class _Parser:
    def __init__(self, context: ParseContext) -> None:
        self.source_file = context.source_file

    def feed(self, events: pl.DataFrame) -> ParseResult:
        lines = events.select("source_line", "message")
        blank = lines.get_column("message").str.strip_chars().eq("")
        skipped = int(blank.sum())
        lines = lines.filter(~blank)
        if lines.height == 0:
            return build_points(pl.DataFrame(), skipped=skipped)
        try:
            raw_points = _points_from_lines(lines, self.source_file)
        except pl.exceptions.PolarsError:
            good, bad = _split_undecodable(lines)
            parts = [bad]
            if good.height:
                parts.append(_points_from_lines(good, self.source_file))
            raw_points = pl.concat(parts, how="diagonal_relaxed")
        return build_points(raw_points, skipped=skipped)

    def finish(self) -> ParseResult:
        return ParseResult()


class MetricStreamFormat:
    """Registered as `cloudwatch-metric-stream`."""

    name = "cloudwatch-metric-stream"
    description = "CloudWatch Metric Streams JSON (one datapoint object per line)"

    def sniff(self, sample: Sample) -> float:
        """High when the first non-blank messages are objects with metric-stream keys."""
        checked = [message for message in sample.messages if message.strip()][:5]
        if not checked:
            return 0.0
        hits = 0
        for message in checked:
            try:
                value = orjson.loads(message)
            except orjson.JSONDecodeError:
                continue
            if isinstance(value, dict) and {"metric_name", "value", "timestamp"} <= value.keys():
                hits += 1
        return 0.95 * hits / len(checked)

    def open_parser(self, context: ParseContext) -> _Parser:
        return _Parser(context)


register(MetricStreamFormat())
