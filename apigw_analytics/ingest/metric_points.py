"""From raw metric datapoints to validated `metric_points` rows, shared by the metric formats.

Each metric format only gathers what its export says about a datapoint, as text: the time
(`raw_timestamp`), one `raw:<statistic>` column per statistic, the metric identity and the
record text for the quarantine. Everything after that is the same for every export and is done
here, vectorised: time parsing (ISO with `+00:00`, `Z`, a space or no zone; epoch s or ms),
numeric checks, the quarantine, the period when the export does not state one, float-noise
rounding, merging statistics of one datapoint into one row, sorting and schema conformance.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
import polars as pl

from apigw_analytics.ingest.events import EMPTY_QUARANTINE
from apigw_analytics.ingest.metric_names import DIMENSION_OUTPUT_COLUMNS, with_canonical_metric
from apigw_analytics.ingest.registry import ParseResult
from apigw_analytics.schema import UTC_MS, RecordKind, conform

RAW_PREFIX = "raw:"
STATISTIC_COLUMNS = ("sample_count", "sum", "average", "minimum", "maximum", "p50", "p90", "p99")
_STATISTIC_BY_AWS_NAME = {
    "samplecount": "sample_count",
    "sum": "sum",
    "average": "average",
    "minimum": "minimum",
    "maximum": "maximum",
    "p50": "p50",
    "p90": "p90",
    "p99": "p99",
}
DEFAULT_PERIOD_S = 60
# 12 significant digits: strips binary noise (0.30000000000000004) while keeping every count
# below 10**12 and every latency to far below a microsecond exact.
SIGNIFICANT_DIGITS = 12
IDENTITY_COLUMNS = ("namespace", "metric_name", *DIMENSION_OUTPUT_COLUMNS)
_EPOCH_MS_THRESHOLD = 1e11  # below: epoch seconds (until 5138); above: epoch ms


def statistic_column(statistic: str) -> str:
    """The column of an AWS statistic name (Sum → sum, p99 → p99); others keep their name
    and end up in `extra_statistics`."""
    return _STATISTIC_BY_AWS_NAME.get(statistic.lower(), statistic)


def raw(column: str) -> str:
    """Name of the raw text column holding a statistic before validation."""
    return RAW_PREFIX + column


def option_period_s(options: dict[str, object]) -> int | None:
    """`--period` as passed by the CLI (an int of seconds), when given."""
    value = options.get("period_s")
    return int(value) if isinstance(value, int | float) and value > 0 else None


def parse_timestamp(text: pl.Expr) -> pl.Expr:
    """UTC ms datetime from ISO-8601 (`+00:00`, `Z`, `+0000`, space or `T`, no zone = UTC)
    or epoch seconds / milliseconds as text; null when it is none of those."""
    stripped = text.str.strip_chars()
    epoch = stripped.str.extract(r"^(\d{9,14}(?:\.\d+)?)$").cast(pl.Float64)
    epoch_ms = pl.when(epoch >= _EPOCH_MS_THRESHOLD).then(epoch).otherwise(epoch * 1000)
    iso = stripped.str.replace(r"^(\d{4}-\d\d-\d\d) ", "${1}T").str.replace(r"Z$", "+00:00")
    zoned = pl.when(iso.str.contains(r"[+-]\d\d:?\d\d$")).then(iso).otherwise(iso + "+00:00")
    parsed = zoned.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%z", time_zone="UTC", time_unit="ms", strict=False
    )
    return pl.coalesce(epoch_ms.round().cast(pl.Int64).cast(UTC_MS), parsed)


def _reason(stat_names: list[str]) -> pl.Expr:
    """Why a datapoint cannot be used; null when it can. The first problem wins."""
    checks = [pl.col("reason")]
    checks.append(
        pl.when(pl.col("raw_timestamp").is_null())
        .then(pl.lit("missing timestamp"))
        .when(pl.col("timestamp").is_null())
        .then(pl.lit("bad timestamp: ") + pl.col("raw_timestamp"))
    )
    for name in stat_names:
        text = pl.col(raw(name))
        value = text.cast(pl.Float64, strict=False)
        checks.append(
            pl.when(text.is_not_null() & (value.is_null() | ~value.is_finite())).then(
                pl.lit(f"non-numeric value: {name}=") + text
            )
        )
    if stat_names:
        no_value = pl.all_horizontal(pl.col(raw(name)).is_null() for name in stat_names)
    else:
        no_value = pl.lit(True)
    checks.append(pl.when(no_value).then(pl.lit("datapoint has no statistic value")))
    return pl.coalesce(checks)


def _extra_statistics(names: list[str]) -> pl.Expr:
    """Statistics without a column (p95, p99.9, TM(25%:75%)) as a sorted-key JSON object."""
    if not names:
        return pl.lit(None, pl.String)
    parts = [
        pl.when(pl.col(name).is_not_null()).then(
            pl.lit(f'"{name}":') + pl.col(name).cast(pl.String)
        )
        for name in sorted(names)
    ]
    body = pl.concat_str(parts, separator=",", ignore_nulls=True)
    return pl.when(body != "").then(pl.lit("{") + body + pl.lit("}"))


PERIOD_GUESSED = (
    f"no series has two datapoints, so the period is unknown: assumed {DEFAULT_PERIOD_S} s; "
    "pass --period to set it"
)


def _infer_period(frame: pl.DataFrame) -> tuple[pl.DataFrame, bool]:
    """Fill a period the export does not state: the smallest gap between two datapoints of
    any one series in the document, else 60 s (and say it was guessed).

    Taken over all series, not per series, because idle periods have no datapoint: a series
    with points at 12:01 and 12:03 only is still a 60 s series when its siblings show 60 s.
    """
    unstated = frame.filter(pl.col("period_s").is_null())
    if unstated.height == 0:
        return frame, False
    gap_s = pl.col("timestamp").unique().sort().diff().dt.total_seconds()
    gaps = unstated.group_by(IDENTITY_COLUMNS).agg(gap_s.filter(gap_s > 0).min().alias("gap_s"))
    smallest_gap_s = gaps.get_column("gap_s").min()
    guessed = smallest_gap_s is None
    period_s = DEFAULT_PERIOD_S if guessed else int(smallest_gap_s)
    return frame.with_columns(pl.col("period_s").fill_null(period_s).cast(pl.Int32)), guessed


def build_points(raw_points: pl.DataFrame, skipped: int = 0) -> ParseResult:
    """Validate raw datapoints and return the rows, the quarantine and the counts.

    `raw_points` holds one row per datapoint: source_line, record, reason (a problem found
    while reading the export, else null), raw_timestamp, period_s (null = infer), unit, the
    identity columns, source_file and `raw:<statistic>` text columns. Each row is one record:
    it becomes a row (merged with the other statistics of its datapoint) or a quarantine row.
    """
    if raw_points.height == 0:
        return ParseResult(quarantine=EMPTY_QUARANTINE, skipped=skipped)
    stat_names = [
        c.removeprefix(RAW_PREFIX) for c in raw_points.columns if c.startswith(RAW_PREFIX)
    ]
    raw_points = raw_points.with_columns(
        pl.lit(None, pl.String).alias(name)
        for name in ("reason", "raw_timestamp")
        if name not in raw_points.columns
    )
    checked = raw_points.with_columns(parse_timestamp(pl.col("raw_timestamp")).alias("timestamp"))
    checked = checked.with_columns(_reason(stat_names).alias("reason"))
    bad = checked.filter(pl.col("reason").is_not_null())
    quarantine = bad.select(
        pl.col("source_line").cast(pl.Int64),
        pl.col("reason"),
        pl.col("record").cast(pl.String),
    )
    good = checked.filter(pl.col("reason").is_null())
    result = ParseResult(quarantine=quarantine, skipped=skipped, records_parsed=good.height)
    if good.height == 0:
        return result
    good = good.with_columns(
        pl.col(raw(name)).cast(pl.Float64).round_sig_figs(SIGNIFICANT_DIGITS).alias(name)
        for name in stat_names
    )
    extras = [name for name in stat_names if name not in STATISTIC_COLUMNS]
    good = good.with_columns(_extra_statistics(extras).alias("extra_statistics"))
    with_period, guessed = _infer_period(good)
    if guessed:
        result.warnings.append(PERIOD_GUESSED)
    rows = _merge(with_period, [n for n in stat_names if n in STATISTIC_COLUMNS])
    result.tables[RecordKind.METRIC_POINTS] = conform(rows, RecordKind.METRIC_POINTS)
    return result


def _merge(frame: pl.DataFrame, stat_names: list[str]) -> pl.DataFrame:
    """One row per series and time: statistics asked for in separate queries (Sum in m1,
    Average in m2) are merged, since the warehouse key is the series and time."""
    key = [*IDENTITY_COLUMNS, "period_s", "timestamp"]
    kept = [*stat_names, "extra_statistics", "unit", "source_file", "source_line"]
    merged = frame.group_by(key, maintain_order=True).agg(
        pl.col(name).drop_nulls().first() for name in kept
    )
    return with_canonical_metric(merged).sort(
        [*IDENTITY_COLUMNS, "period_s", "timestamp"], nulls_last=True, maintain_order=True
    )


def json_text(value: object) -> str | None:
    """A JSON scalar as the text the numeric and time checks read (null stays null)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return orjson.dumps(value).decode()


