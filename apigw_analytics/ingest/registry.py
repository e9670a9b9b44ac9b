"""The format contract and the registry every format is found through.

A format is a small object with a `name`, a `sniff` that scores a sample of messages, and an
`open_parser` that returns a per-source parser. The parser is fed event frames chunk by chunk
and finished at the end of the source, so formats whose records span lines (execution logs) or
chunks keep their own state, and simple line formats just return from `feed`.

A format may also offer `bulk_scans(path, sample, context) -> list[BulkScan]`: whole-file
DuckDB reads of a plain file, tried before the parser (see `bulk.py`); they must give exactly
what the parser gives, or give up.

Adding a format = one module that defines it and calls `register`, plus its sample and tests.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from apigw_analytics.errors import FormatError
from apigw_analytics.schema import RecordKind

MINIMUM_SNIFF_SCORE = 0.5


@dataclass(frozen=True)
class Sample:
    """The first messages of a source and what its container knows, for sniffing."""

    messages: list[str]
    container: str
    log_group: str | None = None


@dataclass
class ParseContext:
    """Per-source settings a parser may need (all optional)."""

    source_file: str
    api_type: str | None = None
    log_group: str | None = None
    options: dict[str, object] = field(default_factory=dict)


@dataclass
class ParseResult:
    """What a parser made of a chunk: rows per kind, quarantined records, skipped records.

    `quarantine` has columns source_line, reason, record. Every event fed must end up in
    exactly one of: a row of the format's primary kind, the quarantine, or `skipped` (blank
    lines, control messages, continuation lines folded into another record) — that is what
    lets the ingest summary reconcile its counts. A format whose events hold many records (a
    metric export document holds its datapoints) says how many more records than events it
    found in `extra_records` (negative when an event held none). `warnings` say what was read
    but rests on a guess the user can correct (shown once per source).
    """

    tables: dict[RecordKind, pl.DataFrame] = field(default_factory=dict)
    quarantine: pl.DataFrame | None = None
    skipped: int = 0
    records_parsed: int = 0
    extra_records: int = 0
    warnings: list[str] = field(default_factory=list)


class SourceParser(Protocol):
    """Parses one source; fed chunk by chunk, finished once."""

    def feed(self, events: pl.DataFrame) -> ParseResult: ...

    def finish(self) -> ParseResult: ...


class Format(Protocol):
    """One log or metric format."""

    name: str
    description: str

    def sniff(self, sample: Sample) -> float:
        """Confidence in [0, 1] that the sample is of this format."""
        ...

    def open_parser(self, context: ParseContext) -> SourceParser: ...


_REGISTRY: dict[str, Format] = {}

# Modules that register formats; imported on first use so that `--help` stays fast.
FORMAT_MODULES = (
    "apigw_analytics.ingest.formats.access_json",
    "apigw_analytics.ingest.formats.access_clf",
    "apigw_analytics.ingest.formats.access_csv",
    "apigw_analytics.ingest.formats.access_xml",
    "apigw_analytics.ingest.formats.metrics_get_metric_data",
    "apigw_analytics.ingest.formats.metrics_get_metric_statistics",
    "apigw_analytics.ingest.formats.metrics_stream",
    "apigw_analytics.ingest.formats.execution_log",
    "apigw_analytics.ingest.formats.api_listing",
)


def register(fmt: Format) -> Format:
    """Add a format (module import time); a name registered twice is a programming error."""
    if fmt.name in _REGISTRY and _REGISTRY[fmt.name] is not fmt:
        raise ValueError(f"format {fmt.name!r} registered twice")
    _REGISTRY[fmt.name] = fmt
    return fmt


def _load() -> None:
    for module in FORMAT_MODULES:
        importlib.import_module(module)


def all_formats() -> list[Format]:
    """Every registered format, in registration order (the order ties are broken in)."""
    _load()
    return list(_REGISTRY.values())


def get_format(name: str) -> Format:
    """The format called `name`; an unknown name lists the known ones."""
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise FormatError(f"unknown format {name!r}; known formats: {known}") from None


def detect_format(sample: Sample, source_file: str) -> Format:
    """The best-scoring format for a sample; none good enough is a FormatError for the file."""
    scored = [(fmt.sniff(sample), index, fmt) for index, fmt in enumerate(all_formats())]
    best_score, _, best = max(scored, key=lambda item: (item[0], -item[1]))
    if best_score < MINIMUM_SNIFF_SCORE:
        first = next((m for m in sample.messages if m.strip()), "")
        raise FormatError(
            f"cannot tell the format ({sample.container} container); first record starts "
            f"{first[:60]!r}; use --format or --access-format",
            path=source_file,
        )
    return best
