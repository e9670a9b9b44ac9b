"""API listings: `aws apigateway get-rest-apis` and `aws apigatewayv2 get-apis` JSON output.

REST metrics name their API by `ApiName` while logs name it by id, so the id of a REST
metric can only come from a listing of the account's APIs. Users save one with

    aws apigateway get-rest-apis > get-rest-apis.json      {"items": [{"id", "name", ...}]}
    aws apigatewayv2 get-apis > get-apis.json              {"Items": [{"ApiId", "Name",
                                                             "ProtocolType", ...}]}

(shapes from the AWS CLI reference and its examples). `createdDate` is epoch seconds in CLI v1
output and ISO 8601 in v2; both are read. The CLI pages through the whole listing itself; with
`--max-items` or `--no-paginate` it prints one page and a `position` (REST) or `NextToken` (v2):
each page saved to its own file (or several pages in one file, one document after another) is
read, and a page that says more follow makes a warning, since an API on a missing page cannot be
matched.

One record = one listed API: a row of the `apis` table, or a quarantine row when it has no id or
name, an unknown ProtocolType or a createdDate that is no time. A document of another shape is
one quarantined record; an empty listing is no record (and a warning). `metric_api_name` is what
CloudWatch calls a REST API in its `ApiName` dimension: the name with its non-ASCII characters
stripped, the id when nothing is left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson
import polars as pl

from apigw_analytics.ingest.metric_points import json_text, parse_timestamp
from apigw_analytics.ingest.registry import ParseContext, ParseResult, Sample, register
from apigw_analytics.schema import RecordKind, conform

_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SNIFF_DOCUMENTS = 5


@dataclass(frozen=True)
class _Shape:
    """The key names of one CLI command's output."""

    command: str
    items_key: str
    id_key: str
    name_key: str
    created_key: str
    description_key: str
    page_key: str
    endpoint_key: str | None = None
    protocol_key: str | None = None

    def is_listing(self, document: object) -> bool:
        """Whether a decoded document is this command's output (one page of it)."""
        if not isinstance(document, dict) or not isinstance(document.get(self.items_key), list):
            return False
        items = document[self.items_key]
        if items:
            return any(isinstance(item, dict) and self.id_key in item for item in items)
        return set(document) <= {self.items_key, self.page_key}


REST_APIS = _Shape(
    command="get-rest-apis",
    items_key="items",
    id_key="id",
    name_key="name",
    created_key="createdDate",
    description_key="description",
    page_key="position",
)
V2_APIS = _Shape(
    command="get-apis",
    items_key="Items",
    id_key="ApiId",
    name_key="Name",
    created_key="CreatedDate",
    description_key="Description",
    page_key="NextToken",
    endpoint_key="ApiEndpoint",
    protocol_key="ProtocolType",
)
_API_TYPES = {"HTTP": "http", "WEBSOCKET": "websocket"}


def metric_api_name(name: str, api_id: str) -> str:
    """The `ApiName` dimension CloudWatch gives a REST API's metrics."""
    return _NON_ASCII.sub("", name) or api_id


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _item_row(shape: _Shape, item: object, line: int) -> dict[str, object]:
    """One listed API as raw row values; `reason` says why it cannot be used."""
    row: dict[str, object] = {"source_line": line, "record": orjson.dumps(item).decode()}
    if not isinstance(item, dict):
        return {**row, "reason": "listed API is not an object"}
    api_id, name = _text(item.get(shape.id_key)), _text(item.get(shape.name_key))
    if api_id is None:
        return {**row, "reason": f"listed API has no {shape.id_key}"}
    if name is None:
        return {**row, "reason": f"listed API has no {shape.name_key}"}
    if shape.protocol_key is None:
        api_type = "rest"
    else:
        protocol = item.get(shape.protocol_key)
        api_type = _API_TYPES.get(protocol) if isinstance(protocol, str) else None
        if api_type is None:
            return {**row, "reason": f"unknown {shape.protocol_key}: {protocol}"}
    known = {shape.id_key, shape.name_key, shape.created_key, shape.description_key}
    known |= {shape.endpoint_key, shape.protocol_key} - {None}
    extra = {key: value for key, value in item.items() if key not in known}
    return {
        **row,
        "api_id": api_id,
        "api_name": name,
        "api_type": api_type,
        "metric_api_name": metric_api_name(name, api_id) if api_type == "rest" else None,
        "raw_created": json_text(item.get(shape.created_key)),
        "description": _text(item.get(shape.description_key)),
        "api_endpoint": _text(item.get(shape.endpoint_key)) if shape.endpoint_key else None,
        "extra": orjson.dumps(extra, option=orjson.OPT_SORT_KEYS).decode() if extra else None,
    }


