"""Ingest files, folders and globs into the warehouse, one source at a time.

Per source: hash it in the background (a file of a size already in the manifest is hashed
first: when its hash is there, there is nothing to do), open its container, detect (or take the
forced) format, then read it: a plain file whose format offers a whole-file read goes to DuckDB
in one query (`bulk.py`), anything else is fed to the format's parser chunk by chunk; stage rows
and quarantine, commit. A source that cannot be read is reported with its reason and the others
go on. Counts reconcile per source: records read = records parsed + quarantined + skipped.
"""

from __future__ import annotations

import glob
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from apigw_analytics.errors import InputError
from apigw_analytics.ingest.access_fields import source_labels
from apigw_analytics.ingest.bulk import BulkUnsupportedError, ingest_bulk
from apigw_analytics.ingest.containers import Source, open_source
from apigw_analytics.ingest.registry import (
    Format,
    ParseContext,
    ParseResult,
    Sample,
    detect_format,
    get_format,
)
from apigw_analytics.schema import PARTITION_TIME_COLUMN, RecordKind
from apigw_analytics.warehouse.manifest import FileDigest, ManifestEntry
from apigw_analytics.warehouse.writer import WarehouseWriter

_SNIFF_MESSAGES = 50


@dataclass
class SourceReport:
    """What happened to one source file."""

    path: str
    status: str = "ingested"  # ingested | already ingested | failed
    container: str | None = None
    format: str | None = None
    size_bytes: int = 0
    records_read: int = 0
    records_parsed: int = 0
    quarantined: int = 0
    skipped: int = 0
    rows_by_kind: dict[str, int] = field(default_factory=dict)
    duplicates_dropped: int = 0
    quarantine_reasons: Counter = field(default_factory=Counter)
    first_at: datetime | None = None
    last_at: datetime | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return self.records_read == self.records_parsed + self.quarantined + self.skipped


@dataclass
class IngestSummary:
    """Everything `apigw-analyze ingest` reports, for people (table) and machines (--json)."""

    data_dir: str
    sources: list[SourceReport]
    elapsed_s: float
    execution_requests_merged: int = 0

    def total(self, attribute: str) -> int:
        return sum(getattr(source, attribute) for source in self.sources)

    @property
    def rows_by_kind(self) -> dict[str, int]:
        totals: Counter = Counter()
        for source in self.sources:
            totals.update(source.rows_by_kind)
        return dict(sorted(totals.items()))

    @property
    def quarantine_reasons(self) -> dict[str, int]:
        totals: Counter = Counter()
        for source in self.sources:
            totals.update(source.quarantine_reasons)
        return dict(totals.most_common())

    @property
    def failed(self) -> list[SourceReport]:
        return [source for source in self.sources if source.error]

    @property
    def time_range(self) -> tuple[datetime | None, datetime | None]:
        firsts = [s.first_at for s in self.sources if s.first_at]
        lasts = [s.last_at for s in self.sources if s.last_at]
        return (min(firsts) if firsts else None, max(lasts) if lasts else None)

    @property
    def bytes_read(self) -> int:
        return sum(s.size_bytes for s in self.sources if s.status == "ingested")

    @property
    def exit_code(self) -> int:
        """0: all read; 4: a file could not be read (to the end); 3: records quarantined."""
        if self.failed:
            return 4
        if self.total("quarantined"):
            return 3
        return 0

    def to_dict(self) -> dict:
        first, last = self.time_range
        records = self.total("records_read")
        return {
            "data_dir": self.data_dir,
            "files": len(self.sources),
            "files_ingested": sum(s.status == "ingested" for s in self.sources),
            "files_already_ingested": sum(s.status == "already ingested" for s in self.sources),
            "files_failed": len(self.failed),
            "formats": dict(Counter(s.format for s in self.sources if s.format)),
            "records_read": records,
            "records_parsed": self.total("records_parsed"),
            "quarantined": self.total("quarantined"),
            "skipped": self.total("skipped"),
            "duplicates_dropped": self.total("duplicates_dropped"),
            "execution_requests_merged": self.execution_requests_merged,
            "rows_by_kind": self.rows_by_kind,
            "quarantine_reasons": self.quarantine_reasons,
            "first_at": first.isoformat() if first else None,
            "last_at": last.isoformat() if last else None,
            "elapsed_s": round(self.elapsed_s, 3),
            "records_per_s": round(records / self.elapsed_s) if self.elapsed_s else None,
            "mb_per_s": round(self.bytes_read / 1e6 / self.elapsed_s, 1)
            if self.elapsed_s
            else None,
            "exit_code": self.exit_code,
            "sources": [
                {
                    "path": s.path,
                    "status": s.status,
                    "container": s.container,
                    "format": s.format,
                    "records_read": s.records_read,
                    "rows_by_kind": s.rows_by_kind,
                    "quarantined": s.quarantined,
                    "skipped": s.skipped,
                    "duplicates_dropped": s.duplicates_dropped,
                    "error": s.error,
                    "warnings": s.warnings,
                }
                for s in self.sources
            ],
        }


