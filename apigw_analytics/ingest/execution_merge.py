"""Execution requests whose events came in several files, rebuilt as one row each.

The execution-log parser builds a request's row from the events of one source. A request's
events often straddle files: a CloudWatch S3 export cuts a log stream into numbered parts,
Firehose and subscription deliveries batch by time, and a second export may overlap the first.
Each file then yields a row built from a fragment, and the writer keeps whichever fragment came
first (the later ones share its `request_id`), so a timeout or a final status logged in the
second part would be lost.

After an ingest commits execution events, this pass looks, among the requests of the events the
run wrote, for those whose events sit in more than one source file, in the event partitions it
touched and the days either side (for requests that straddle midnight). It tells them by the
run's own files and the stored request rows, not by reading every stored event again (see
`_split_request_ids`). It rebuilds each such request from all its stored events, an event
repeated by overlapping files counted once, and replaces the stored row when it differs (a row
built from a fragment has fewer events). The rebuilt rows are committed first and the
fragment rows removed after, file by file, each by an atomic rename: a pass killed between the
two leaves a request with two rows, which the next pass finds (two rows) and settles.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from apigw_analytics.ingest.execution_requests import build_requests, request_facts, request_stats
from apigw_analytics.query.dedupe import sql_literal
from apigw_analytics.schema import RecordKind, conform, polars_schema
from apigw_analytics.warehouse.layout import WarehouseLayout
from apigw_analytics.warehouse.writer import UNKNOWN_DATE, arrow_schema

_EVENTS = RecordKind.EXECUTION_EVENTS
_REQUESTS = RecordKind.EXECUTION_REQUESTS
_EVENT_COLUMNS = (
    "request_id", "event_at", "sequence", "occurrence", "message_kind", "message",
    "is_truncated", "log_group", "api_id", "stage", "is_canary", "source_file", "source_line",
)  # fmt: skip


def _partition_files(
    layout: WarehouseLayout, kind: RecordKind, days: Iterable[str], run_id: str = ""
) -> list[Path]:
    """The kind's files in the days' partitions; with `run_id`, only those that run wrote."""
    root = layout.table_dir(kind.value)
    pattern = f"part-{run_id}-*.parquet" if run_id else "*.parquet"
    return sorted(path for day in days for path in (root / f"date={day}").glob(pattern))


def _with_neighbours(days: Iterable[str]) -> list[str]:
    """The days and the day either side of each (a request may straddle midnight)."""
    near: set[str] = set()
    for day in days:
        if day == UNKNOWN_DATE:
            near.add(day)
            continue
        middle = date.fromisoformat(day)
        near.update(str(middle + timedelta(days=offset)) for offset in (-1, 0, 1))
    return sorted(near)


def _list(paths: list[Path]) -> str:
    return "[" + ", ".join(sql_literal(str(path)) for path in paths) + "]"


def _one_source(connection: duckdb.DuckDBPyConnection, files: list[Path]) -> bool:
    """Whether every event was read from one source file, told by the row groups' statistics
    alone (an ingest of one large file must not pay for a scan of its events)."""
    bounds = connection.execute(
        f"SELECT min(stats_min_value), max(stats_max_value), count(*) FILTER ("
        f"WHERE stats_min_value IS NULL) FROM parquet_metadata({_list(files)}) "
        "WHERE path_in_schema = 'source_file'"
    ).fetchone()
    return bounds is not None and bounds[2] == 0 and bounds[0] == bounds[1]


def _pairs(files: list[Path], select: str = "") -> str:
    """SELECT of the (request_id, source_file) of the files' rows that have a request id."""
    if not files:
        return "SELECT NULL::VARCHAR AS request_id, NULL::VARCHAR AS source_file WHERE false"
    return (
        f"SELECT {select} request_id, source_file FROM read_parquet({_list(files)})"
        " WHERE request_id IS NOT NULL"
    )


def _split_request_ids(
    connection: duckdb.DuckDBPyConnection, run_files: list[Path], request_files: list[Path]
) -> list[str]:
    """The requests of the run's events (`run_files`) whose events are in more than one file.

    Told without reading the events of other runs (twenty to a request): a request is split
    when the run read it from two files, when a stored row of it (`request_files`) names
    another file than the run's (that row was built from there first), or when it has two rows
    (fragments that began on different days, or a pass killed between its writes). Any request
    with two rows is settled, the run's or not, so no leftover waits for a run that reads its
    request again.
    """
    rows = connection.execute(
        f"WITH stored AS ({_pairs(request_files)}), run AS ({_pairs(run_files, 'DISTINCT')}) "
        "SELECT request_id FROM run GROUP BY request_id HAVING count(*) > 1 "
        "UNION SELECT request_id FROM stored GROUP BY request_id HAVING count(*) > 1 "
        "UNION SELECT request_id FROM stored JOIN run USING (request_id) "
        "WHERE stored.source_file <> run.source_file ORDER BY request_id"
    ).fetchall()
    return [row[0] for row in rows]


