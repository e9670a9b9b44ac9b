"""Whole-file reads: DuckDB reads a plain-text access log itself, parses and finalises it in one
parallel query, and the rows stream into the warehouse in Arrow batches.

This is the fast path for the common case (a plain JSON-lines or CLF file) and exists for speed
alone: the chunked path (containers → event frames → format parsers) reads the same records the
same way, and is the one used for every other container and whenever a whole-file read cannot
be trusted to number lines exactly. A format offers a `BulkScan` (the SQL of a relation of raw
fields); `ingest_bulk` raises `BulkUnsupportedError` when the file turns out to need the chunked
path — DuckDB rejects a line (invalid JSON, a key its sample did not see), or the rows it read
do not match the file's lines one to one (blank lines, stray carriage returns) — and the caller
discards what was staged and reads the file again chunk by chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from apigw_analytics.ingest.access_fields import access_rows_sql, sql_text
from apigw_analytics.ingest.events import EMPTY_QUARANTINE, quarantine_frame
from apigw_analytics.schema import RecordKind
from apigw_analytics.warehouse.manifest import DigestResult, FileDigest
from apigw_analytics.warehouse.writer import ROW_GROUP_ROWS, WarehouseWriter, arrow_schema

BATCH_ROWS = 1 << 17
_GLOB_CHARACTERS = set("*?[{")
_ACCESS_SCHEMA = arrow_schema(RecordKind.ACCESS_REQUESTS)
_UTC_MS = pa.timestamp("ms", tz="UTC")

# Every line of a file as one VARCHAR (an empty line is NULL). A line DuckDB would cut or split
# (at a carriage return, say) changes the row count or the bytes, which `_check_lines` catches.
RAW_LINES = (
    "read_csv({path}, columns = {{'line': 'VARCHAR'}}, delim = '\\x01', quote = '', "
    "escape = '', header = false, auto_detect = false, strict_mode = false, new_line = '\\n')"
)


class BulkUnsupportedError(Exception):
    """The file needs the chunked path; the message says why (for debugging, not users)."""


@dataclass(frozen=True)
class BulkScan:
    """A relation of raw fields a format reads a whole file with.

    `relation` has `event_at_ms`, `log_group`, `log_stream`, one VARCHAR per raw field in
    `present`, and the `carry` columns it offers of: `message` (the line), `_bytes` (the line's
    length: the lengths must add up to the file's), `_blank` (nothing but whitespace: skipped),
    `_unmatched` (not the format's shape: quarantined), `_ambiguous` (only the chunked path
    reads that line exactly: the whole file goes there). Its rows are the file's lines in order,
    which `ingest_bulk` checks; it numbers them.
    """

    relation: str
    present: frozenset[str]
    carry: tuple[str, ...] = ()
    unmatched_reason: str = "does not match the access-log template"


@dataclass
class BulkCounts:
    """What a whole-file read found; the same counts the chunked path reports."""

    records_read: int = 0
    records_parsed: int = 0
    skipped: int = 0
    quarantine: list[pl.DataFrame] = field(default_factory=list)
    first_at: datetime | None = None
    last_at: datetime | None = None

    def add_times(self, times: pa.ChunkedArray) -> None:
        bounds = pc.min_max(times).as_py()
        if bounds["min"] is not None:
            self.first_at = min(filter(None, [self.first_at, bounds["min"]]))
            self.last_at = max(filter(None, [self.last_at, bounds["max"]]))


def path_literal(path: Path) -> str | None:
    """The path as a DuckDB string literal, or None when DuckDB would read it as a glob."""
    text = str(path)
    if _GLOB_CHARACTERS & set(text):
        return None
    return sql_text(text)


def _lines_at(path: Path, numbers: list[int]) -> dict[int, str]:
    """The text of the given 1-based lines (only quarantined records need it, so rarely)."""
    wanted = set(numbers)
    found: dict[int, str] = {}
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number in wanted:
                found[number] = line.decode("utf-8", errors="replace").rstrip("\r\n")
                if len(found) == len(wanted):
                    break
    return found


def _access_rows(
    table: pa.Table, constant_values: dict[str, str], constant_columns: dict[str, pa.Array]
) -> pa.Table:
    """Rows as a table of the access-request schema: the columns a `varying_only` query left
    out are filled here (the file's path and the user's labels, else nulls). Each is built once
    per source, as long as the longest batch so far, and sliced (no copy) to each batch:
    building them per batch cost as much as the rest of the batch's handling (Arrow arrays are
    immutable: sharing them is safe)."""
    rows = table.num_rows
    columns = []
    for column in _ACCESS_SCHEMA:
        if column.name == "requested_at":
            columns.append(pc.cast(table.column("requested_at"), _UTC_MS))
        elif column.name in table.column_names:
            values = table.column(column.name)
            columns.append(values if values.type == column.type else values.cast(column.type))
        else:
            kept = constant_columns.get(column.name)
            if kept is None or len(kept) < rows:
                value = constant_values.get(column.name)
                kept = constant_columns[column.name] = (
                    pa.nulls(rows, column.type)
                    if value is None
                    else pa.repeat(pa.scalar(value, column.type), rows)
                )
            columns.append(kept.slice(0, rows))
    return pa.Table.from_arrays(columns, schema=_ACCESS_SCHEMA)


def _quarantine(table: pa.Table, reason: pa.ChunkedArray | str) -> pl.DataFrame:
    reasons = pa.repeat(reason, table.num_rows) if isinstance(reason, str) else reason
    return quarantine_frame(
        pl.Series(table.column("source_line")),
        pl.Series(reasons),
        pl.Series(table.column("message"))
        if "message" in table.column_names
        else pl.Series([None] * table.num_rows, dtype=pl.String),
    )


def _true_count(mask: pa.ChunkedArray | pa.Array) -> int:
    return pc.sum(mask).as_py() or 0


class _Batches:
    """Sorts each batch of the query's rows: staged, quarantined or skipped."""

    def __init__(
        self,
        scan: BulkScan,
        constant_values: dict[str, str],
        writer: WarehouseWriter,
        digest: FileDigest,
    ) -> None:
        self.scan = scan
        self.constant_values = constant_values
        self.constant_columns: dict[str, pa.Array] = {}
        self.writer = writer
        self.digest = digest
        self.counts = BulkCounts()
        self.line_bytes = 0

    def add(self, batch: pa.RecordBatch) -> None:
        counts = self.counts
        first = counts.records_read + 1
        counts.records_read += batch.num_rows
        numbers = pa.array(np.arange(first, first + batch.num_rows, dtype=np.int64))
        table = pa.Table.from_batches([batch]).append_column("source_line", numbers)
        carry = self.scan.carry
        if "_ambiguous" in carry and _true_count(table.column("_ambiguous")):
            raise BulkUnsupportedError("a line needs the regex's own whitespace handling")
        if "_bytes" in carry:
            self.line_bytes += pc.sum(table.column("_bytes")).as_py() or 0
        rejected = pc.is_valid(table.column("_problem"))
        passed = pa.repeat(False, table.num_rows)  # skipped or quarantined before finalising
        if "_blank" in carry:
            passed = table.column("_blank")
            counts.skipped += _true_count(passed)
        if "_unmatched" in carry:
            unmatched = pc.and_not(table.column("_unmatched"), passed)
            if _true_count(unmatched):
                counts.quarantine.append(
                    _quarantine(table.filter(unmatched), self.scan.unmatched_reason)
                )
            passed = pc.or_(passed, unmatched)
        rejected = pc.and_not(rejected, passed)
        if _true_count(rejected):
            flagged = table.filter(rejected)
            counts.quarantine.append(_quarantine(flagged, flagged.column("_problem")))
        good = pc.invert(pc.or_(rejected, passed))
        rows = _access_rows(
            table if _true_count(good) == table.num_rows else table.filter(good),
            self.constant_values,
            self.constant_columns,
        )
        counts.records_parsed += rows.num_rows
        counts.add_times(rows.column("requested_at"))
        self.writer.stage_arrow(RecordKind.ACCESS_REQUESTS, rows)
        facts = self.digest.ready()
        if (
            facts is not None
            and counts.records_read >= ROW_GROUP_ROWS
            and facts.lines - counts.records_read < ROW_GROUP_ROWS
        ):
            # The last group's worth of a large file: encode batch by batch, so that a whole
            # group is not left to encode on one core after the read ends.
            self.writer.flush_staged()


