"""REST (and WebSocket) execution logs: one event row per message, one request row per request.

Execution logs are free text written a message at a time, with the request id as a `(id) `
prefix on current logs and only on the usage-plan/execution start lines of 2016 logs. A message
may span lines (bodies are logged verbatim), so a line without a prefix continues the message
before it — also across the chunks the parser is fed, which is why the last message of every
chunk is held back until the next chunk shows where it ends. Request rows need every event of
their request, and requests cross chunks, so they are built in `finish()` from the few messages
that matter (see `execution_requests`).

Every event fed ends in exactly one place: an EXECUTION_EVENTS row, the quarantine (text before
any message that is neither a known message nor prefixed, or an unknown message belonging to no
request), or `skipped` (continuation lines folded into their message, blank lines).
"""

from __future__ import annotations

import re

import polars as pl

from apigw_analytics.ingest.events import EMPTY_QUARANTINE, quarantine_frame
from apigw_analytics.ingest.execution_catalogue import OTHER_KIND, message_kind
from apigw_analytics.ingest.execution_lines import (
    named_request_id,
    split_prefix,
    with_log_group_fields,
)
from apigw_analytics.ingest.execution_requests import (
    build_requests,
    combined_stats,
    request_facts,
    request_stats,
)
from apigw_analytics.ingest.registry import ParseContext, ParseResult, Sample, register
from apigw_analytics.schema import RecordKind, conform, empty_frame, polars_schema

_NO_REQUEST = "\x00"  # stands for a null request id where grouping and joins need a value
_EXECUTION_GROUP = re.compile(r"^(?:API-Gateway-Execution-Logs[_/]|/aws/apigateway/[^/]+/)")
_SNIFF_MESSAGES = 200
_EVENT_COLUMNS = list(polars_schema(RecordKind.EXECUTION_EVENTS))
_ORPHAN = "not an execution-log message: no (requestId) prefix, time or known wording"
_UNOWNED = "unrecognised message that belongs to no request (no request id on or before it)"
_NO_TIME = -(2**63)  # stands for a null event time in the occurrence counter's time ranges


class _Occurrences:
    """Numbers each event among the identical (same request, time and message) events of its
    file, in file order: the first is 0, a line logged again in the same millisecond 1.

    This is what identifies an event without a CloudWatch id (see `dedupe_key`): a sequence
    restarts in every file, but an event's occurrence is the same in every export that holds
    it. Identical events share a time, so each chunk's identities are kept with the chunk's
    time range, and a chunk only looks into the earlier chunks whose range overlaps its own: in
    a file in time order, the one before at most.
    """

    def __init__(self) -> None:
        self._chunks: list[tuple[int, int, pl.Series]] = []

    def number(self, events: pl.DataFrame) -> pl.Series:
        """The `occurrence` of each event of the chunk (events in file order).

        Identical events are rare, so only the events whose identity repeats within the chunk
        or was seen before are numbered (numbering every event by group costs twenty times
        the hashing)."""
        occurrence = pl.zeros(events.height, pl.Int32, eager=True).alias("occurrence")
        if events.is_empty():
            return occurrence
        identity = events.select("request_id", "event_at", "message").hash_rows().alias("identity")
        times = events["event_at"].to_physical().fill_null(_NO_TIME)
        low, high = times.min(), times.max()
        earlier = [ids for start, end, ids in self._chunks if start <= high and low <= end]
        self._chunks.append((low, high, identity))
        seen = pl.concat(earlier) if earlier else identity.clear()
        seen = seen.filter(seen.is_in(identity.implode()))
        repeats = identity.is_duplicated() | identity.is_in(seen.implode())
        if not repeats.any():
            return occurrence
        counts = seen.value_counts(name="earlier").with_columns(pl.col("earlier").cast(pl.Int32))
        numbered = (
            pl.DataFrame({"identity": identity})
            .with_row_index("row")
            .filter(repeats)
            .join(counts, on="identity", how="left", maintain_order="left")
            .select(
                "row",
                (
                    pl.int_range(pl.len(), dtype=pl.Int32).over("identity")
                    + pl.col("earlier").fill_null(0)
                ).alias("occurrence"),
            )
        )
        return occurrence.scatter(numbered["row"], numbered["occurrence"])


