"""Containers: every way a file on disk wraps access-log events, unwrapped to the same rows.

Inputs are built here from three access-log records (byte-exact and deterministic: gzip with
mtime 0), so the binary shapes need no checked-in fixtures; the rows are compared with golden
JSONL files under golden/containers/ (UPDATE_GOLDEN=1 rewrites them).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apigw_analytics.ingest.containers import open_source
from apigw_analytics.ingest.pipeline import ingest_paths

GOLDEN = Path(__file__).resolve().parent / "golden" / "containers"
EPOCH_MS = 1784512215218  # 2026-07-20T01:50:15.218Z

RECORDS = [
    {
        "requestId": f"5e1f0000-0000-4000-8000-00000000000{index}",
        "extendedRequestId": f"ExtId{index}AAAAAAA=",
        "ip": f"203.0.113.{index}",
        "caller": "-",
        "user": "-",
        "requestTime": "20/Jul/2026:01:50:15 +0000",
        "requestTimeEpoch": str(EPOCH_MS + index * 1000),
        "httpMethod": "GET",
        "resourcePath": "/pets/{petId}",
        "status": status,
        "protocol": "HTTP/1.1",
        "responseLength": length,
    }
    for index, status, length in ((1, "200", "184"), (2, "429", "-"), (3, "504", "36"))
]
LINES = [json.dumps(record, separators=(",", ":")) for record in RECORDS]
TEXT = "\n".join(LINES) + "\n"
LOG_GROUP = "API-Gateway-Access-Logs_abc123def4/prod"
LOG_STREAM = "ae862e76abfb8de2e734cc3e8d76ae59"


def _gzip(data: str | bytes) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return gzip.compress(raw, mtime=0)


def _payload(lines: list[str], *, first_ms: int = EPOCH_MS) -> dict:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": LOG_GROUP,
        "logStream": LOG_STREAM,
        "subscriptionFilters": ["to-firehose"],
        "logEvents": [
            {
                "id": str(37670326805251200781477669690942747782212394134076063744 + index),
                "timestamp": first_ms + index,
                "message": line,
            }
            for index, line in enumerate(lines)
        ],
    }


CONTROL = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [
        {
            "id": "",
            "timestamp": EPOCH_MS,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
        }
    ],
}


def _iso_z(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _s3_export() -> bytes:
    """`<ISO>Z <message>` lines; the records carry no time of their own, so the prefix is it."""
    lines = []
    for index, record in enumerate(RECORDS):
        bare = {k: v for k, v in record.items() if k not in ("requestTime", "requestTimeEpoch")}
        lines.append(f"{_iso_z(EPOCH_MS + index * 1000)} {json.dumps(bare)}")
    return _gzip("\n".join(lines) + "\n")


def _logs_tail() -> bytes:
    lines = []
    for index, line in enumerate(LINES):
        stamp = datetime.fromtimestamp((EPOCH_MS + index * 1000) / 1000, UTC).isoformat()
        lines.append(f"{stamp} {LOG_STREAM} {line}")
    return ("\n".join(lines) + "\n").encode()


def _console_copy() -> bytes:
    blocks = []
    for index, record in enumerate(RECORDS):
        local = datetime.fromtimestamp((EPOCH_MS + index * 1000) / 1000, UTC)
        stamp = local.replace(tzinfo=None).isoformat(timespec="milliseconds")
        blocks.append(f"{stamp}+00:00\n\n{json.dumps(record, indent=4)}\n")
    return "\n".join(blocks).encode()


def _filter_log_events() -> bytes:
    events = [
        {
            "logStreamName": LOG_STREAM,
            "timestamp": EPOCH_MS + index,
            "message": line,
            "ingestionTime": EPOCH_MS + 900,
            "eventId": f"3767032680525120078147766969094274778221239413407606374{index}",
        }
        for index, line in enumerate(LINES)
    ]
    return json.dumps({"events": events, "searchedLogStreams": []}, indent=4).encode()


def _get_log_events() -> bytes:
    events = [
        {"timestamp": EPOCH_MS + index, "message": line, "ingestionTime": EPOCH_MS + 900}
        for index, line in enumerate(LINES)
    ]
    document = {"nextForwardToken": "f/1", "events": events, "nextBackwardToken": "b/1"}
    return json.dumps(document, indent=4).encode()


# name → (file bytes, expected container, records read, control events skipped)
BUILDERS: dict[str, tuple[Callable[[], bytes], str, int, int]] = {
    "plain": (TEXT.encode, "plain", 3, 0),
    "gzip": (lambda: _gzip(TEXT), "gzip+plain", 3, 0),
    "gzip-multi-member": (
        lambda: _gzip("\n".join(LINES[:2]) + "\n") + _gzip(LINES[2] + "\n"),
        "gzip+plain",
        3,
        0,
    ),
    "gzip-twice": (lambda: _gzip(_gzip(TEXT)), "gzip+gzip+plain", 3, 0),
    "s3-export": (_s3_export, "gzip+timestamped", 3, 0),
    "subscription-json": (
        (json.dumps(_payload(LINES)) + json.dumps(CONTROL)).encode,
        "subscription",
        4,
        1,
    ),
    "subscription-gzip": (lambda: _gzip(json.dumps(_payload(LINES))), "gzip+subscription", 3, 0),
    "subscription-base64-gzip": (
        lambda: base64.b64encode(_gzip(json.dumps(_payload(LINES)))) + b"\n",
        "base64-gzip+subscription",
        3,
        0,
    ),
    "lambda-awslogs-event": (
        lambda: json.dumps(
            {"awslogs": {"data": base64.b64encode(_gzip(json.dumps(_payload(LINES)))).decode()}}
        ).encode(),
        "subscription",
        3,
        0,
    ),
    "firehose-concatenated-gzip-payloads": (
        lambda: (
            _gzip(json.dumps(_payload(LINES[:2])))
            + _gzip(json.dumps(CONTROL))
            + _gzip(json.dumps(_payload(LINES[2:], first_ms=EPOCH_MS + 2)))
        ),
        "gzip+subscription",
        4,
        1,
    ),
    "firehose-records-no-separator": (lambda: "".join(LINES).encode(), "json-document", 3, 0),
    "cli-filter-log-events": (_filter_log_events, "cli-log-events", 3, 0),
    "cli-get-log-events": (_get_log_events, "cli-log-events", 3, 0),
    "logs-tail": (_logs_tail, "logs-tail", 3, 0),
    "console-copy": (_console_copy, "console-copy", 3, 0),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_container_golden(name, tmp_path, data_dir, access_rows, to_jsonl, golden):
    build, container, records, skipped = BUILDERS[name]
    source = tmp_path / "in" / name
    source.parent.mkdir()
    source.write_bytes(build())
    summary = ingest_paths([source], data_dir)
    (report,) = summary.sources
    assert report.error is None
    assert report.container == container
    assert report.format == "access-json"
    assert report.records_read == records
    assert report.skipped == skipped
    assert report.quarantined == 0
    assert report.reconciles
    rows = access_rows(data_dir)
    assert rows["request_id"].to_list() == [record["requestId"] for record in RECORDS]
    assert rows["response_bytes"].to_list() == [184, None, 36]
    assert rows["caller"].null_count() == 3
    golden(GOLDEN / f"{name}.jsonl", to_jsonl(rows, relative_to=tmp_path))


def test_subscription_envelope_fields_reach_the_rows(tmp_path, data_dir, access_rows):
    source = tmp_path / "payload.json.gz"
    source.write_bytes(_gzip(json.dumps(_payload(LINES))))
    ingest_paths([source], data_dir)
    rows = access_rows(data_dir)
    assert set(rows["log_group"]) == {LOG_GROUP}
    assert set(rows["log_stream"]) == {LOG_STREAM}
    assert rows["source_line"].to_list() == [1, 2, 3]  # ordinal of the event in the envelope


def test_s3_export_time_prefix_is_the_request_time(tmp_path, data_dir, access_rows):
    source = tmp_path / "000000.gz"
    source.write_bytes(_s3_export())
    ingest_paths([source], data_dir)
    times = access_rows(data_dir)["requested_at"].to_list()
    assert times[0] == datetime(2026, 7, 20, 1, 50, 15, 218000, tzinfo=UTC)
    assert times[2] == datetime(2026, 7, 20, 1, 50, 17, 218000, tzinfo=UTC)


def test_s3_export_continuation_lines_stay_with_their_text(tmp_path):
    """Lines without the time prefix keep their text (a multi-line event's continuation)."""
    source = tmp_path / "export"
    source.write_text("2026-07-20T01:50:15.218Z first line\ncontinued here\n")
    opened = open_source(source)
    (frame,) = list(opened.chunks)
    assert opened.container == "timestamped"
    assert frame["message"].to_list() == ["first line", "continued here"]
    assert frame["event_at"].to_list()[1] is None


def test_console_copy_keeps_local_offset_as_utc(tmp_path):
    source = tmp_path / "copy.txt"
    source.write_text('2023-10-27T14:40:57.744+01:00\n\n{\n  "a": 1\n}\n')
    opened = open_source(source)
    (frame,) = list(opened.chunks)
    assert frame["event_at"].to_list() == [datetime(2023, 10, 27, 13, 40, 57, 744000, tzinfo=UTC)]
    assert json.loads(frame["message"][0]) == {"a": 1}


def test_control_message_only_is_all_skipped(tmp_path, data_dir):
    source = tmp_path / "control.json"
    source.write_text(json.dumps(CONTROL))
    opened = open_source(source)
    frames = list(opened.chunks)
    assert sum(frame.height for frame in frames) == 0
    assert opened.skipped_records == 1


def test_file_of_control_messages_only_is_read_not_failed(tmp_path, data_dir):
    """A Firehose object holding only a health check is read whole: 1 record, 1 skipped."""
    source = tmp_path / "control.json.gz"
    source.write_bytes(_gzip(json.dumps(CONTROL)))
    summary = ingest_paths([source], data_dir)
    (report,) = summary.sources
    assert report.error is None
    assert report.status == "ingested"
    assert (report.records_read, report.skipped, report.quarantined) == (1, 1, 0)
    assert report.reconciles
    assert summary.exit_code == 0
    again = ingest_paths([source], data_dir)
    assert again.sources[0].status == "already ingested"


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_chunk_boundaries_do_not_change_rows(tmp_path, monkeypatch, compressed, access_rows):
    """Lines split across read chunks (CRLF endings, no final newline) give the same rows."""
    from apigw_analytics.ingest import containers

    lines = [
        json.dumps({**RECORDS[0], "extendedRequestId": "-", "requestId": f"chunk-{n:04d}"})
        for n in range(300)
    ]
    body = "\r\n".join(lines).encode()
    source = tmp_path / ("chunked.gz" if compressed else "chunked.log")
    source.write_bytes(_gzip(body) if compressed else body)
    whole = ingest_paths([source], tmp_path / "whole")
    monkeypatch.setattr(containers, "CHUNK_BYTES", 97)
    split = ingest_paths([source], tmp_path / "split")
    for summary in (whole, split):
        (report,) = summary.sources
        assert (report.records_read, report.quarantined) == (300, 0)
    expected = access_rows(tmp_path / "whole").drop("source_file")
    got = access_rows(tmp_path / "split").drop("source_file")
    assert got.equals(expected)
    assert got["source_line"].to_list() == list(range(1, 301))
    assert got["request_id"][-1] == "chunk-0299"


def test_non_utf8_bytes_are_replaced_with_a_warning(tmp_path, data_dir, access_rows):
    line = LINES[0].replace('"GET"', '"G\udcffET"').encode("utf-8", "surrogateescape")
    source = tmp_path / "latin.log"
    source.write_bytes(line + b"\n" + LINES[1].encode() + b"\n")
    summary = ingest_paths([source], data_dir)
    (report,) = summary.sources
    assert report.records_read == 2
    assert report.reconciles
    assert any("not UTF-8" in warning for warning in report.warnings)
    assert access_rows(data_dir)["http_method"][0] == "G\ufffdET"


@pytest.mark.realworld
@pytest.mark.parametrize(
    ("name", "events", "stream"),
    [
        ("aws-cli-examples_logs-filter-log-events-output.json", 2, "teststream"),
        ("aws-cli-examples_logs-get-log-events-output.json", 3, None),
    ],
)
def test_realworld_cli_log_reads(realworld_dir, name, events, stream):
    opened = open_source(realworld_dir / name)
    (frame,) = list(opened.chunks)
    assert opened.container == "cli-log-events"
    assert frame.height == events
    assert frame["event_at"].null_count() == 0
    assert frame["log_stream"][0] == stream