_NOT_LOGS = re.compile(r"^(?:[._].*|README(?:\.\w+)?|aws-logs-write-test)$", re.IGNORECASE)


def is_log_candidate(path: Path) -> bool:
    """Whether a file found in a folder walk may hold logs. Skipped, as Hadoop-style readers
    skip them: hidden and `_`-prefixed files (`_ground-truth.csv.gz`, `_SUCCESS`), READMEs, and
    the `aws-logs-write-test` object a CloudWatch Logs S3 export writes at its prefix. A file
    named explicitly on the command line is always read."""
    return not _NOT_LOGS.match(path.name)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files from files, folders (recursive, sorted, see `is_log_candidate`) and globs; a path
    matching nothing is kept so that it is reported as unreadable rather than silently
    ignored."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and os.access(path, os.R_OK | os.X_OK):
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_log_candidate(p)))
        elif not path.exists() and glob.has_magic(str(raw)):
            matches = glob.glob(str(raw), recursive=True)
            found.extend(sorted(Path(p) for p in matches if Path(p).is_file()) or [path])
        else:
            found.append(path)
    unique: dict[Path, None] = dict.fromkeys(found)
    return list(unique)


def _time_bounds(kind: RecordKind, frame: pl.DataFrame) -> tuple[datetime | None, datetime | None]:
    column = frame.get_column(PARTITION_TIME_COLUMN[kind]).drop_nulls()
    if column.is_empty():
        return None, None
    return column.min(), column.max()


class _SourceIngest:
    """Ingests one opened source into the writer, keeping its report."""

    def __init__(self, writer: WarehouseWriter, report: SourceReport, fmt: Format) -> None:
        self.writer = writer
        self.report = report
        self.format = fmt

    def absorb(self, result: ParseResult) -> None:
        report = self.report
        report.records_parsed += result.records_parsed
        report.records_read += result.extra_records
        report.skipped += result.skipped
        report.warnings.extend(w for w in result.warnings if w not in report.warnings)
        for kind, frame in result.tables.items():
            self.writer.stage(kind, frame)
            first, last = _time_bounds(kind, frame)
            if first is not None and kind in (
                RecordKind.ACCESS_REQUESTS,
                RecordKind.METRIC_POINTS,
                RecordKind.EXECUTION_EVENTS,
            ):
                report.first_at = min(filter(None, [report.first_at, first]))
                report.last_at = max(filter(None, [report.last_at, last]))
        quarantine = result.quarantine
        if quarantine is not None and quarantine.height:
            report.quarantined += quarantine.height
            report.quarantine_reasons.update(
                quarantine["reason"].str.replace(r":.*$", "").to_list()
            )
            self.writer.quarantine(
                quarantine.with_columns(
                    pl.lit(report.path).alias("source_file"),
                    pl.lit(self.format.name).alias("format"),
                )
            )


def _read_whole(
    writer: WarehouseWriter,
    report: SourceReport,
    fmt: Format,
    source: Source,
    sample: Sample,
    context: ParseContext,
    digest: FileDigest,
) -> bool:
    """Read a plain-text source in one DuckDB query when its format offers one; False when
    it must be read chunk by chunk (nothing of the attempt is kept then)."""
    planner = getattr(fmt, "bulk_scans", None)
    if planner is None or source.container != "plain":
        return False
    for scan in planner(source.path, sample, context):
        try:
            counts = ingest_bulk(
                scan,
                source.path,
                source_file=report.path,
                api_type=context.api_type,
                labels=source_labels(context.options),
                writer=writer,
                digest=digest,
            )
            break
        except BulkUnsupportedError:
            writer.discard_source()
    else:
        return False
    report.records_read += counts.records_read
    report.first_at, report.last_at = counts.first_at, counts.last_at
    _SourceIngest(writer, report, fmt).absorb(
        ParseResult(
            quarantine=pl.concat(counts.quarantine) if counts.quarantine else None,
            skipped=counts.skipped,
            records_parsed=counts.records_parsed,
        )
    )
    return True