def sniff_document(sample_messages: list[str], key: str) -> float:
    """High when one of the first messages is a JSON document holding `"key"` at all.

    Exports are small documents that arrive as one event; looking for the key's text avoids
    parsing a document of up to 100,800 datapoints just to sniff it.
    """
    for message in sample_messages[:5]:
        text = message.lstrip()
        if text.startswith("{") and f'"{key}"' in text:
            return 0.95
    return 0.0


def problem_frame(line: int, reason: str, record: object) -> pl.DataFrame:
    """One quarantined record that never got as far as a datapoint (bad JSON, wrong shape)."""
    text = record if isinstance(record, str) else orjson.dumps(record).decode()
    return pl.DataFrame(
        {"source_line": [line], "reason": [reason], "record": [text], "raw_timestamp": [None]},
        schema={
            "source_line": pl.Int64,
            "reason": pl.String,
            "record": pl.String,
            "raw_timestamp": pl.String,
        },
    )


def parse_documents(
    events: pl.DataFrame,
    source_file: str,
    document_frames: Callable[[dict, int], list[pl.DataFrame] | None],
    kind_name: str,
) -> ParseResult:
    """Datapoints of every JSON document event: `document_frames(document, line)` returns its
    raw-point frames, or None when the document is not of this export's shape (quarantined).
    Each document counts as the datapoints it holds (`extra_records`)."""
    frames: list[pl.DataFrame] = []
    for message, line in events.select("message", "source_line").iter_rows():
        try:
            document = orjson.loads(message)
        except orjson.JSONDecodeError as error:
            frames.append(problem_frame(line, f"invalid JSON: {error}", message))
            continue
        found = document_frames(document, line) if isinstance(document, dict) else None
        if found is None:
            frames.append(problem_frame(line, f"not a {kind_name} document", message))
            continue
        frames.extend(found)
    raw_points = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    if raw_points.height:
        raw_points = raw_points.with_columns(pl.lit(source_file).alias("source_file"))
    result = build_points(raw_points)
    result.extra_records = raw_points.height - events.height
    return result
