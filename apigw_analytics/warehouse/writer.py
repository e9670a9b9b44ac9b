"""Atomic, deduplicating writes into the warehouse.

A `WarehouseWriter` stages Parquet files for one source under `_staging/<run>/` and makes them
visible only in `commit_source`, by renaming each finished file into its partition and then
recording the source in the manifest. A run killed before that leaves only staging files, which
the next writer deletes; a run killed between the renames (a window of microseconds) leaves
complete files of a source the manifest does not list, so the re-run ingests that source again
and the deduplication below drops every row already visible. Either way nothing is counted twice.

Deduplication: each kind has a key (access requests: extended_request_id, else request_id). A
staged row is dropped when its key is already in the warehouse or already staged in this run.
Quarantined records are keyed by (source_file, source_line, record) the same way.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Self

import polars as pl

from apigw_analytics.errors import WarehouseError
from apigw_analytics.schema import PARTITION_TIME_COLUMN, RecordKind, conform, validate
from apigw_analytics.warehouse.layout import QUARANTINE_TABLE, WarehouseLayout
from apigw_analytics.warehouse.manifest import ManifestEntry, read_manifest, write_manifest

DEDUPE_KEY_COLUMN = "_dedupe_key"

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
        identified = pl.col("request_id").is_not_null() & pl.col("event_at").is_not_null()
        return pl.coalesce(
            _hash_if_present(pl.col("event_id")),
            pl.when(identified).then(_hash_key("request_id", "event_at", "message", "sequence")),
            _hash_key("source_file", "source_line", "message"),
        )
    if kind is RecordKind.METRIC_POINTS:
        return _hash_key(
            "namespace",
            "metric_name",
            "api_name",
            "api_id",
            "stage",
            "method",
            "resource",
            "route",
            "extra_dimensions",
            "timestamp",
            "period_s",
            _STATISTICS_PRESENT,
        )
    return _hash_key("replay_name", "request_key")


# A quarantined record is the same one when file, line and text are: a re-run after an
# interrupted commit must not quarantine it twice.
_QUARANTINE_KEY = _hash_key("source_file", "source_line", "record")


def _append(keys: pl.Series | None, more: pl.Series) -> pl.Series:
    return more if keys is None else pl.concat([keys, more])


def _with_partition_date(frame: pl.DataFrame, kind: RecordKind) -> pl.DataFrame:
    time_column = PARTITION_TIME_COLUMN[kind]
    return frame.with_columns(
        pl.col(time_column).dt.date().cast(pl.String).fill_null("unknown").alias("_date")
    )


@dataclass
class StagedSource:
    """What one source has staged so far: files (staged path → final path) and counts."""

    files: list[tuple[Path, Path]] = field(default_factory=list)
    rows_by_kind: dict[str, int] = field(default_factory=dict)
    duplicates_dropped: int = 0
    quarantined: int = 0


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
        self._source_keys: dict[RecordKind, pl.Series] = {}
        self._committed_keys: dict[tuple[RecordKind, str], pl.Series] = {}
        self._committed_quarantine_keys: pl.Series | None = None
        self._staged = StagedSource()
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
        shutil.rmtree(self.layout.staging_root, ignore_errors=True)
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()

    def is_ingested(self, sha256: str) -> bool:
        return sha256 in self.manifest

    def _committed_partition_keys(self, kind: RecordKind, date: str) -> pl.Series:
        cache_key = (kind, date)
        if cache_key not in self._committed_keys:
            partition = self.layout.table_dir(kind.value) / f"date={date}"
            files = sorted(partition.glob("*.parquet")) if partition.is_dir() else []
            if files:
                keys = pl.scan_parquet(files).select(dedupe_key(kind).alias("k")).collect()
                self._committed_keys[cache_key] = keys["k"].drop_nulls()
            else:
                self._committed_keys[cache_key] = pl.Series("k", [], dtype=pl.UInt64)
        return self._committed_keys[cache_key]

    def _drop_duplicates(self, frame: pl.DataFrame, kind: RecordKind) -> pl.DataFrame:
        keyed = frame.with_columns(dedupe_key(kind).alias(DEDUPE_KEY_COLUMN))
        if "is_canary" in keyed.columns and keyed["is_canary"].any():
            keyed = keyed.with_columns(
                pl.col("is_canary").any().over(DEDUPE_KEY_COLUMN).alias("is_canary")
            )
        no_key = keyed.filter(pl.col(DEDUPE_KEY_COLUMN).is_null())
        keyed = keyed.filter(pl.col(DEDUPE_KEY_COLUMN).is_not_null()).unique(
            DEDUPE_KEY_COLUMN, keep="first", maintain_order=True
        )
        for seen in (self._run_keys.get(kind), self._source_keys.get(kind)):
            if seen is not None and len(seen):
                keyed = keyed.filter(~pl.col(DEDUPE_KEY_COLUMN).is_in(seen.implode()))
        kept_parts = []
        for (date,), part in keyed.group_by("_date", maintain_order=True):
            committed = self._committed_partition_keys(kind, str(date))
            new_rows = ~pl.col(DEDUPE_KEY_COLUMN).is_in(committed.implode())
            kept_parts.append(part.filter(new_rows) if len(committed) else part)
        kept = pl.concat([*kept_parts, no_key]) if kept_parts else no_key
        self._source_keys[kind] = _append(
            self._source_keys.get(kind), kept[DEDUPE_KEY_COLUMN].drop_nulls()
        )
        return kept.drop(DEDUPE_KEY_COLUMN)

    def stage(self, kind: RecordKind, frame: pl.DataFrame) -> int:
        """Validate, deduplicate and stage rows of a kind; returns the rows kept."""
        if frame.height == 0:
            return 0
        frame = conform(frame, kind)
        validate(frame, kind)
        dated = _with_partition_date(frame, kind)
        kept = self._drop_duplicates(dated, kind)
        self._staged.duplicates_dropped += frame.height - kept.height
        self._staged.rows_by_kind[kind.value] = (
            self._staged.rows_by_kind.get(kind.value, 0) + kept.height
        )
        for (date,), part in kept.group_by("_date", maintain_order=True):
            self._stage_file(kind.value, f"date={date}", part.drop("_date"))
        return kept.height

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
        self._stage_file(QUARANTINE_TABLE, None, rows)

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

    def _stage_file(self, table: str, partition: str | None, frame: pl.DataFrame) -> None:
        self._file_sequence += 1
        name = f"part-{self.run_id}-{self._file_sequence:05d}.parquet"
        relative = Path(table, partition, name) if partition else Path(table, name)
        staged = self.layout.staging_dir(self.run_id) / relative
        staged.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(staged, compression="zstd", compression_level=1, statistics=True)
        self._staged.files.append((staged, self.layout.root / relative))

    @property
    def staged(self) -> StagedSource:
        return self._staged

    def commit_source(self, entry: ManifestEntry) -> None:
        """Make the staged files visible, then record the source in the manifest."""
        for staged, final in self._staged.files:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
        entry.rows_by_kind = dict(self._staged.rows_by_kind)
        entry.duplicates_dropped = self._staged.duplicates_dropped
        entry.quarantined = self._staged.quarantined
        entry.run_id = self.run_id
        entry.ingested_at = self._clock().isoformat()
        self.manifest[entry.sha256] = entry
        write_manifest(self.layout.manifest_path, self.manifest)
        for kind, keys in self._source_keys.items():
            self._run_keys[kind] = _append(self._run_keys.get(kind), keys)
        self._source_keys = {}
        self._staged = StagedSource()

    def discard_source(self) -> None:
        """Forget what the current source staged (its file could not be read to the end)."""
        for staged, _ in self._staged.files:
            staged.unlink(missing_ok=True)
        self._staged = StagedSource()
        self._source_keys = {}