def _ingest_source(
    writer: WarehouseWriter,
    path: Path,
    *,
    forced: Format | None,
    context_options: dict[str, object],
    api_type: str | None,
) -> SourceReport:
    report = SourceReport(path=str(path))
    try:
        report.size_bytes = path.stat().st_size
        digest = FileDigest(path)
        # Only a file of a size already ingested can be a repeat: others are read while hashed.
        if writer.knows_size(report.size_bytes) and writer.is_ingested(
            digest.result().content_hash
        ):
            report.status = "already ingested"
            return report
    except OSError as error:
        return _unreadable(report, path, error)
    try:
        source = open_source(path)
        report.container = source.container
        first_chunk = next(source.chunks, None)
        sample = Sample(
            messages=[]
            if first_chunk is None
            else first_chunk["message"].head(_SNIFF_MESSAGES).to_list(),
            container=source.container,
            log_group=source.log_group,
        )
        if first_chunk is None or first_chunk.height == 0:
            if source.skipped_records:  # only control messages: read whole, nothing to parse
                return _commit(writer, source, report, digest)
            raise InputError("empty file: no records", path=str(path))
        fmt = forced or detect_format(sample, str(path))
        report.format = fmt.name
        context = ParseContext(
            source_file=str(path),
            api_type=api_type,
            log_group=source.log_group,
            options=context_options,
        )
        if not _read_whole(writer, report, fmt, source, sample, context, digest):
            parser = fmt.open_parser(context)
            ingest = _SourceIngest(writer, report, fmt)
            for chunk in _chain(first_chunk, source):
                report.records_read += chunk.height
                ingest.absorb(parser.feed(chunk))
            ingest.absorb(parser.finish())
    except InputError as error:
        writer.discard_source()
        report.status = "failed"
        report.error = str(error)
        return report
    return _commit(writer, source, report, digest)


def _unreadable(report: SourceReport, path: Path, error: OSError) -> SourceReport:
    report.status = "failed"
    report.error = f"{path}: cannot read: {error.strerror or error}"
    return report


def _commit(
    writer: WarehouseWriter, source: Source, report: SourceReport, digest: FileDigest
) -> SourceReport:
    try:
        content_hash = digest.result().content_hash
    except OSError as error:
        writer.discard_source()
        return _unreadable(report, source.path, error)
    _finish_source(source, report)
    entry = ManifestEntry(
        content_hash=content_hash,
        path=report.path,
        size_bytes=report.size_bytes,
        container=report.container or "",
        formats=[report.format or ""],
        records_read=report.records_read,
        skipped=report.skipped,
    )
    writer.commit_source(entry)
    report.rows_by_kind = dict(entry.rows_by_kind)
    report.duplicates_dropped = entry.duplicates_dropped
    return report


def _chain(first: pl.DataFrame, source: Source) -> Iterable[pl.DataFrame]:
    yield first
    yield from source.chunks


def _finish_source(source: Source, report: SourceReport) -> None:
    report.records_read += source.skipped_records
    report.skipped += source.skipped_records
    report.warnings.extend(source.warnings)
    if source.error:
        report.error = (
            f"{source.path}: {source.error} (kept the {report.records_read} records read)"
        )
    if report.records_read and report.quarantined == report.records_read:
        report.warnings.append(
            f"no record matched format {report.format}; check --format / --access-format"
        )


def ingest_paths(
    paths: Iterable[str | Path],
    data_dir: Path,
    *,
    format_name: str | None = None,
    access_template: str | None = None,
    api_type: str | None = None,
    options: dict[str, object] | None = None,
    show_progress: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> IngestSummary:
    """Ingest every file under `paths` into the warehouse at `data_dir`."""
    forced: Format | None = None
    if access_template:
        from apigw_analytics.ingest.formats.access_template import CustomTemplateFormat

        forced = CustomTemplateFormat(access_template)
    elif format_name:
        forced = get_format(format_name)
    files = expand_paths(paths)
    started = time.perf_counter()
    reports: list[SourceReport] = []
    from apigw_analytics.ingest.progress import ingest_progress

    with (
        WarehouseWriter(data_dir, clock=clock) as writer,
        ingest_progress(files, enabled=show_progress) as progress,
    ):
        for path in files:
            report = _ingest_source(
                writer,
                path,
                forced=forced,
                context_options=dict(options or {}),
                api_type=api_type,
            )
            progress.finish_file(path)
            reports.append(report)
        merged = _merge_split_execution_requests(writer, reports)
    return IngestSummary(str(data_dir), reports, time.perf_counter() - started, merged)


def _merge_split_execution_requests(writer: WarehouseWriter, reports: list[SourceReport]) -> int:
    """Rebuild the execution requests whose events this run added to another file's (see
    `execution_merge`), over the days the run's execution events cover."""
    days: set[str] = set()
    for report in reports:
        if report.rows_by_kind.get(RecordKind.EXECUTION_EVENTS.value) and report.first_at:
            last = (report.last_at or report.first_at).date()
            day = report.first_at.date()
            while day <= last:
                days.add(str(day))
                day += timedelta(days=1)
    if not days:
        return 0
    from apigw_analytics.ingest.execution_merge import merge_split_requests

    return merge_split_requests(writer.layout, days, writer.layout.staging_dir(writer.run_id))