def _request_events(files: list[Path], request_ids: list[str]) -> pl.DataFrame:
    """The stored events of the requests, each once, in the order they were logged.

    Overlapping files repeat events; within one file the same message may be logged twice in
    one millisecond, so an event's identity is (request, time, message, its occurrence among
    identical ones in its file), as the parser numbered it and the writer keys it (a file
    written before the column has null there: the first of its kind). Files are ordered by
    when the request's part in them began.
    """
    schema = polars_schema(_EVENTS)
    events = (
        pl.scan_parquet(files, schema=schema, missing_columns="insert")
        .select(_EVENT_COLUMNS)
        .filter(pl.col("request_id").is_in(request_ids))
        .collect()
        .with_columns(
            pl.col("occurrence").fill_null(0),
            pl.col("event_at").min().over("request_id", "source_file").alias("file_first_at"),
        )
        .sort("request_id", "event_at", "file_first_at", "source_file", "sequence")
        .unique(["request_id", "event_at", "message", "occurrence"], maintain_order=True)
    )
    return events.with_columns(
        pl.col("request_id").alias("rid_key"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("order"),
    )


def rebuild_requests(events: pl.DataFrame) -> pl.DataFrame:
    """Request rows from events of several files (`_request_events`); each row names the file
    and line where its request's first event was read."""
    first = events.group_by("rid_key", maintain_order=True).agg(
        pl.col("source_file").first().alias("first_file"),
        pl.col("source_line").first().alias("first_line"),
    )
    stats = request_stats(events).drop("source_line").join(first, on="rid_key")
    rows = build_requests(
        stats.rename({"first_line": "source_line"}), request_facts(events), source_file=""
    )
    origin = stats.select(pl.col("request_id"), pl.col("first_file").alias("source_file")).unique(
        "request_id"
    )
    return conform(
        rows.drop("source_file").join(origin, on="request_id", how="left"), _REQUESTS
    ).sort("first_event_at", "request_id")


def _stored_rows(
    connection: duckdb.DuckDBPyConnection, files: list[Path], request_ids: list[str]
) -> pl.DataFrame:
    if not files:
        return pl.DataFrame(
            schema={"filename": pl.String, "request_id": pl.String, "event_count": pl.Int64}
        )
    return connection.sql(
        f"SELECT filename, request_id, event_count FROM read_parquet({_list(files)}, "
        "filename = true, union_by_name = true) WHERE list_contains($ids, request_id)",
        params={"ids": request_ids},
    ).pl()


def _replace(
    layout: WarehouseLayout, staging: Path, rebuilt: pl.DataFrame, stored: pl.DataFrame
) -> None:
    """Commit the rebuilt rows, then take the fragment rows out of the files that hold them."""
    dated = rebuilt.with_columns(
        pl.col("first_event_at").dt.date().cast(pl.String).fill_null(UNKNOWN_DATE).alias("_day")
    )
    root = layout.table_dir(_REQUESTS.value)
    for (day,), rows in dated.partition_by("_day", as_dict=True, maintain_order=True).items():
        final = root / f"date={day}" / f"part-{staging.name}-merged.parquet"
        _atomic_write(staging, final, rows.drop("_day").to_arrow())
    replaced = rebuilt["request_id"].implode()
    for filename in stored["filename"].unique().sort():
        path = Path(filename)
        table = pq.read_table(path)
        ids = pl.from_arrow(table.column("request_id"))
        kept = table.filter(pa.array(~ids.is_in(replaced).fill_null(False)))
        if kept.num_rows:
            _atomic_write(staging, path, kept)
        else:
            path.unlink()


def _atomic_write(staging: Path, final: Path, table: pa.Table) -> None:
    staged = staging / "merged" / final.relative_to(final.parents[2])
    staged.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table.select(arrow_schema(_REQUESTS).names).cast(arrow_schema(_REQUESTS)),
        staged,
        compression="zstd",
    )
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, final)


def merge_split_requests(layout: WarehouseLayout, event_days: Iterable[str], staging: Path) -> int:
    """Rebuild the requests of `event_days` (partitions of execution events an ingest wrote)
    whose events are in more than one file; return how many stored rows were replaced.

    `staging` is the ingest run's staging directory (its name is the run id, which names the
    files this pass writes)."""
    days = _with_neighbours(event_days)
    event_files = _partition_files(layout, _EVENTS, days)
    if len(event_files) < 2:
        return 0
    connection = duckdb.connect()
    try:
        if _one_source(connection, event_files):
            return 0
        request_files = _partition_files(layout, _REQUESTS, days)
        run_files = _partition_files(layout, _EVENTS, days, staging.name)
        # When the days hold no other run's events, no other run's row can be split either:
        # the run's files tell it all (the first ingest of an export's parts).
        consulted = [] if run_files == event_files else request_files
        split_ids = _split_request_ids(connection, run_files, consulted)
        if not split_ids:
            return 0
        rebuilt = rebuild_requests(_request_events(event_files, split_ids))
        stored = _stored_rows(connection, request_files, split_ids)
    finally:
        connection.close()
    counts = stored.group_by("request_id").agg(
        pl.len().alias("rows"), pl.col("event_count").first()
    )
    settled = rebuilt.join(counts, on=["request_id", "event_count"]).filter(pl.col("rows") == 1)
    rebuilt = rebuilt.filter(~pl.col("request_id").is_in(settled["request_id"].implode()))
    if rebuilt.is_empty():
        return 0
    _replace(
        layout,
        staging,
        rebuilt,
        stored.filter(pl.col("request_id").is_in(rebuilt["request_id"].implode())),
    )
    return rebuilt.height
