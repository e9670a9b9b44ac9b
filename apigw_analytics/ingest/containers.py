"""Containers: how a file on disk wraps its log events, unwrapped into event frames.

Detected from the bytes, never from the file name:

* `gzip` (any number of members, nested gzip too) around any of the below;
* `plain` text lines;
* `timestamped` lines `<ISO time Z> <message>` — CloudWatch Logs S3 exports, and exporters that
  prepend the event time; lines without the prefix are continuation lines of a multi-line event;
* `logs-tail` lines `<ISO time ±hh:mm> <log stream> <message>` (`aws logs tail`);
* `console-copy`: a timestamp alone on a line, then the event (pretty-printed JSON);
* JSON documents, one or many concatenated with or without separators: subscription-filter
  payloads (plain, `{"awslogs":{"data":…}}`, base64 of gzip; CONTROL_MESSAGE skipped), `aws logs
  filter-log-events` / `get-log-events` output, Logs Insights `get-query-results`, Firehose
  objects of concatenated access-log records, and any other document (a metric export), which
  becomes one event holding the whole text.

Plain and timestamped text is read in chunks of whole lines, so memory stays flat however large
the file; JSON documents are read whole (AWS caps them well below memory sizes).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from apigw_analytics.errors import InputError
from apigw_analytics.ingest.events import event_frame
from apigw_analytics.schema import UTC_MS

CHUNK_BYTES = 32 * 1024 * 1024
_PEEK_BYTES = 64 * 1024
_FIRST_CHUNK_BYTES = 256 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_ISO_PREFIX = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?"
_TIMESTAMPED = re.compile(rf"^({_ISO_PREFIX}Z) ")
_LOGS_TAIL = re.compile(rf"^({_ISO_PREFIX}[+-]\d\d:\d\d) (\S+) ")
_TIMESTAMP_ALONE = re.compile(rf"^{_ISO_PREFIX}(?:Z|[+-]\d\d:\d\d)$")
_CONTROL_MESSAGE = "CONTROL_MESSAGE"
_BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=\s]+$")


@dataclass
class Source:
    """An opened file: its container, and its events in chunks (consumed once)."""

    path: Path
    container: str
    chunks: Iterator[pl.DataFrame]
    log_group: str | None = None
    skipped_records: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def _gunzip_stream(chunks: Iterator[bytes], source: Source) -> Iterator[bytes]:
    """Decompress every gzip member in turn; a truncated stream sets `source.error`."""
    decompressor = zlib.decompressobj(wbits=31)
    inside_member = False
    for chunk in chunks:
        data = chunk
        while data:
            inside_member = True
            try:
                yield decompressor.decompress(data)
            except zlib.error as error:
                source.error = f"corrupt gzip data: {error}"
                return
            if decompressor.eof:
                data = decompressor.unused_data
                decompressor = zlib.decompressobj(wbits=31)
                inside_member = False
            else:
                data = b""
    if inside_member:
        source.error = "truncated gzip: the compressed stream ends early"


def _file_chunks(path: Path) -> Iterator[bytes]:
    """The file's bytes; the first read is small, as detecting the container and the format
    needs only the start (and a whole-file reader may take over from there)."""
    try:
        with path.open("rb") as handle:
            size = min(_FIRST_CHUNK_BYTES, CHUNK_BYTES)
            while chunk := handle.read(size):
                yield chunk
                size = CHUNK_BYTES
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", path=str(path)) from None


class _Peekable:
    """A byte-chunk iterator whose first bytes can be looked at without losing them."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._head = b""

    def peek(self, size: int) -> bytes:
        while len(self._head) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._head += chunk
        return self._head[:size]

    def __iter__(self) -> Iterator[bytes]:
        if self._head:
            yield self._head
            self._head = b""
        yield from self._chunks

    def read_all(self) -> bytes:
        """Everything, kept as the head: the stream can still be iterated afterwards (a check
        that reads it whole must not consume it for the container chosen next)."""
        self._head = b"".join(self)
        return self._head


