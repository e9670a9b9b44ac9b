"""`aws cloudwatch get-metric-statistics` JSON output: `{Label, Datapoints[...]}`.

One call returns one metric: the Label is its name, each datapoint holds the statistics that
were asked for (`SampleCount`, `Average`, `Sum`, `Minimum`, `Maximum`, `ExtendedStatistics`
such as `{"p99": ...}`) and a `Unit`. The output names no dimensions, so they come from
`--dimensions` (`options["dimensions"]`) or else from the file name, by this convention: the
name without `.json`/`.gz` is a comma-separated list of `Name=Value` dimensions plus at most
one part without `=` that is the metric name (used when the output has no Label), e.g.
`ApiName=petstore,Stage=prod,Count.json` or `ApiId=a1b2c3d4e5,Stage=prod,4xx.json`.

One record = one datapoint. Datapoints come unsorted; rows are sorted by time. The period is
`--period`, else the smallest gap between datapoints, else 60 s with a warning in the ingest
summary (one datapoint tells no period). Older CLIs print floats with
binary noise (0.33000000000000002); values are rounded to 12 significant digits, which removes
the noise and keeps every realistic count exact.
"""

from __future__ import annotations

import orjson
import polars as pl

from apigw_analytics.ingest.metric_names import (
    API_GATEWAY_NAMESPACE,
    dimension_values,
    dimensions_from_file_name,
    error_metric_spelling,
    is_api_gateway_metric,
    metric_from_label,
)
from apigw_analytics.ingest.metric_points import (
    json_text,
    option_period_s,
    parse_documents,
    raw,
    sniff_document,
    statistic_column,
)
from apigw_analytics.ingest.registry import ParseContext, ParseResult, Sample, register

_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


def _datapoint_row(datapoint: object) -> dict[str, str | None]:
    """The raw text columns of one datapoint (a datapoint that is not an object is flagged)."""
    record = orjson.dumps(datapoint).decode()
    if not isinstance(datapoint, dict):
        return {"record": record, "reason": "datapoint is not an object"}
    row: dict[str, str | None] = {
        "record": record,
        "raw_timestamp": json_text(datapoint.get("Timestamp")),
        "unit": json_text(datapoint.get("Unit")),
    }
    for statistic in _STATISTICS:
        if statistic in datapoint:
            row[raw(statistic_column(statistic))] = json_text(datapoint[statistic])
    extended = datapoint.get("ExtendedStatistics")
    if isinstance(extended, dict):
        for statistic, value in extended.items():
            row[raw(statistic_column(str(statistic)))] = json_text(value)
    elif extended is not None:
        row["reason"] = "ExtendedStatistics is not an object"
    return row


class _Parser:
    def __init__(self, context: ParseContext) -> None:
        self.source_file = context.source_file
        given = context.options.get("dimensions")
        named_dimensions, self.file_metric_name = dimensions_from_file_name(context.source_file)
        self.dimensions = dict(given) if isinstance(given, dict) else named_dimensions
        self.period_s = option_period_s(context.options)

    def _metric_name(self, label: str | None) -> str | None:
        name = label or self.file_metric_name
        if name is None or is_api_gateway_metric(name):
            return error_metric_spelling(name, self.dimensions) if name else None
        return metric_from_label(name, self.dimensions) or name

    def _document_frame(self, document: dict, line: int) -> pl.DataFrame:
        datapoints = document["Datapoints"]
        rows = [_datapoint_row(datapoint) for datapoint in datapoints]
        columns = sorted({name for row in rows for name in row})
        frame = pl.DataFrame(
            {name: [row.get(name) for row in rows] for name in columns},
            schema=dict.fromkeys(columns, pl.String),
        )
        label = document.get("Label")
        metric_name = self._metric_name(str(label) if label is not None else None)
        namespace = (
            API_GATEWAY_NAMESPACE if metric_name and is_api_gateway_metric(metric_name) else None
        )
        identity = {
            "namespace": namespace,
            "metric_name": metric_name,
            **dimension_values(self.dimensions),
        }
        frame = frame.with_columns(
            pl.lit(line, pl.Int64).alias("source_line"),
            pl.lit(self.period_s, pl.Int32).alias("period_s"),
            *(pl.lit(value, pl.String).alias(name) for name, value in identity.items()),
        )
        if metric_name is None:
            frame = frame.with_columns(
                pl.lit("no metric name: the output has no Label and the file name none").alias(
                    "reason"
                )
            )
        return frame

    def _document_frames(self, document: dict, line: int) -> list[pl.DataFrame] | None:
        datapoints = document.get("Datapoints")
        if not isinstance(datapoints, list):
            return None
        return [self._document_frame(document, line)] if datapoints else []

    def feed(self, events: pl.DataFrame) -> ParseResult:
        return parse_documents(
            events, self.source_file, self._document_frames, "get-metric-statistics"
        )

    def finish(self) -> ParseResult:
        return ParseResult()


class GetMetricStatisticsFormat:
    """Registered as `cloudwatch-get-metric-statistics`."""

    name = "cloudwatch-get-metric-statistics"
    description = "CloudWatch get-metric-statistics JSON output (Label, Datapoints)"

    def sniff(self, sample: Sample) -> float:
        return sniff_document(sample.messages, "Datapoints")

    def open_parser(self, context: ParseContext) -> _Parser:
        return _Parser(context)


register(GetMetricStatisticsFormat())
