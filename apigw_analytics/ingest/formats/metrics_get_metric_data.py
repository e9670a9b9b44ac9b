"""`aws cloudwatch get-metric-data` JSON output: `MetricDataResults[Id, Label, Timestamps, Values]`.

The output does not say which metric a result is: that is only in the request. So the ids are
resolved, in order of trust, through:

1. the `--metric-data-queries` JSON the user sent (`options["metric_data_queries"]`: the list
   of MetricDataQuery objects, or a dict holding it under `MetricDataQueries`), which gives the
   namespace, metric, dimensions, period and statistic exactly; without the option, a sidecar
   file kept beside the output, `_<name>.queries.json` (for `shop.json`: `_shop.queries.json`;
   the `_` keeps a folder walk from reading it as a log);
2. otherwise the Label, then the Id, matched against the known metric names ("MyApi prod Count",
   "m_4xx"), with the dimensions from `options["dimensions"]`; a statistic word in the label
   (sum, avg, p99, ...) picks the column, else counts are read as Sum and latencies as Average
   (what CDK's canned metrics and most dashboards request).

One record = one datapoint (`Timestamps[i]`, `Values[i]`) of one result. A result whose
Timestamps and Values differ in length cannot be paired, so it is one quarantined record, and
so is an event that is not a get-metric-data document. Results come newest first by default;
rows are sorted by series and time. The period is the query's, else `--period`, else the
smallest gap between a series' datapoints, else 60 s. `PartialData` results are kept as they
are (the next page is another file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import polars as pl

from apigw_analytics.errors import InputError
from apigw_analytics.ingest.metric_names import (
    API_GATEWAY_NAMESPACE,
    API_GATEWAY_UNITS,
    dimension_values,
    dimensions_from_pairs,
    error_metric_spelling,
    is_api_gateway_metric,
    metric_from_label,
)
from apigw_analytics.ingest.metric_points import (
    json_text,
    option_period_s,
    parse_documents,
    problem_frame,
    raw,
    sniff_document,
    statistic_column,
)
from apigw_analytics.ingest.registry import ParseContext, ParseResult, Sample, register

_LABEL_STATISTIC = re.compile(
    r"(?<![A-Za-z0-9])(samplecount|sum|average|avg|mean|minimum|min|maximum|max|p\d{1,2}(?:\.\d+)?)"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_STATISTIC_ALIASES = {"avg": "Average", "mean": "Average", "min": "Minimum", "max": "Maximum"}


@dataclass(frozen=True)
class MetricQuery:
    """What one result id stands for: the metric, its dimensions and the statistic asked."""

    metric_name: str
    statistic: str
    namespace: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    period_s: int | None = None
    unit: str | None = None


def queries_by_id(queries: object) -> dict[str, MetricQuery]:
    """The MetricStat queries of a `--metric-data-queries` document, by Id (expressions have
    no single metric and are resolved from their label instead)."""
    if isinstance(queries, dict):
        queries = queries.get("MetricDataQueries", [])
    resolved: dict[str, MetricQuery] = {}
    for query in queries if isinstance(queries, list) else []:
        stat = query.get("MetricStat") if isinstance(query, dict) else None
        metric = stat.get("Metric") if isinstance(stat, dict) else None
        if not isinstance(metric, dict) or "Id" not in query or "MetricName" not in metric:
            continue
        dimensions = dimensions_from_pairs(metric.get("Dimensions"))
        period = stat.get("Period")
        resolved[str(query["Id"])] = MetricQuery(
            metric_name=str(metric["MetricName"]),
            statistic=str(stat.get("Stat", "Average")),
            namespace=metric.get("Namespace"),
            dimensions=dimensions,
            period_s=int(period) if isinstance(period, int | float) else None,
            unit=stat.get("Unit"),
        )
    return resolved


def sidecar_queries(output: Path) -> object:
    """The queries kept beside a get-metric-data output as `_<name>.queries.json`, if any;
    a sidecar that is not JSON is an InputError naming it (it was put there to be read)."""
    name = output.name.removesuffix(".gz").removesuffix(".json")
    sidecar = output.with_name(f"_{name}.queries.json")
    if not sidecar.is_file():
        return None
    try:
        return orjson.loads(sidecar.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise InputError(f"{sidecar}: cannot read the metric data queries: {error}") from None


def statistic_from_label(label: str, metric_name: str) -> str:
    """The statistic a label names ("p99 latency", "m_4xx_sum"), else the usual one."""
    for match in _LABEL_STATISTIC.finditer(label):
        word = match.group(1)
        return _STATISTIC_ALIASES.get(word.lower(), word)
    return "Average" if "Latency" in metric_name else "Sum"


def _guess_query(result: dict, dimensions: dict[str, str]) -> MetricQuery:
    label = str(result.get("Label") or "")
    result_id = str(result.get("Id") or "")
    metric_name = (
        metric_from_label(label, dimensions)
        or metric_from_label(result_id, dimensions)
        or label
        or result_id
    )
    metric_name = error_metric_spelling(metric_name, dimensions)
    return MetricQuery(
        metric_name=metric_name,
        statistic=statistic_from_label(label or result_id, metric_name),
        namespace=API_GATEWAY_NAMESPACE if is_api_gateway_metric(metric_name) else None,
        dimensions=dimensions,
    )


class _Parser:
    def __init__(self, context: ParseContext) -> None:
        options = context.options
        self.source_file = context.source_file
        self.queries = queries_by_id(
            options.get("metric_data_queries") or sidecar_queries(Path(context.source_file))
        )
        dimensions = options.get("dimensions")
        self.dimensions = dict(dimensions) if isinstance(dimensions, dict) else {}
        self.period_s = option_period_s(options)

    def _result_frame(self, result: object, line: int) -> pl.DataFrame:
        if not isinstance(result, dict):
            return problem_frame(line, "MetricDataResults item is not an object", result)
        timestamps = result.get("Timestamps") or []
        values = result.get("Values") or []
        if not isinstance(timestamps, list) or not isinstance(values, list):
            return problem_frame(line, "Timestamps or Values is not a list", result)
        if len(timestamps) != len(values):
            reason = f"Timestamps and Values differ in length ({len(timestamps)} != {len(values)})"
            return problem_frame(line, reason, result)
        result_id = str(result.get("Id") or "")
        query = self.queries.get(result_id) or _guess_query(result, self.dimensions)
        column = statistic_column(query.statistic)
        records = [
            orjson.dumps({"Id": result_id, "Timestamp": time, "Value": value}).decode()
            for time, value in zip(timestamps, values, strict=True)
        ]
        frame = pl.DataFrame(
            {
                "raw_timestamp": [json_text(time) for time in timestamps],
                raw(column): [json_text(value) for value in values],
                "record": records,
            },
            schema={"raw_timestamp": pl.String, raw(column): pl.String, "record": pl.String},
        )
        identity = {
            "namespace": query.namespace,
            "metric_name": query.metric_name,
            "unit": query.unit or API_GATEWAY_UNITS.get(query.metric_name),
            **dimension_values(query.dimensions),
        }
        return frame.with_columns(
            pl.lit(line, pl.Int64).alias("source_line"),
            pl.lit(query.period_s or self.period_s, pl.Int32).alias("period_s"),
            *(pl.lit(value, pl.String).alias(name) for name, value in identity.items()),
        )

    def _document_frames(self, document: dict, line: int) -> list[pl.DataFrame] | None:
        results = document.get("MetricDataResults")
        if not isinstance(results, list):
            return None
        return [self._result_frame(result, line) for result in results]

    def feed(self, events: pl.DataFrame) -> ParseResult:
        return parse_documents(events, self.source_file, self._document_frames, "get-metric-data")

    def finish(self) -> ParseResult:
        return ParseResult()


class GetMetricDataFormat:
    """Registered as `cloudwatch-get-metric-data`."""

    name = "cloudwatch-get-metric-data"
    description = "CloudWatch get-metric-data JSON output (MetricDataResults)"

    def sniff(self, sample: Sample) -> float:
        return sniff_document(sample.messages, "MetricDataResults")

    def open_parser(self, context: ParseContext) -> _Parser:
        return _Parser(context)


register(GetMetricDataFormat())