class ExecutionLogParser:
    """Parses one source; keeps the unfinished last message and the facts for request rows."""

    def __init__(self, context: ParseContext) -> None:
        self._source_file = context.source_file
        self._default_group = context.log_group
        self._carry: pl.DataFrame | None = None
        self._prefixed = False  # some line had a request id or a time: unprefixed lines continue
        self._has_request_prefix = False  # request ids come from prefixes, not naming lines
        self._named_request: str | None = None
        self._head_count = 0
        self._seen = pl.DataFrame(schema={"rid_key": pl.String, "seen": pl.Int64})
        self._occurrences = _Occurrences()
        self._stats: list[pl.DataFrame] = []
        self._facts: list[pl.DataFrame] = []

    def feed(self, events: pl.DataFrame) -> ParseResult:
        """Parse a chunk; its last message waits for the next chunk (it may continue there)."""
        frame = events if self._carry is None else pl.concat([self._carry, events])
        return self._process(frame, final=False)

    def finish(self) -> ParseResult:
        """Parse the held-back message and build one request row per request id."""
        result = ParseResult(tables={}, quarantine=EMPTY_QUARANTINE)
        if self._carry is not None:
            result = self._process(self._carry, final=True)
        stats = pl.concat(self._stats) if self._stats else None
        if stats is None:
            requests = empty_frame(RecordKind.EXECUTION_REQUESTS)
        else:
            facts = pl.concat(self._facts)
            requests = build_requests(combined_stats(stats), facts, self._source_file)
        result.tables[RecordKind.EXECUTION_REQUESTS] = requests
        result.tables.setdefault(
            RecordKind.EXECUTION_EVENTS, empty_frame(RecordKind.EXECUTION_EVENTS)
        )
        return result

    def _process(self, frame: pl.DataFrame, *, final: bool) -> ParseResult:
        self._carry = None
        lines = split_prefix(frame).with_columns(
            pl.coalesce("event_at", "prefix_event_at").alias("event_at"),
            message_kind(pl.col("body")),
        )
        self._has_request_prefix |= lines["prefix_request_id"].is_not_null().any()
        self._prefixed |= self._has_request_prefix or lines["event_at"].is_not_null().any()
        # The test-invoke header is the one message that never carries a prefix.
        is_head = (
            pl.col("prefix_request_id").is_not_null()
            | pl.col("event_at").is_not_null()
            | (pl.col("message_kind") == "execution_log_header")
        )
        if not self._prefixed:
            is_head = is_head | (pl.col("message_kind") != OTHER_KIND)
        lines = lines.with_columns(is_head.alias("is_head")).with_columns(
            pl.col("is_head").cum_sum().alias("group")
        )
        if not final and lines["is_head"].any():
            last_head = lines.height - 1 - lines["is_head"].reverse().arg_max()
            self._carry = frame.slice(last_head)
            lines = lines.slice(0, last_head)
        orphans = lines.filter(pl.col("group") == 0)
        blank = orphans["message"].str.strip_chars().str.len_bytes() == 0
        quarantine = [orphans.filter(~blank)]
        skipped = int(blank.sum()) + int((~lines["is_head"] & (lines["group"] > 0)).sum())
        heads = self._fold_continuations(lines)
        heads = self._with_request_ids(heads)
        unowned = (pl.col("message_kind") == OTHER_KIND) & pl.col("request_id").is_null()
        quarantine.append(heads.filter(unowned))
        heads = heads.filter(~unowned)
        events = self._events(heads)
        self._keep_for_requests(events)
        rejected = pl.concat([part.select("source_line", "message") for part in quarantine])
        reasons = pl.Series(
            [_ORPHAN] * quarantine[0].height + [_UNOWNED] * quarantine[1].height, dtype=pl.String
        )
        return ParseResult(
            tables={RecordKind.EXECUTION_EVENTS: conform(
                events.select(name for name in _EVENT_COLUMNS if name in events.columns),
                RecordKind.EXECUTION_EVENTS)},
            quarantine=quarantine_frame(rejected["source_line"], reasons, rejected["message"]),
            skipped=skipped,
            records_parsed=events.height,
        )  # fmt: skip

    @staticmethod
    def _fold_continuations(lines: pl.DataFrame) -> pl.DataFrame:
        """The head lines, each with the lines that continue it appended to its body."""
        heads = lines.filter(pl.col("is_head"))
        continued = lines.filter(~pl.col("is_head") & (pl.col("group") > 0))["group"].unique()
        if continued.is_empty():
            return heads
        joined = (
            lines.filter(pl.col("group").is_in(continued.implode()))
            .group_by("group", maintain_order=True)
            .agg(pl.col("body").str.join("\n").str.strip_chars_end())
        )
        body = heads["body"].scatter(joined["group"] - 1, joined["body"])
        return heads.with_columns(body)

    def _with_request_ids(self, heads: pl.DataFrame) -> pl.DataFrame:
        """Request ids from prefixes, or (old logs without them) from the last naming line."""
        if self._has_request_prefix:
            return heads.with_columns(pl.col("prefix_request_id").alias("request_id"))
        filled = heads.select(named_request_id(pl.col("body")).forward_fill())["body"]
        if self._named_request is not None:
            filled = filled.fill_null(self._named_request)
        if filled.len() and filled[-1] is not None:
            self._named_request = filled[-1]
        return heads.with_columns(filled.alias("request_id"))

    def _events(self, heads: pl.DataFrame) -> pl.DataFrame:
        """Event rows: sequence within the request and occurrence among identical events (both
        counting earlier chunks), and log-group ids."""
        with_keys = heads.with_columns(
            pl.col("request_id").fill_null(_NO_REQUEST).alias("rid_key"),
            pl.int_range(self._head_count, self._head_count + pl.len(), dtype=pl.Int64).alias(
                "order"
            ),
            pl.coalesce("log_group", pl.lit(self._default_group, pl.String)).alias("log_group"),
            pl.col("body").alias("message"),
            pl.col("body").str.ends_with("[TRUNCATED]").alias("is_truncated"),
        )
        self._head_count += heads.height
        with_offsets = with_keys.join(self._seen, on="rid_key", how="left", maintain_order="left")
        events = with_offsets.with_columns(
            (pl.int_range(pl.len()).over("rid_key") + pl.col("seen").fill_null(0))
            .cast(pl.Int32)
            .alias("sequence"),
            pl.lit(self._source_file, pl.String).alias("source_file"),
        )
        events = events.with_columns(self._occurrences.number(events))
        counts = events.group_by("rid_key").agg(pl.len().cast(pl.Int64).alias("seen"))
        self._seen = pl.concat([self._seen, counts]).group_by("rid_key").agg(pl.col("seen").sum())
        return with_log_group_fields(events)

    def _keep_for_requests(self, events: pl.DataFrame) -> None:
        """Per-request counts and the request-defining messages, for rows built at the end."""
        self._stats.append(request_stats(events))
        self._facts.append(request_facts(events))


