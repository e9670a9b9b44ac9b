"""JSON access logs with any key names (console presets, Terraform/CDK sorted keys, custom).

Fast path: DuckDB extracts every known key of a whole chunk at once (vectorised, parallel).
A row goes to the slow path when DuckDB cannot read it or it has keys the chunk's key set does
not know; the slow path parses one line at a time, first as JSON, then tolerantly (an unquoted
`-` where a template left a number unquoted; quotes inside a value that API Gateway did not
escape; records concatenated with no separator, as Firehose writes them). What even that cannot
read is quarantined with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import orjson
import polars as pl

from apigw_analytics.ingest.access_fields import (
    EXTRA,
    column_for_key,
    finalize_access,
    source_labels,
    sql_name,
    sql_text,
)
from apigw_analytics.ingest.bulk import BulkScan, path_literal
from apigw_analytics.ingest.events import EMPTY_QUARANTINE, quarantine_frame
from apigw_analytics.ingest.registry import ParseContext, ParseResult, Sample, register
from apigw_analytics.schema import RecordKind

_KEY_SAMPLE_ROWS = 256
_UNQUOTED_DASH = re.compile(r"(:\s*)-(\s*[,}])")
_PAIR = re.compile(
    r'"(?P<key>[^"\\]+)"\s*:\s*(?:"(?P<text>.*?)"(?=\s*(?:,\s*"[^"]+"\s*:|\}\s*$))'
    r"|(?P<bare>[^,}\s]+))"
)
_SNIFF_KEYS = {"request_id", "extended_request_id", "status", "http_method", "route_key"}


def _tolerant_objects(line: str) -> list[dict] | None:
    """Objects from a line that strict JSON rejects, or None when nothing sensible is in it."""
    fixed = _UNQUOTED_DASH.sub(r'\1"-"\2', line)
    try:
        value = orjson.loads(fixed)
        return [value] if isinstance(value, dict) else None
    except orjson.JSONDecodeError:
        pass
    if "}{" in fixed:
        parts = re.split(r"\}\s*\{", fixed.strip())
        objects: list[dict] = []
        for index, part in enumerate(parts):
            text = ("{" if index else "") + part + ("}" if index < len(parts) - 1 else "")
            parsed = _tolerant_objects(text)
            if parsed is None:
                return None
            objects.extend(parsed)
        return objects
    stripped = fixed.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    pairs = {
        match["key"]: match["text"] if match["text"] is not None else match["bare"]
        for match in _PAIR.finditer(stripped)
    }
    return [pairs] if pairs else None


def _as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def _key_paths(keys: list[str]) -> str:
    quoted = ", ".join("'$.\"" + key.replace("'", "''") + "\"'" for key in keys)
    return f"[{quoted}]"


@dataclass
class _KeyMap:
    """The keys seen so far in a source and the column each one lands in."""

    keys: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)

    def learn(self, key: str) -> None:
        if key in self.columns or key in self.keys:
            return
        self.keys.append(key)
        column = column_for_key(key)
        taken = set(self.columns.values())
        self.columns[key] = column if column and column not in taken else EXTRA


class _JsonAccessParser:
    def __init__(self, context: ParseContext, key_columns: dict[str, str] | None) -> None:
        self._context = context
        self._keys = _KeyMap(list(key_columns or {}), dict(key_columns or {}))
        self._connection = duckdb.connect()

    def _learn_keys(self, messages: pl.Series) -> None:
        for message in messages.head(_KEY_SAMPLE_ROWS):
            objects = _loads(message)
            for obj in objects or []:
                for key in obj:
                    self._keys.learn(key)

    def _fast_rows(self, events: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(rows DuckDB extracted, events left for the slow path)."""
        keys = self._keys.keys
        if not keys:
            return pl.DataFrame(), events
        self._connection.register("chunk", events.select("message").to_arrow())
        columns = ", ".join(f"vals[{i + 1}] AS c{i}" for i in range(len(keys)))
        extracted = self._connection.sql(
            "SELECT coalesce(kind = 'OBJECT' AND key_count = "
            f"list_count(vals), false) AS fast, {columns} FROM ("
            f"SELECT try(json_extract_string(message, {_key_paths(keys)})) AS vals, "
            "try(json_type(message)) AS kind, try(len(json_keys(message))) AS key_count "
            "FROM chunk)"
        ).pl()
        self._connection.unregister("chunk")
        fast_mask = extracted["fast"]
        values = extracted.filter(fast_mask).drop("fast")
        values.columns = keys
        return (
            pl.concat([events.filter(fast_mask), values], how="horizontal"),
            events.filter(~fast_mask),
        )

    def _slow_rows(self, events: pl.DataFrame) -> tuple[list[dict], list[tuple[int, str, str]]]:
        rows: list[dict] = []
        bad: list[tuple[int, str, str]] = []
        for event in events.iter_rows(named=True):
            objects = _loads(event["message"]) or _tolerant_objects(event["message"])
            if not objects:
                bad.append((event["source_line"], "not a JSON object", event["message"]))
                continue
            for obj in objects:
                for key in obj:
                    self._keys.learn(key)
                rows.append({**event, **{k: _as_text(v) for k, v in obj.items()}})
        return rows, bad

    def _to_raw(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Rename keys to columns; unknown keys become one JSON `extra` column."""
        columns = self._keys.columns
        by_column = {k: c for k, c in columns.items() if c != EXTRA and k in frame.columns}
        extras = [k for k, c in columns.items() if c == EXTRA and k in frame.columns]
        selected = [pl.col(key).cast(pl.String).alias(col) for key, col in by_column.items()]
        if extras:
            selected.append(
                pl.struct([pl.col(k).cast(pl.String) for k in extras])
                .struct.json_encode()
                .alias(EXTRA)
            )
        event_columns = ["message", "source_line", "event_at", "log_group", "log_stream"]
        return frame.select(*event_columns, *selected)

    def feed(self, events: pl.DataFrame) -> ParseResult:
        blank = events["message"].str.strip_chars().str.len_bytes() == 0
        events = events.filter(~blank)
        skipped = int(blank.sum())
        if events.height == 0:
            return ParseResult(skipped=skipped)
        self._learn_keys(events["message"])
        fast, slow = self._fast_rows(events)
        slow_rows, bad = self._slow_rows(slow)
        parts = []
        if fast.height:
            parts.append(self._to_raw(fast))
        if slow_rows:
            parts.append(self._to_raw(pl.DataFrame(slow_rows, infer_schema_length=None)))
        quarantine = quarantine_frame([b[0] for b in bad], [b[1] for b in bad], [b[2] for b in bad])
        if not parts:
            return ParseResult(quarantine=quarantine, skipped=skipped)
        raw = pl.concat(parts, how="diagonal_relaxed").sort("source_line", maintain_order=True)
        rows, rejected = finalize_access(
            raw,
            source_file=self._context.source_file,
            api_type=self._context.api_type,
            labels=source_labels(self._context.options),
        )
        good_events = events.height - len(bad) - rejected["source_line"].n_unique()
        return ParseResult(
            tables={RecordKind.ACCESS_REQUESTS: rows},
            quarantine=pl.concat([quarantine, rejected]),
            skipped=skipped,
            records_parsed=good_events,
        )

    def finish(self) -> ParseResult:
        self._connection.close()
        return ParseResult(quarantine=EMPTY_QUARANTINE)


def _loads(message: str) -> list[dict] | None:
    try:
        value = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None
    return [value] if isinstance(value, dict) else None


class JsonAccessFormat:
    """Access logs written with a JSON template (any key names)."""

    name = "access-json"
    description = "access log, JSON template (REST, HTTP, WebSocket; any key names)"

    def __init__(self, key_columns: dict[str, str] | None = None) -> None:
        """`key_columns` fixes the column of keys (from a JSON template); others by meaning."""
        self._key_columns = key_columns

    def sniff(self, sample: Sample) -> float:
        messages = [m for m in sample.messages if m.strip()][:20]
        if not messages:
            return 0.0
        hits = 0
        for message in messages:
            objects = _loads(message) or _tolerant_objects(message) or []
            columns = {column_for_key(key) for obj in objects for key in obj}
            hits += bool(columns & _SNIFF_KEYS)
        return 0.95 * hits / len(messages)

    def open_parser(self, context: ParseContext) -> _JsonAccessParser:
        return _JsonAccessParser(context, self._key_columns)

    def bulk_scans(self, path: Path, sample: Sample, context: ParseContext) -> list[BulkScan]:
        """A whole-file `read_json` of JSON lines (none when DuckDB cannot read the start).

        DuckDB learns the keys and their types from a sample of the file, and then fails on a
        record with a key the sample did not have (so a key that appears late is never dropped:
        the file is read chunk by chunk instead) and on any line that is not strict JSON (the
        tolerant path reads those). Values are read as the sample's types and turned back into
        text when that is exact (text, integers, booleans, lowercase UUIDs as AWS writes them);
        otherwise every value is read as JSON text and unquoted, which is slower.
        """
        source = path_literal(path)
        if source is None:
            return []
        reader = (
            f"read_json({source}, format = 'newline_delimited', records = true, "
            f"sample_size = {_SAMPLE_LINES}"
        )
        connection = duckdb.connect()
        try:
            typed = connection.sql(f"SELECT * FROM {reader})")
            keys, types = typed.columns, [str(kind) for kind in typed.types]
        except duckdb.Error:
            return []
        finally:
            connection.close()
        objects = [obj for m in sample.messages for obj in _loads(m) or []]
        if not {key for obj in objects for key in obj} <= set(keys):
            return []  # DuckDB renamed a key (names that differ only in case)
        exact = all(
            kind in _EXACT_AS_TEXT
            or (kind == "UUID" and all(_is_aws_uuid(obj.get(key)) for obj in objects))
            for key, kind in zip(keys, types, strict=True)
        )
        if exact:
            reader, value = f"{reader})", "CAST({} AS VARCHAR)"
        else:
            reader, value = f"{reader}, maximum_depth = 1)", "{}->>'$'"
        key_map = _KeyMap(list(self._key_columns or {}), dict(self._key_columns or {}))
        for key in keys:
            key_map.learn(key)
        fields = [
            f"{value.format(sql_name(key))} AS {sql_name(column)}"
            for key, column in key_map.columns.items()
            if column != EXTRA and key in keys
        ]
        extras = [key for key, column in key_map.columns.items() if column == EXTRA]
        if extras:
            pairs = ", ".join(f"{sql_text(key)}, {value.format(sql_name(key))}" for key in extras)
            fields.append(f"json_object({pairs})::VARCHAR AS {EXTRA}")
        present = {column for key, column in key_map.columns.items() if key in keys}
        relation = (
            "(SELECT NULL::BIGINT AS event_at_ms, NULL::VARCHAR AS log_group, "
            f"NULL::VARCHAR AS log_stream, {', '.join(fields)} FROM {reader})"
        )
        return [BulkScan(relation, frozenset(present))]


# Lines DuckDB learns keys and types from; it does so twice per file (to plan, then to run), on
# one thread, so a smaller sample starts sooner; a key seen only later sends the file to the
# chunked path.
_SAMPLE_LINES = 4096
# DuckDB types whose text is the value's text in the file.
_EXACT_AS_TEXT = {"VARCHAR", "BIGINT", "UBIGINT", "BOOLEAN"}
_AWS_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _is_aws_uuid(value: object) -> bool:
    """A UUID as AWS writes it (lowercase, hyphenated), which DuckDB's UUID text reproduces."""
    return value is None or (isinstance(value, str) and bool(_AWS_UUID.match(value)))


register(JsonAccessFormat())
