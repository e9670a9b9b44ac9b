"""The containers logs reach users in: plain files, gzip, CloudWatch Logs S3 exports, and
subscription-filter payloads delivered by Firehose.

Every writer is byte-for-byte deterministic (gzip members carry no timestamp or name) and takes
events already in the order CloudWatch holds them: `(timestamp, message)` with the time in UTC ms;
plain and gzip files take rendered lines as they are (`Rendering`), the others one message
string per event.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import polars as pl

from apigw_analytics.generate.rendering import Rendering

CONTAINERS = ("plain", "gzip", "s3-export", "subscription")
ACCOUNT_ID = "123456789012"
_S3_EXPORT_PART_LINES = 200_000
_SUBSCRIPTION_BATCH_EVENTS = 500
_CONTROL_MESSAGE = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [
        {
            "id": "",
            "timestamp": 0,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
        }
    ],
}


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def _text(lines: pl.Series) -> bytes:
    """The lines, each ended by a newline, written by polars (no Python string per line)."""
    if lines.is_empty():
        return b""
    buffer = io.BytesIO()
    pl.DataFrame({"line": lines}).write_csv(buffer, include_header=False, quote_style="never")
    return buffer.getvalue()


def write_plain(path: Path, lines: Rendering) -> list[tuple[Path, int]]:
    """One message a line (an `aws logs` download, a Firehose object with newline records),
    written chunk by chunk as the lines are rendered. A file already there is removed first
    rather than truncated: ext4 flushes a truncated-and-rewritten file to disk when it is closed
    (its `auto_da_alloc` guard for editors), which would make a rerun wait for the disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with path.open("wb") as file:
        lines.write_to(file)
    return [(path, len(lines))]


def write_gzip(path: Path, lines: Rendering) -> list[tuple[Path, int]]:
    """The plain file, gzip-compressed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_gzip(lines.lines().data.tobytes()))
    return [(path, len(lines))]


def s3_export_lines(timestamp_ms: pl.Series, messages: pl.Series) -> pl.Series:
    """`<ISO-8601 ms Z> <message>` lines, as `aws logs create-export-task` writes them."""
    frame = pl.DataFrame({"t": timestamp_ms.cast(pl.Datetime("ms", "UTC")), "m": messages})
    return frame.select(
        pl.concat_str(
            [pl.col("t").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"), pl.col("m")], separator=" "
        )
    ).to_series()


def write_s3_export(
    folder: Path, log_stream: str, timestamp_ms: pl.Series, messages: pl.Series
) -> list[tuple[Path, int]]:
    """An export task's objects for one stream: `<folder>/<stream>/000000.gz`, `000001.gz`, ...
    (a request's lines may straddle two objects, as in real exports)."""
    lines = s3_export_lines(timestamp_ms, messages)
    target = folder / log_stream
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for part, start in enumerate(range(0, max(lines.len(), 1), _S3_EXPORT_PART_LINES)):
        path = target / f"{part:06d}.gz"
        part_lines = lines.slice(start, _S3_EXPORT_PART_LINES)
        path.write_bytes(_gzip(_text(part_lines)))
        written.append((path, part_lines.len()))
    return written


def write_subscription(
    path: Path,
    log_group: str,
    log_stream: str,
    timestamp_ms: pl.Series,
    messages: pl.Series,
) -> list[tuple[Path, int]]:
    """A Firehose S3 object of subscription-filter payloads: a CONTROL_MESSAGE, then
    DATA_MESSAGE documents of up to 500 events, each gzip-compressed and concatenated with no
    separator (the 56-digit event ids grow with the timestamp, as CloudWatch's do)."""
    times = timestamp_ms.to_list()
    texts = messages.to_list()
    sequence = np.arange(len(times))
    members = [_gzip(json.dumps(_CONTROL_MESSAGE, separators=(",", ":")).encode())]
    for start in range(0, len(times), _SUBSCRIPTION_BATCH_EVENTS):
        stop = start + _SUBSCRIPTION_BATCH_EVENTS
        events = [
            {"id": f"{t:018d}{int(i):038d}", "timestamp": t, "message": m}
            for t, i, m in zip(
                times[start:stop], sequence[start:stop], texts[start:stop], strict=True
            )
        ]
        document = {
            "messageType": "DATA_MESSAGE",
            "owner": ACCOUNT_ID,
            "logGroup": log_group,
            "logStream": log_stream,
            "subscriptionFilters": ["to-firehose"],
            "logEvents": events,
        }
        members.append(_gzip(json.dumps(document, separators=(",", ":")).encode()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(members))
    return [(path, len(texts))]