def _decoded_stream(path: Path, source: Source) -> tuple[_Peekable, list[str]]:
    """The file's bytes with every gzip layer removed, and the layers' names."""
    layers: list[str] = []
    stream = _Peekable(_file_chunks(path))
    while stream.peek(2) == _GZIP_MAGIC:
        layers.append("gzip")
        stream = _Peekable(_gunzip_stream(iter(stream), source))
    return stream, layers


def _iso_to_ms(text: str) -> int | None:
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _lines_frame(chunk: bytes, first_line: int, source: Source) -> pl.DataFrame:
    """Split whole lines into an event frame without a Python loop per line."""
    buffer = np.frombuffer(chunk, dtype=np.uint8)
    newlines = np.flatnonzero(buffer == 10)
    ends = newlines if len(chunk) and chunk[-1:] == b"\n" else np.append(newlines, len(chunk))
    offsets = np.concatenate(([0], ends + 1)).astype(np.int64)
    offsets[-1] = min(offsets[-1], len(chunk))
    count = len(offsets) - 1
    lines = pa.LargeStringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(chunk))
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        text = chunk.decode("utf-8", errors="replace")
        source.warnings.append(
            f"lines from {first_line} hold bytes that are not UTF-8; replaced with U+FFFD"
        )
        decoded = text.split("\n")[:count]
        lines = pa.array(decoded, type=pa.large_string())
    frame = pl.DataFrame({"message": pl.from_arrow(lines)})
    return frame.select(
        pl.col("message").str.strip_chars_end("\r\n"),
        pl.int_range(first_line, first_line + count, dtype=pl.Int64).alias("source_line"),
        pl.lit(None, UTC_MS).alias("event_at"),
        pl.lit(None, pl.String).alias("log_group"),
        pl.lit(None, pl.String).alias("log_stream"),
        pl.lit(None, pl.String).alias("event_id"),
    )


def _line_chunks(stream: _Peekable, source: Source) -> Iterator[pl.DataFrame]:
    carry = b""
    next_line = 1
    for chunk in stream:
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        carry = data[cut:]
        if cut:
            frame = _lines_frame(data[:cut], next_line, source)
            next_line += frame.height
            yield frame
    if carry:
        yield _lines_frame(carry, next_line, source)


def _strip_prefix(frame: pl.DataFrame, pattern: str, with_stream: bool) -> pl.DataFrame:
    """Move a leading time (and stream) into columns; unprefixed lines keep their text."""
    parts = pl.col("message").str.extract_groups(pattern)
    columns = [
        pl.coalesce(parts.struct.field("message"), pl.col("message")).alias("message"),
        pl.col("source_line"),
        parts.struct.field("time")
        .str.to_datetime(time_zone="UTC", time_unit="ms", strict=False)
        .alias("event_at"),
        pl.col("log_group"),
        (parts.struct.field("stream") if with_stream else pl.col("log_stream")).alias("log_stream"),
        pl.col("event_id"),
    ]
    return frame.select(columns)


_TIMESTAMPED_PATTERN = rf"^(?<time>{_ISO_PREFIX}Z) (?<message>.*)$"
_LOGS_TAIL_PATTERN = rf"^(?<time>{_ISO_PREFIX}[+-]\d\d:\d\d) (?<stream>\S+) (?<message>.*)$"


def _console_copy_events(text: str) -> pl.DataFrame:
    """Blocks that each start with a timestamp alone on a line (copies from the console)."""
    messages: list[str] = []
    lines_at: list[int] = []
    times: list[int | None] = []
    current: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _TIMESTAMP_ALONE.match(line.strip()):
            if current:
                messages.append("\n".join(current).strip())
                current = []
            times.append(_iso_to_ms(line.strip()))
            lines_at.append(number)
        elif times:
            current.append(line)
    if times:
        messages.append("\n".join(current).strip())
    return event_frame(messages, lines_at, event_at_ms=times)


