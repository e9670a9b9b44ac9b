"""Metric names and dimensions of CloudWatch exports, mapped onto the warehouse's columns.

Every metric export names metrics the way AWS writes them (`4XXError` on REST, `4xx` on HTTP
APIs) and carries dimensions as free-form name/value pairs. Queries need one vocabulary, so this
module maps each AWS name to one canonical `metric` (both REST and HTTP client errors become
`client_error_count`) and the API Gateway dimensions to columns. Shared by the three metric
formats so that the same datapoint lands in the same row whichever export it came from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import polars as pl

API_GATEWAY_NAMESPACE = "AWS/ApiGateway"

CANONICAL_METRICS: dict[str, str] = {
    "Count": "request_count",
    "4XXError": "client_error_count",
    "4xx": "client_error_count",
    "5XXError": "server_error_count",
    "5xx": "server_error_count",
    "Latency": "latency_ms",
    "IntegrationLatency": "integration_latency_ms",
    "CacheHitCount": "cache_hit_count",
    "CacheMissCount": "cache_miss_count",
    "DataProcessed": "data_processed_bytes",
    "ConnectCount": "connect_count",
    "MessageCount": "message_count",
    "IntegrationError": "integration_error",
    "ClientError": "client_error",
    "ExecutionError": "execution_error",
}

# Dimensions with a column of their own; any other dimension goes to `extra_dimensions`.
DIMENSION_COLUMNS: dict[str, str] = {
    "ApiName": "api_name",
    "ApiId": "api_id",
    "Stage": "stage",
    "Method": "method",
    "Resource": "resource",
    "Route": "route",
}
DIMENSION_OUTPUT_COLUMNS = (*DIMENSION_COLUMNS.values(), "extra_dimensions")

# REST spells its error metrics `4XXError`, HTTP APIs `4xx`; a label only says "4xx".
_ERROR_SPELLINGS = {"4XXError": ("4XXError", "4xx"), "5XXError": ("5XXError", "5xx")}
_ERROR_SPELLINGS.update({"4xx": _ERROR_SPELLINGS["4XXError"], "5xx": _ERROR_SPELLINGS["5XXError"]})

# What a label may call a metric: its AWS name or its canonical name, compared without case
# or separators ("integration latency", "IntegrationLatency" and "integration_latency_ms" agree).
_LABEL_NAMES: dict[str, str] = {}
for _aws_name, _canonical in CANONICAL_METRICS.items():
    _LABEL_NAMES.setdefault(_canonical.replace("_", ""), _aws_name)
    _LABEL_NAMES[_aws_name.lower()] = _aws_name
_LABEL_NAMES["4xx"], _LABEL_NAMES["5xx"] = "4xx", "5xx"
_LABEL_TOKEN = re.compile(r"[A-Za-z0-9]+")
_LONGEST_NAME_TOKENS = 3


def snake_case(name: str) -> str:
    """`CPUUtilization` → `cpu_utilization`: the canonical name of a metric we do not know."""
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", spaced)
    return re.sub(r"[^0-9A-Za-z]+", "_", spaced).strip("_").lower()


def canonical_metric(metric_name: str) -> str:
    """The canonical metric of an AWS metric name (unknown names keep a snake_case of theirs)."""
    return CANONICAL_METRICS.get(metric_name) or snake_case(metric_name)


def with_canonical_metric(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `metric` from `metric_name`, mapping each distinct name once (names are few)."""
    names = frame.get_column("metric_name").drop_nulls().unique().to_list()
    mapping = {name: canonical_metric(name) for name in names}
    return frame.with_columns(
        pl.col("metric_name")
        .replace_strict(mapping, default=None, return_dtype=pl.String)
        .alias("metric")
    )


def is_api_gateway_metric(metric_name: str) -> bool:
    """True for the metric names AWS/ApiGateway publishes (used when no namespace is given)."""
    return metric_name in CANONICAL_METRICS


def error_metric_spelling(metric_name: str, dimensions: Mapping[str, str]) -> str:
    """`4XXError` for REST (ApiName dimension), `4xx` for HTTP (ApiId), else unchanged."""
    spellings = _ERROR_SPELLINGS.get(metric_name)
    if spellings is None:
        return metric_name
    if "ApiName" in dimensions:
        return spellings[0]
    if "ApiId" in dimensions:
        return spellings[1]
    return metric_name