_RAW_SCHEMA = {
    "source_line": pl.Int64,
    "record": pl.String,
    "reason": pl.String,
    "api_id": pl.String,
    "api_name": pl.String,
    "api_type": pl.String,
    "metric_api_name": pl.String,
    "raw_created": pl.String,
    "description": pl.String,
    "api_endpoint": pl.String,
    "extra": pl.String,
}


class _Parser:
    def __init__(self, context: ParseContext, shape: _Shape) -> None:
        self.source_file = context.source_file
        self.shape = shape

    def _document_rows(self, message: str, line: int, warnings: list[str]) -> list[dict]:
        shape = self.shape
        try:
            document = orjson.loads(message)
        except orjson.JSONDecodeError as error:
            return [{"source_line": line, "record": message, "reason": f"invalid JSON: {error}"}]
        if not shape.is_listing(document):
            reason = f"not a {shape.command} listing"
            return [{"source_line": line, "record": message, "reason": reason}]
        if document.get(shape.page_key):
            warnings.append(
                f"line {line}: one page of a longer {shape.command} listing ({shape.page_key} "
                "is set): ingest its other pages too, or the APIs on them stay unmatched"
            )
        if not document[shape.items_key]:
            warnings.append(f"line {line}: the {shape.command} listing holds no APIs")
        return [_item_row(shape, item, line) for item in document[shape.items_key]]

    def feed(self, events: pl.DataFrame) -> ParseResult:
        warnings: list[str] = []
        rows = [
            row
            for message, line in events.select("message", "source_line").iter_rows()
            for row in self._document_rows(message, line, warnings)
        ]
        raw = pl.DataFrame(rows, schema=_RAW_SCHEMA)
        checked = raw.with_columns(parse_timestamp(pl.col("raw_created")).alias("created_at"))
        checked = checked.with_columns(
            pl.coalesce(
                "reason",
                pl.when(pl.col("raw_created").is_not_null() & pl.col("created_at").is_null()).then(
                    pl.lit("bad createdDate: ") + pl.col("raw_created")
                ),
            )
        )
        bad = checked.filter(pl.col("reason").is_not_null())
        good = checked.filter(pl.col("reason").is_null()).with_columns(
            pl.lit(self.source_file).alias("source_file")
        )
        result = ParseResult(
            quarantine=bad.select("source_line", "reason", "record"),
            records_parsed=good.height,
            extra_records=raw.height - events.height,
            warnings=warnings,
        )
        if good.height:
            kept = good.drop("record", "reason", "raw_created")
            result.tables[RecordKind.APIS] = conform(kept, RecordKind.APIS)
        return result

    def finish(self) -> ParseResult:
        return ParseResult()


class _ListingFormat:
    """One CLI command's listing of APIs."""

    def __init__(self, shape: _Shape, name: str, description: str) -> None:
        self.shape = shape
        self.name = name
        self.description = description

    def sniff(self, sample: Sample) -> float:
        """High when one of the first messages decodes to this command's output. Only a
        message that starts like an object and names the items key is decoded."""
        for message in sample.messages[:_SNIFF_DOCUMENTS]:
            text = message.lstrip()
            if not text.startswith("{") or f'"{self.shape.items_key}"' not in text:
                continue
            try:
                document = orjson.loads(text)
            except orjson.JSONDecodeError:
                continue
            if self.shape.is_listing(document):
                return 0.95
        return 0.0

    def open_parser(self, context: ParseContext) -> _Parser:
        return _Parser(context, self.shape)


register(
    _ListingFormat(
        REST_APIS,
        "apigateway-get-rest-apis",
        "aws apigateway get-rest-apis JSON output (REST API ids and names)",
    )
)
register(
    _ListingFormat(
        V2_APIS,
        "apigatewayv2-get-apis",
        "aws apigatewayv2 get-apis JSON output (HTTP and WebSocket API ids and names)",
    )
)
