"""Finding repeated rows in a warehouse table once per set of files, not once per query.

The writer never commits a row whose key is already stored, so repeats only appear when files
are copied into the warehouse by hand. Looking for them means hashing every key (about a second
per ten million requests on two cores), so the answer is cached, keyed by a fingerprint of the
table's files (relative path, size, modification time) and of the key expressions: a new
ingest, a copied or rewritten file, or a changed key changes the fingerprint, and the next
connection looks again.

The cache holds, per table and fingerprint, either an empty `.none` marker (the normal case: no
repeats, so views read the files as they are) or a Parquet list of (filename, file_row_number)
rows to hide: every repeat after the first occurrence in (filename, row) order. A file whose
every row is listed (the usual copy by hand) is left out of the view's scan altogether, so only
files that repeat part of another pay for hiding single rows. It lives in the
user's cache directory (`$APIGW_ANALYZE_CACHE`, else `$XDG_CACHE_HOME/apigw-analyze`, else
`~/.cache/apigw-analyze`), so a read-only warehouse can still be queried.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from apigw_analytics.schema import METRIC_POINT_IDENTITY, RecordKind
from apigw_analytics.warehouse.layout import WarehouseLayout

CACHE_DIR_ENV = "APIGW_ANALYZE_CACHE"

# Key expressions per kind, matching the writer's `dedupe_key` (tests/query/test_views.py checks
# that both call the same rows repeats). For single-expression keys a NULL key means "cannot
# tell", never a repeat; multi-column keys compare NULLs as equal.
_EVENT_PART = "coalesce(CAST({} AS VARCHAR), chr(0))"
_METRIC_STATISTICS = ("sample_count", "sum", "average", "minimum", "maximum", "p50", "p90", "p99")
DEDUPE_KEYS: dict[RecordKind, tuple[str, ...]] = {
    RecordKind.ACCESS_REQUESTS: ("coalesce(extended_request_id, request_id)",),
    RecordKind.EXECUTION_REQUESTS: ("request_id",),
    # The event id; else request, time, message and occurrence (a null one, in files written
    # before the column, read as 0) when request and time are known; else where the line was
    # read (file, line, message). The prefixes keep the three apart.
    RecordKind.EXECUTION_EVENTS: (
        "coalesce('id' || chr(31) || event_id,"
        " CASE WHEN request_id IS NOT NULL AND event_at IS NOT NULL THEN 'request' || chr(31) || "
        + " || chr(31) || ".join(
            _EVENT_PART.format(column)
            for column in ("request_id", "event_at", "message", "coalesce(occurrence, 0)")
        )
        + " END, 'line' || chr(31) || "
        + " || chr(31) || ".join(
            _EVENT_PART.format(column) for column in ("source_file", "source_line", "message")
        )
        + ")",
    ),
    RecordKind.METRIC_POINTS: (
        *METRIC_POINT_IDENTITY,
        # Which statistics the point holds: a Sum and an Average of one metric are two points.
        " || ".join(f"CAST({name} IS NOT NULL AS INTEGER)" for name in _METRIC_STATISTICS),
    ),
    RecordKind.REPLAY_OUTCOMES: ("replay_name", "request_key"),
    RecordKind.APIS: ("api_type", "api_id", "api_name"),
}


def sql_literal(text: str) -> str:
    """A SQL string literal (paths are spliced into the views' SQL; values never are)."""
    return "'" + text.replace("'", "''") + "'"


def table_files(layout: WarehouseLayout, table: str) -> list[Path]:
    """A table's committed Parquet files, sorted (staging lives elsewhere, so never included)."""
    directory = layout.table_dir(table)
    return sorted(directory.rglob("*.parquet")) if directory.is_dir() else []


def query_cache_dir() -> Path:
    """Where the query layer keeps what it can recompute (see the module docstring)."""
    if explicit := os.environ.get(CACHE_DIR_ENV):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "apigw-analyze"


def files_fingerprint(layout: WarehouseLayout, files: list[Path]) -> str:
    """Hash of the files' relative paths, sizes and modification times."""
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        relative = path.relative_to(layout.root)
        digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def _find_repeats_sql(kind: RecordKind, rows: str) -> str:
    """Every repeat after the first occurrence, in (filename, row) order; `rows` is the table's
    typed rows with filename and file_row_number. Keys are hashed first, so only the rows of
    keys seen more than once are compared (and ranked) by value."""
    keys = DEDUPE_KEYS[kind]
    key_list = ", ".join(keys)
    not_null = f"WHERE {keys[0]} IS NOT NULL" if len(keys) == 1 else ""
    both = f"AND {keys[0]} IS NOT NULL" if len(keys) == 1 else ""
    return f"""
        WITH typed AS ({rows}),
        candidates AS (
            SELECT hash({key_list}) AS key_hash
            FROM typed {not_null}
            GROUP BY key_hash
            HAVING count(*) > 1
        ),
        ranked AS (
            SELECT filename, file_row_number,
                   row_number() OVER (
                       PARTITION BY {key_list} ORDER BY filename, file_row_number
                   ) AS occurrence
            FROM typed
            WHERE hash({key_list}) IN (SELECT key_hash FROM candidates) {both}
        )
        SELECT filename, file_row_number FROM ranked WHERE occurrence > 1
        ORDER BY filename, file_row_number"""


def _writable_cache_dir(layout: WarehouseLayout) -> Path:
    root_id = hashlib.sha256(str(layout.root.resolve()).encode()).hexdigest()[:16]
    directory = query_cache_dir() / "dedupe" / root_id
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        directory = Path(tempfile.mkdtemp(prefix="apigw-analyze-dedupe-"))
    return directory


def duplicate_rows_path(
    connection: duckdb.DuckDBPyConnection,
    layout: WarehouseLayout,
    kind: RecordKind,
    files: list[Path],
    typed_rows: Callable[[], str],
) -> Path | None:
    """The Parquet list of rows to hide for this set of files, or None when there are none.

    `typed_rows` gives the SELECT of the files' rows as the view types them, plus filename and
    file_row_number; it is only asked for when the cache has no answer for these files.
    """
    directory = _writable_cache_dir(layout)
    keys_digest = hashlib.sha256("\n".join(DEDUPE_KEYS[kind]).encode()).hexdigest()[:8]
    stem = f"{kind.value}-{files_fingerprint(layout, files)}-{keys_digest}"
    marker, rows_path = directory / f"{stem}.none", directory / f"{stem}.parquet"
    if marker.exists():
        return None
    if rows_path.exists():
        return rows_path
    for stale in directory.glob(f"{kind.value}-*"):
        stale.unlink(missing_ok=True)
    writing = rows_path.with_suffix(f".{os.getpid()}.tmp")
    ((repeat_count,),) = connection.execute(
        f"COPY ({_find_repeats_sql(kind, typed_rows())})"
        f" TO {sql_literal(str(writing))} (FORMAT parquet)"
    ).fetchall()
    if repeat_count == 0:
        writing.unlink(missing_ok=True)
        marker.touch()
        return None
    os.replace(writing, rows_path)
    return rows_path


@dataclass(frozen=True)
class Repeats:
    """What a table's view must hide: files that hold nothing but repeats, left out of the scan,
    and the Parquet list of single rows to hide in the other files (None when there are none)."""

    whole_files: frozenset[Path] = frozenset()
    rows_path: Path | None = None


def find_repeats(
    connection: duckdb.DuckDBPyConnection,
    layout: WarehouseLayout,
    kind: RecordKind,
    files: list[Path],
    typed_rows: Callable[[], str],
) -> Repeats:
    """The repeats of a table's files (see `duplicate_rows_path`), split into whole files and
    single rows by comparing each file's listed rows with its row count."""
    rows_path = duplicate_rows_path(connection, layout, kind, files, typed_rows)
    if rows_path is None:
        return Repeats()
    listed = connection.execute(
        f"SELECT filename, count(*) FROM read_parquet({sql_literal(str(rows_path))}) GROUP BY ALL"
    ).fetchall()
    names = "[" + ", ".join(sql_literal(name) for name, _ in listed) + "]"
    row_counts = dict(
        connection.execute(
            f"SELECT file_name, num_rows FROM parquet_file_metadata({names})"
        ).fetchall()
    )
    whole = {name for name, hidden in listed if hidden == row_counts.get(name)}
    partial = len(whole) < len(listed)
    return Repeats(frozenset(Path(name) for name in whole), rows_path if partial else None)