def ingest_bulk(
    scan: BulkScan,
    path: Path,
    *,
    source_file: str,
    api_type: str | None,
    labels: dict[str, str],
    writer: WarehouseWriter,
    digest: FileDigest,
) -> BulkCounts:
    """Read, finalise and stage a whole file; raises BulkUnsupportedError (nothing is kept then:
    the caller discards the staged files). `labels` (`source_labels`) fill `api_id` and `stage`
    of records that do not log them."""
    query = access_rows_sql(
        scan.relation,
        set(scan.present),
        source_file=source_file,
        api_type=api_type,
        with_message="message" in scan.carry,
        carry=tuple(column for column in scan.carry if column != "message"),
        varying_only=True,
        labels=labels,
    )
    batches = _Batches(scan, {"source_file": source_file, **labels}, writer, digest)
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    try:
        for batch in connection.sql(query).to_arrow_reader(BATCH_ROWS):
            batches.add(batch)
    except (duckdb.Error, OSError) as error:  # DuckDB's errors reach the reader as OSError
        raise BulkUnsupportedError(str(error).splitlines()[0]) from None
    finally:
        connection.close()
    counts = batches.counts
    _check_lines(digest.result(), counts, batches.line_bytes if "_bytes" in scan.carry else None)
    if "message" not in scan.carry and counts.quarantine:
        counts.quarantine = [_with_records(path, pl.concat(counts.quarantine))]
    return counts


def _check_lines(facts: DigestResult, counts: BulkCounts, line_bytes: int | None) -> None:
    """The rows must be the file's lines one to one, or line numbers would be wrong."""
    if counts.records_read != facts.lines:
        raise BulkUnsupportedError(f"{counts.records_read} rows for {facts.lines} lines")
    if line_bytes is not None and line_bytes + facts.newlines != facts.size_bytes:
        raise BulkUnsupportedError("lines hold bytes the reader did not return (\\r, ...)")


def _with_records(path: Path, quarantine: pl.DataFrame) -> pl.DataFrame:
    """Fill in the text of quarantined records (a reader of parsed fields does not keep it)."""
    if quarantine.height == 0:
        return EMPTY_QUARANTINE
    texts = _lines_at(path, quarantine["source_line"].to_list())
    return quarantine.with_columns(
        pl.col("source_line").replace_strict(texts, return_dtype=pl.String).alias("record")
    )