def metric_from_label(label: str, dimensions: Mapping[str, str]) -> str | None:
    """The AWS metric a get-metric-data label (or id) names, e.g. "MyApi prod Count" → Count.

    Labels default to the metric name but users write their own ("m_4xx", "p99 latency").
    Runs of up to three words are compared with every known name, longest run first and the
    rightmost on a tie (labels tend to end in the metric), so "integration latency" is
    IntegrationLatency, not Latency. None when no known name is in the label.
    """
    tokens = _LABEL_TOKEN.findall(label)
    for length in range(min(_LONGEST_NAME_TOKENS, len(tokens)), 0, -1):
        for start in range(len(tokens) - length, -1, -1):
            found = _LABEL_NAMES.get("".join(tokens[start : start + length]).lower())
            if found:
                return error_metric_spelling(found, dimensions)
    return None


def dimensions_from_pairs(pairs: object) -> dict[str, str]:
    """`[{"Name": "Stage", "Value": "prod"}, ...]` (the CloudWatch API shape) → a dict."""
    if not isinstance(pairs, list):
        return {}
    return {
        str(pair["Name"]): str(pair["Value"])
        for pair in pairs
        if isinstance(pair, dict) and "Name" in pair and "Value" in pair
    }


def dimensions_from_file_name(path: str) -> tuple[dict[str, str], str | None]:
    """Dimensions and metric name encoded in an export's file name.

    Convention: the name without its extensions is a comma-separated list of `Name=Value`
    dimensions and, optionally, one part without `=` that is the metric name, e.g.
    `ApiName=petstore,Stage=prod,Count.json` or `ApiId=a1b2c3d4e5,Stage=$default.json.gz`.
    Extensions `.json`, `.jsonl`, `.txt` and `.gz` are dropped; other dots belong to values.
    A name with no `=` carries no dimensions (its only part is taken as the metric name).
    Values holding `/` (Resource, Route) cannot be in a file name: pass `--dimensions`.
    """
    stem = re.sub(r"(\.(json|jsonl|gz|txt))+$", "", Path(path).name)
    dimensions: dict[str, str] = {}
    metric_name: str | None = None
    for part in stem.split(","):
        name, equals, value = part.partition("=")
        if equals and name:
            dimensions[name] = value
        elif part:
            metric_name = part
    return dimensions, metric_name


def dimension_values(dimensions: Mapping[str, str]) -> dict[str, str | None]:
    """The dimension columns of one dimension set; unknown dimensions as sorted-key JSON."""
    values: dict[str, str | None] = dict.fromkeys(DIMENSION_OUTPUT_COLUMNS)
    extra = {}
    for name, value in dimensions.items():
        if value is None:
            continue
        column = DIMENSION_COLUMNS.get(name)
        if column:
            values[column] = str(value)
        else:
            extra[name] = str(value)
    values["extra_dimensions"] = json.dumps(extra, sort_keys=True) if extra else None
    return values


def dimension_frame(dimensions_json: pl.Series) -> pl.DataFrame:
    """Dimension columns for a column of dimension objects as JSON text (null = none).

    Streams repeat a handful of dimension sets over millions of lines, so each distinct text
    is decoded once and the result joined back rather than decoding every row.
    """
    keyed = dimensions_json.alias("_dimensions").to_frame()
    distinct = keyed.get_column("_dimensions").drop_nulls().unique().to_list()
    rows = []
    for text in distinct:
        decoded = json.loads(text)
        rows.append(
            {"_dimensions": text, **dimension_values(decoded if isinstance(decoded, dict) else {})}
        )
    lookup = pl.DataFrame(
        rows,
        schema={"_dimensions": pl.String, **dict.fromkeys(DIMENSION_OUTPUT_COLUMNS, pl.String)},
    )
    return keyed.join(lookup, on="_dimensions", how="left", maintain_order="left").drop(
        "_dimensions"
    )


# Units AWS documents for the API Gateway metrics, for exports that do not state one.
API_GATEWAY_UNITS: dict[str, str] = {
    name: "Milliseconds" if "Latency" in name else "Bytes" if name == "DataProcessed" else "Count"
    for name in CANONICAL_METRICS
}