class ExecutionLogFormat:
    """The `execution-log` format: REST/WebSocket execution logs in any container."""

    name = "execution-log"
    description = "REST/WebSocket execution log ((requestId) message lines, any container)"

    def sniff(self, sample: Sample) -> float:
        """Share of the sample's messages that are catalogue wording, discounted when rare.

        Prefixed lines of unknown wording count against the score; unprefixed unknown lines
        do not (they are body continuation lines). A known execution-log group settles it.
        """
        messages = [m for m in sample.messages if m.strip()][:_SNIFF_MESSAGES]
        known_group = bool(sample.log_group and _EXECUTION_GROUP.match(sample.log_group))
        if not messages:
            return 0.9 if known_group else 0.0
        lines = split_prefix(pl.DataFrame({"message": messages}, schema={"message": pl.String}))
        lines = lines.with_columns(message_kind(pl.col("body")))
        known = int((lines["message_kind"] != OTHER_KIND).sum())
        if known == 0:
            return 0.0
        prefixed = lines["prefix_request_id"].is_not_null() | lines["prefix_event_at"].is_not_null()
        candidates = int(((lines["message_kind"] != OTHER_KIND) | prefixed).sum())
        score = known / candidates * min(1.0, known / (0.2 * len(messages)))
        return max(score, 0.95) if known_group else score

    def open_parser(self, context: ParseContext) -> ExecutionLogParser:
        """A parser for one source (it keeps state across chunks)."""
        return ExecutionLogParser(context)


register(ExecutionLogFormat())