def _json_values(text: str, path: Path) -> Iterator[tuple[object, str, int]]:
    """Every JSON value in the text (concatenated with or without separators), with its raw
    text and the line it starts on."""
    decoder = json.JSONDecoder()
    position = 0
    length = len(text)
    while True:
        while position < length and text[position] in " \t\r\n,":
            position += 1
        if position >= length:
            return
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            line = text.count("\n", 0, error.pos) + 1
            raise InputError(f"invalid JSON: {error.msg}", path=str(path), line=line) from None
        yield value, text[position:end], text.count("\n", 0, position) + 1
        position = end


def _subscription_payload(value: object) -> dict | None:
    """The decoded subscription payload inside a value, if it is one."""
    if isinstance(value, dict) and "awslogs" in value:
        data = value["awslogs"].get("data", "") if isinstance(value["awslogs"], dict) else ""
        return _subscription_payload(json.loads(zlib.decompress(base64.b64decode(data), 31)))
    if isinstance(value, dict) and "logEvents" in value and "messageType" in value:
        return value
    return None


class _EventCollector:
    """Accumulates events from JSON envelopes with their ordinal as the record number."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.ordinals: list[int] = []
        self.times: list[int | None] = []
        self.groups: list[str | None] = []
        self.streams: list[str | None] = []
        self.ids: list[str | None] = []

    def add(
        self,
        message: str,
        time_ms: int | None,
        group: str | None,
        stream: str | None,
        event_id: str | None,
    ) -> None:
        self.messages.append(message)
        self.ordinals.append(len(self.messages))
        self.times.append(time_ms)
        self.groups.append(group)
        self.streams.append(stream)
        self.ids.append(event_id)

    def frame(self) -> pl.DataFrame:
        return event_frame(
            self.messages,
            self.ordinals,
            event_at_ms=self.times,
            log_group=self.groups,
            log_stream=self.streams,
            event_id=self.ids,
        )


def _insights_row(row: list) -> tuple[str, int | None] | None:
    fields = {item.get("field"): item.get("value") for item in row if isinstance(item, dict)}
    if "@message" not in fields:
        return None
    stamp = fields.get("@timestamp")
    return fields["@message"], _iso_to_ms(stamp.replace(" ", "T") + "Z") if stamp else None


def _document_events(text: str, path: Path, source: Source) -> pl.DataFrame:
    """Events from JSON envelopes; a document of another kind becomes one event."""
    collector = _EventCollector()
    kinds: set[str] = set()
    pending: list[object] = []
    for value, raw, line in _json_values(text, path):
        pending.append((value, raw, line))
    while pending:
        value, raw, line = pending.pop(0)
        if isinstance(value, list) and value and isinstance(value[0], dict | list):
            pending[0:0] = [(item, json.dumps(item), line) for item in value]
            continue
        payload = _subscription_payload(value)
        if payload is not None:
            kinds.add("subscription")
            if payload.get("messageType") == _CONTROL_MESSAGE:
                source.skipped_records += len(payload.get("logEvents", []))
                continue
            group, stream = payload.get("logGroup"), payload.get("logStream")
            for event in payload.get("logEvents", []):
                collector.add(
                    event.get("message", ""),
                    event.get("timestamp"),
                    group,
                    stream,
                    str(event["id"]) if event.get("id") is not None else None,
                )
            continue
        if isinstance(value, dict) and isinstance(value.get("events"), list):
            kinds.add("cli-log-events")
            for event in value["events"]:
                # `aws logs` names the stream; Elastic's Firehose export names group and stream.
                collector.add(
                    event.get("message", ""),
                    event.get("timestamp"),
                    event.get("aws.cloudwatch.log_group"),
                    event.get("logStreamName") or event.get("aws.cloudwatch.log_stream"),
                    event.get("eventId"),
                )
            continue
        if isinstance(value, dict) and isinstance(value.get("results"), list):
            kinds.add("logs-insights")
            for row in value["results"]:
                found = _insights_row(row) if isinstance(row, list) else None
                if found:
                    collector.add(found[0], found[1], None, None, None)
            continue
        kinds.add("json-document")
        collector.messages.append(raw)
        collector.ordinals.append(line)
        collector.times.append(None)
        collector.groups.append(None)
        collector.streams.append(None)
        collector.ids.append(None)
    source.container = "+".join([*source.container.split("+")[:-1], *sorted(kinds)]) or "json"
    groups = {group for group in collector.groups if group}
    source.log_group = groups.pop() if len(groups) == 1 else None
    return collector.frame()


def _looks_like_json_lines(head: bytes) -> bool:
    """True when the first line is one JSON object that is not an envelope, or a record line
    that is not strict JSON (an unquoted `-`, a stray byte, a cut line) followed by another
    line that starts like a record: that line is quarantined, not the whole file."""
    first, _, rest = head.partition(b"\n")
    first = first.strip()
    if not first.startswith(b"{"):
        return False
    text = first.decode("utf-8", errors="replace")
    try:
        value, end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        following = next((line.strip() for line in rest.split(b"\n") if line.strip()), b"")
        return len(first) > 1 and (text.endswith("}") or following.startswith(b"{"))
    if end < len(text):
        return False  # values joined with no separator (Firehose): read as documents
    return _subscription_payload(value) is None and not (
        isinstance(value, dict) and ("events" in value or "results" in value)
    )


def _maybe_base64_gzip(data: bytes) -> bytes | None:
    if not data or not _BASE64_TEXT.match(data[:4096]):
        return None
    try:
        raw = base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return zlib.decompress(raw, 31) if raw[:2] == _GZIP_MAGIC else None


def open_source(path: Path) -> Source:
    """Open a file, detect its container, and return its events lazily."""
    if not path.is_file():
        raise InputError("not a readable file", path=str(path))
    source = Source(path=path, container="plain", chunks=iter(()))
    stream, layers = _decoded_stream(path, source)
    head = stream.peek(_PEEK_BYTES)
    if b"\x00" in head[:8192]:
        raise InputError(
            "binary file, not text (no log or metric format is binary)", path=str(path)
        )
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    prefix = "+".join(layers)

    def named(name: str) -> str:
        return f"{prefix}+{name}" if prefix else name

    decoded = (
        _maybe_base64_gzip(stream.read_all())
        if _BASE64_TEXT.match(stripped[:4096] or b"-")
        else None
    )
    if decoded is not None:
        source.container = named("base64-gzip+json")
        source.chunks = iter([_document_events(decoded.decode("utf-8", "replace"), path, source)])
        return source
    if stripped[:1] in (b"{", b"[") and not _looks_like_json_lines(stripped):
        source.container = named("json")
        text = stream.read_all().decode("utf-8", errors="replace").lstrip("\ufeff")
        source.chunks = iter([_document_events(text, path, source)])
        return source
    first_line = stripped.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    if _TIMESTAMP_ALONE.match(first_line.strip()):
        source.container = named("console-copy")
        text = stream.read_all().decode("utf-8", errors="replace")
        source.chunks = iter([_console_copy_events(text)])
        return source
    if _LOGS_TAIL.match(first_line):
        source.container = named("logs-tail")
        source.chunks = (
            _strip_prefix(frame, _LOGS_TAIL_PATTERN, with_stream=True)
            for frame in _line_chunks(stream, source)
        )
        return source
    if _TIMESTAMPED.match(first_line):
        source.container = named("timestamped")
        source.chunks = (
            _strip_prefix(frame, _TIMESTAMPED_PATTERN, with_stream=False)
            for frame in _line_chunks(stream, source)
        )
        return source
    source.container = named("plain")
    source.chunks = _line_chunks(stream, source)
    return source
