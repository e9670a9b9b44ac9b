"""Atomic, deduplicating writes into the warehouse.

A `WarehouseWriter` stages Parquet files for one source under `_staging/<run>/` and makes them
visible only in `commit_source`, by renaming each finished file into its partition and then
recording the source in the manifest. A run killed before that leaves only staging files, which
the next writer deletes; a run killed between the renames (a window of microseconds) leaves
complete files of a source the manifest does not list, so the re-run ingests that source again
and the deduplication below drops every row already visible. Either way nothing is counted twice.

Rows are appended as they come to one open Parquet file per table and partition of the source,
so memory stays flat however large the source, and a source makes one file per partition.

Deduplication: each kind has a key (access requests: extended_request_id, else request_id). A
staged row is dropped when its key is already in the warehouse (same partition), already
committed in this run, or seen earlier in the same source; a canary copy of a request marks the
kept row as canary. Only the keys are kept while staging; the check runs once per source when it
is committed (one hash pass, where checking every chunk against all keys seen so far grows with
the square of the source), and the staged files are rewritten only in the rare case that they
hold a duplicate. Quarantined records are keyed by (source_file, source_line, record).
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
from collections import deque
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Self

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from apigw_analytics.errors import WarehouseError
from apigw_analytics.schema import (
    METRIC_POINT_IDENTITY,
    PARTITION_TIME_COLUMN,
    RecordKind,
    conform,
    polars_schema,
    validate,
)
from apigw_analytics.warehouse.layout import QUARANTINE_TABLE, WarehouseLayout
from apigw_analytics.warehouse.manifest import ManifestEntry, read_manifest, write_manifest

ROW_GROUP_ROWS = 1 << 17
# Ids are unique per row: their min/max statistics never let a reader skip a row group.
_IDS = frozenset(
    {
        "request_id",
        "extended_request_id",
        "integration_request_id",
        "xray_trace_id",
        "message_id",
        "event_id",
    }
)
# Ids, times and line numbers are (nearly) unique per row: a dictionary saves nothing there and
# costs a third of the write time, so they are written plainly.
_UNIQUE = _IDS | {"requested_at", "first_event_at", "last_event_at", "event_at", "source_line"}
_GROUPS_IN_FLIGHT = 2
UNKNOWN_DATE = "unknown"

QUARANTINE_SCHEMA = pl.Schema(
    {
        "source_file": pl.String,
        "source_line": pl.Int64,
        "format": pl.String,
        "reason": pl.String,
        "record": pl.String,
        "run_id": pl.String,
    }
)


def _hash_key(*columns: str | pl.Expr) -> pl.Expr:
    """Hash of several columns; a null part is kept distinct (concat_str alone would make the
    whole key null, and every null key hashes alike)."""
    parts = [
        (pl.col(c) if isinstance(c, str) else c).cast(pl.String).fill_null("\x00") for c in columns
    ]
    return pl.concat_str(parts, separator="\x1f").hash()


# A metric point's statistics are part of its identity: a Sum export and an Average export of
# the same minute are two records, not one record twice.
_METRIC_STATISTICS = ("sample_count", "sum", "average", "minimum", "maximum", "p50", "p90", "p99")
_STATISTICS_PRESENT = pl.concat_str(
    [pl.col(name).is_not_null().cast(pl.Int8).cast(pl.String) for name in _METRIC_STATISTICS]
)


def _hash_if_present(key: pl.Expr) -> pl.Expr:
    """Hash of a key; null stays null (a record without an id is never a duplicate)."""
    return pl.when(key.is_not_null()).then(key.hash())


def dedupe_key(kind: RecordKind) -> pl.Expr:
    """The expression that identifies one real-world record of a kind (null = never a dup)."""
    if kind is RecordKind.ACCESS_REQUESTS:
        return _hash_if_present(pl.coalesce("extended_request_id", "request_id"))
    if kind is RecordKind.EXECUTION_REQUESTS:
        return _hash_if_present(pl.col("request_id"))
    if kind is RecordKind.EXECUTION_EVENTS:
        # Without an id, an event is the occurrence-th of its identical events in its file:
        # the same in every export that holds it. Files written before `occurrence` existed
        # read it as null: their event counts as the first of its kind.
        identified = pl.col("request_id").is_not_null() & pl.col("event_at").is_not_null()
        occurrence = pl.col("occurrence").fill_null(0)
        return pl.coalesce(
            _hash_if_present(pl.col("event_id")),
            pl.when(identified).then(_hash_key("request_id", "event_at", "message", occurrence)),
            _hash_key("source_file", "source_line", "message"),
        )
    if kind is RecordKind.METRIC_POINTS:
        return _hash_key(*METRIC_POINT_IDENTITY, _STATISTICS_PRESENT)
    if kind is RecordKind.APIS:  # a renamed API is listed under both names: two rows
        return _hash_key("api_type", "api_id", "api_name")
    return _hash_key("replay_name", "request_key")


# A quarantined record is the same one when file, line and text are: a re-run after an
# interrupted commit must not quarantine it twice.
_QUARANTINE_KEY = _hash_key("source_file", "source_line", "record")

# The columns each kind's key is computed from (what the dedupe check reads of a staged row).
_KEY_COLUMNS: dict[RecordKind, tuple[str, ...]] = {
    RecordKind.ACCESS_REQUESTS: ("extended_request_id", "request_id"),
    RecordKind.EXECUTION_REQUESTS: ("request_id",),
    RecordKind.EXECUTION_EVENTS: (
        "event_id",
        "request_id",
        "event_at",
        "message",
        "occurrence",
        "source_file",
        "source_line",
    ),
    RecordKind.METRIC_POINTS: (*METRIC_POINT_IDENTITY, *_METRIC_STATISTICS),
    RecordKind.REPLAY_OUTCOMES: ("replay_name", "request_key"),
    RecordKind.APIS: ("api_type", "api_id", "api_name"),
}


@functools.cache
def arrow_schema(kind: RecordKind) -> pa.Schema:
    """The Arrow schema every staged file of a kind is written with: the polars schema's, with
    32-bit string offsets (what DuckDB hands over; batches are far below 2 GB)."""
    from apigw_analytics.schema import empty_frame

    schema = empty_frame(kind).to_arrow().schema
    return pa.schema(
        [
            field.with_type(pa.string()) if field.type == pa.large_string() else field
            for field in schema
        ]
    )


_QUARANTINE_ARROW = pa.schema(
    [
        (name, pa.int64() if dtype == pl.Int64 else pa.string())
        for name, dtype in QUARANTINE_SCHEMA.items()
    ]
)


def _append(keys: pl.Series | None, more: pl.Series) -> pl.Series:
    return more if keys is None else pl.concat([keys, more])


def _with_partition_date(frame: pl.DataFrame, kind: RecordKind) -> pl.DataFrame:
    time_column = PARTITION_TIME_COLUMN[kind]
    return frame.with_columns(
        pl.col(time_column).dt.date().cast(pl.String).fill_null(UNKNOWN_DATE).alias("_date")
    )


def _arrow_dates(table: pa.Table, kind: RecordKind) -> list[tuple[str, pa.Table]]:
    """The rows of an Arrow table per partition date, in order of first appearance."""
    times = table.column(PARTITION_TIME_COLUMN[kind])
    if times.null_count == 0:  # a batch of one day (the usual case) is known from its bounds
        bounds = pc.cast(pa.array(pc.min_max(times).values()), pa.date32())
        if bounds[0].is_valid and bounds[0] == bounds[1]:
            return [(str(bounds[0]), table)]
    dates = pc.cast(times, pa.date32())
    distinct = pc.unique(dates)
    if len(distinct) == 1:
        only = distinct[0]
        return [(str(only) if only.is_valid else UNKNOWN_DATE, table)]
    parts = []
    for day in distinct:
        mask = pc.equal(dates, day) if day.is_valid else pc.is_null(dates)
        parts.append((str(day) if day.is_valid else UNKNOWN_DATE, table.filter(mask)))
    return parts


@dataclass
class _StagedFile:
    """One staged Parquet file, written while the source is read and closed before commit.

    Row groups are written on the writer's own thread (pyarrow releases the GIL), so encoding
    overlaps with reading the next rows. Up to `_GROUPS_IN_FLIGHT` groups per file wait for or
    are in encoding, which keeps memory bounded; with only one, the reader stopped whenever a
    group was ready before the previous one was encoded, and the query feeding it stalled.
    """

    table: str
    staged: Path
    final: Path
    schema: pa.Schema
    executor: ThreadPoolExecutor
    writer: pq.ParquetWriter | None = None
    rows: int = 0
    pending: list[pa.Table] = field(default_factory=list)
    pending_rows: int = 0
    in_flight: deque[Future] = field(default_factory=deque)

    def append(self, table: pa.Table) -> None:
        """Buffer rows into row groups of about `ROW_GROUP_ROWS` (readers skip by group; small
        groups cost time to write and read). The file exists from the first append on."""
        if self.writer is None:
            self.staged.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(
                self.staged,
                self.schema,
                compression="zstd",
                compression_level=1,
                use_dictionary=[name for name in self.schema.names if name not in _UNIQUE],
                write_statistics=[name for name in self.schema.names if name not in _IDS],
            )
        self.pending.append(table)
        self.pending_rows += table.num_rows
        self.rows += table.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            self.flush()

    def _wait(self, keep: int = 0) -> None:
        """Wait until at most `keep` groups are in flight."""
        while len(self.in_flight) > keep:
            self.in_flight.popleft().result()  # raises what the write raised

    def flush(self) -> None:
        """Start encoding the buffered rows as a row group (after those in flight)."""
        if self.writer is None or not self.pending:
            return
        self._wait(keep=_GROUPS_IN_FLIGHT - 1)
        group = pa.concat_tables(self.pending)
        self.in_flight.append(
            self.executor.submit(self.writer.write_table, group, row_group_size=1 << 30)
        )
        self.pending, self.pending_rows = [], 0

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.flush()
                self._wait()
            finally:
                futures.wait(self.in_flight)  # after a failed write, none may still be writing
                self.in_flight.clear()
                self.writer.close()
                self.writer = None


@dataclass
class _KeyPiece:
    """Keys of rows appended to one staged file in one call (the dedupe check's input)."""

    file: _StagedFile
    date: str
    keys: pl.Series
    canary: pl.Series | None


@dataclass
class StagedSource:
    """What one source has staged so far: files and counts (final once it is settled)."""

    files: list[_StagedFile] = field(default_factory=list)
    rows_by_kind: dict[str, int] = field(default_factory=dict)
    duplicates_dropped: int = 0
    quarantined: int = 0
    pieces: dict[RecordKind, list[_KeyPiece]] = field(default_factory=dict)
    open_files: dict[tuple[str, str | None], _StagedFile] = field(default_factory=dict)
    source_keys: dict[RecordKind, pl.Series] = field(default_factory=dict)
    settled: bool = False


class WarehouseWriter:
    """The single writer of a data directory (an exclusive lock is held while it is open)."""

    def __init__(
        self,
        root: Path,
        *,
        run_id: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.layout = WarehouseLayout(root)
        self._clock = clock
        self.run_id = run_id or clock().strftime("%Y%m%dT%H%M%S%fZ")
        self._lock_handle: IO[bytes] | None = None
        self._file_sequence = 0
        self._run_keys: dict[RecordKind, pl.Series] = {}
        self._committed_keys: dict[tuple[RecordKind, str], pl.Series] = {}
        self._committed_quarantine_keys: pl.Series | None = None
        self._staged = StagedSource()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet")
        self.manifest: dict[str, ManifestEntry] = {}

    def __enter__(self) -> Self:
        try:
            self.layout.root.mkdir(parents=True, exist_ok=True)
            self._lock_handle = self.layout.lock_path.open("wb")
        except OSError as error:
            raise WarehouseError(
                f"{self.layout.root}: cannot write the data directory: {error}"
            ) from None
        try:
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseError(f"{self.layout.root}: another ingest is writing to it") from None
        shutil.rmtree(self.layout.staging_root, ignore_errors=True)
        self.manifest = read_manifest(self.layout.manifest_path)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for staged in self._staged.files:
            staged.close()
        self._executor.shutdown()
        shutil.rmtree(self.layout.staging_root, ignore_errors=True)
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()

    def is_ingested(self, content_hash: str) -> bool:
        return content_hash in self.manifest

    def knows_size(self, size_bytes: int) -> bool:
        """Whether a source of this size was ingested (only then can a file be a repeat)."""
        return any(entry.size_bytes == size_bytes for entry in self.manifest.values())

    def _committed_partition_keys(self, kind: RecordKind, date: str) -> pl.Series:
        cache_key = (kind, date)
        if cache_key not in self._committed_keys:
            partition = self.layout.table_dir(kind.value) / f"date={date}"
            files = sorted(partition.glob("*.parquet")) if partition.is_dir() else []
            if files:  # a column added to the schema after a file was written reads as null
                scan = pl.scan_parquet(files, schema=polars_schema(kind), missing_columns="insert")
                keys = scan.select(dedupe_key(kind).alias("k")).collect()
                self._committed_keys[cache_key] = keys["k"].drop_nulls()
            else:
                self._committed_keys[cache_key] = pl.Series("k", [], dtype=pl.UInt64)
        return self._committed_keys[cache_key]

    def _staged_file(self, table: str, partition: str | None, schema: pa.Schema) -> _StagedFile:
        slot = (table, partition)
        if slot not in self._staged.open_files:
            self._file_sequence += 1
            name = f"part-{self.run_id}-{self._file_sequence:05d}.parquet"
            relative = Path(table, partition, name) if partition else Path(table, name)
            staged = _StagedFile(
                table,
                self.layout.staging_dir(self.run_id) / relative,
                self.layout.root / relative,
                schema,
                self._executor,
            )
            self._staged.files.append(staged)
            self._staged.open_files[slot] = staged
        return self._staged.open_files[slot]

    def _append_rows(self, kind: RecordKind, date: str, table: pa.Table) -> None:
        keys = pl.from_arrow(table.select(list(_KEY_COLUMNS[kind])))
        assert isinstance(keys, pl.DataFrame)
        # Kept until the source settles: copied out of the batch (a view into it would keep the
        # whole batch alive, and memory would grow with the source).
        canary = (
            pl.Series(pc.fill_null(table.column("is_canary"), False))
            if "is_canary" in table.column_names
            else None
        )
        staged = self._staged_file(kind.value, f"date={date}", arrow_schema(kind))
        staged.append(table)
        self._staged.pieces.setdefault(kind, []).append(
            _KeyPiece(staged, date, keys.select(dedupe_key(kind)).to_series(), canary)
        )

    def stage(self, kind: RecordKind, frame: pl.DataFrame) -> None:
        """Validate and stage rows of a kind (duplicates are dropped when the source settles)."""
        if frame.height == 0:
            return
        frame = conform(frame, kind)
        validate(frame, kind)
        dated = _with_partition_date(frame, kind)
        schema = arrow_schema(kind)
        for (date,), part in dated.group_by("_date", maintain_order=True):
            table = part.drop("_date").to_arrow().cast(schema)
            self._append_rows(kind, str(date), table)

    def stage_arrow(self, kind: RecordKind, table: pa.Table) -> None:
        """Stage rows already typed as the kind's Arrow schema (the bulk readers' output)."""
        if table.num_rows == 0:
            return
        schema = arrow_schema(kind)
        if table.schema != schema:  # a cast of a table already of the schema still costs
            table = table.cast(schema)
        for date, part in _arrow_dates(table, kind):
            self._append_rows(kind, date, part)

    def flush_staged(self) -> None:
        """Start encoding every staged file's buffered rows now. A reader that knows its source
        is about to end calls this for its last batches, so that fewer rows are left to encode
        (on one core) when the source is committed."""
        for file in self._staged.files:
            file.flush()

    def quarantine(self, rows: pl.DataFrame) -> None:
        """Stage records that could not be parsed, each with file, line, format and reason."""
        if rows.height == 0:
            return
        rows = rows.with_columns(pl.lit(self.run_id).alias("run_id")).select(
            [pl.col(name).cast(dtype) for name, dtype in QUARANTINE_SCHEMA.items()]
        )
        committed = self._quarantine_keys()
        if len(committed):  # a re-run after a commit interrupted before its manifest write
            rows = rows.filter(~_QUARANTINE_KEY.is_in(committed.implode()))
            if rows.height == 0:
                return
        self._staged.quarantined += rows.height
        self._staged_file(QUARANTINE_TABLE, None, _QUARANTINE_ARROW).append(
            rows.to_arrow().cast(_QUARANTINE_ARROW)
        )

    def _quarantine_keys(self) -> pl.Series:
        """Keys of the quarantine rows committed before this writer opened (read once)."""
        if self._committed_quarantine_keys is None:
            files = sorted(self.layout.table_dir(QUARANTINE_TABLE).glob("*.parquet"))
            keys = (
                pl.scan_parquet(files).select(_QUARANTINE_KEY.alias("k")).collect()["k"]
                if files
                else pl.Series("k", [], dtype=pl.UInt64)
            )
            self._committed_quarantine_keys = keys
        return self._committed_quarantine_keys

    def _settle_kind(self, kind: RecordKind, pieces: list[_KeyPiece]) -> None:
        """Drop the kind's duplicates from the staged files (rewritten only if there are any)."""
        keys = pl.concat([piece.keys for piece in pieces])
        sizes = [len(piece.keys) for piece in pieces]
        present = keys.drop_nulls()
        # Counting distinct keys is twice as fast as marking first occurrences, and a source
        # rarely repeats a key: the marks are only needed when it does.
        if present.n_unique() < len(present):
            drop = keys.is_not_null() & ~keys.is_first_distinct()
        else:
            drop = pl.repeat(False, len(keys), eager=True)
        seen = self._run_keys.get(kind)
        if seen is not None and len(seen):
            drop = drop | keys.is_in(seen.implode())
        dates = [piece.date for piece in pieces]
        for date in dict.fromkeys(dates):
            committed = self._committed_partition_keys(kind, date)
            if len(committed):  # the same request already stored in its partition
                in_date = np.repeat(np.array([d == date for d in dates]), sizes)
                drop = drop | (keys.is_in(committed.implode()) & pl.Series(in_date))
        fix = None
        canaries = [piece.canary for piece in pieces if piece.canary is not None]
        canary = pl.concat(canaries) if canaries else None
        if canary is not None and canary.any():  # a canary copy makes the kept row canary
            frame = pl.DataFrame({"k": keys, "canary": canary, "drop": drop})
            fix = frame.select(
                pl.col("k").is_not_null()
                & ~pl.col("drop")
                & ~pl.col("canary")
                & pl.col("canary").any().over("k")
            ).to_series()
        dropped = int(drop.sum())
        self._staged.source_keys[kind] = keys.filter(~drop).drop_nulls() if dropped else present
        self._staged.duplicates_dropped += dropped
        self._staged.rows_by_kind[kind.value] = (
            self._staged.rows_by_kind.get(kind.value, 0) + len(keys) - dropped
        )
        if dropped or (fix is not None and fix.any()):
            fixes = pl.repeat(False, len(keys), eager=True) if fix is None else fix
            self._rewrite(pieces, drop, fixes)

    @staticmethod
    def _rewrite(pieces: list[_KeyPiece], drop: pl.Series, fix: pl.Series) -> None:
        """Rewrite the staged files that hold a row to drop or a canary flag to set. A file's
        rows are its pieces' rows, in order."""
        starts = np.cumsum([0, *(len(piece.keys) for piece in pieces)])
        by_file: dict[Path, list[int]] = {}
        for index, piece in enumerate(pieces):
            by_file.setdefault(piece.file.staged, []).append(index)
        for indices in by_file.values():
            rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in indices])
            file_drop, file_fix = drop.gather(rows), fix.gather(rows)
            if not (file_drop.any() or file_fix.any()):
                continue
            staged = pieces[indices[0]].file
            table = pq.read_table(staged.staged, schema=staged.schema)
            if file_fix.any():
                stored = pl.Series(table.column("is_canary"))
                canary = pl.select(pl.when(file_fix).then(True).otherwise(stored)).to_series()
                position = table.schema.get_field_index("is_canary")
                table = table.set_column(position, "is_canary", canary.to_arrow())
            table = table.filter(pa.array(~file_drop))
            staged.staged.unlink()
            staged.rows = 0
            if table.num_rows:
                staged.append(table)
                staged.close()

    def settle_source(self) -> StagedSource:
        """Close the source's files and drop its duplicates; its counts are final after this."""
        staged = self._staged
        if not staged.settled:
            for file in staged.files:
                file.close()
            for kind, pieces in list(staged.pieces.items()):
                if pieces:
                    self._settle_kind(kind, pieces)
            staged.settled = True
        return staged

    @property
    def staged(self) -> StagedSource:
        return self._staged

    def commit_source(self, entry: ManifestEntry) -> None:
        """Make the staged files visible, then record the source in the manifest."""
        staged = self.settle_source()
        for file in staged.files:
            if file.rows:
                file.final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(file.staged, file.final)
        entry.rows_by_kind = dict(staged.rows_by_kind)
        entry.duplicates_dropped = staged.duplicates_dropped
        entry.quarantined = staged.quarantined
        entry.run_id = self.run_id
        entry.ingested_at = self._clock().isoformat()
        self.manifest[entry.content_hash] = entry
        write_manifest(self.layout.manifest_path, self.manifest)
        for kind, keys in staged.source_keys.items():
            self._run_keys[kind] = _append(self._run_keys.get(kind), keys)
        self._staged = StagedSource()

    def discard_source(self) -> None:
        """Forget what the current source staged (its file could not be read to the end)."""
        for file in self._staged.files:
            file.close()
            file.staged.unlink(missing_ok=True)
        self._staged = StagedSource()
