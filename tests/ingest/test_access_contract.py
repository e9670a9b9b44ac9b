"""The format contract, checked for every registered format (and the --access-format one).

Whatever a format reads, it must: describe itself, score any sample in [0, 1], open a parser
with feed/finish, and account for every event it is fed (parsed + quarantined + skipped) without
raising, even on an empty chunk or on garbage.
"""

from __future__ import annotations

import polars as pl
import pytest

from apigw_analytics.ingest.events import event_frame
from apigw_analytics.ingest.formats.access_template import CustomTemplateFormat
from apigw_analytics.ingest.registry import (
    ParseContext,
    ParseResult,
    Sample,
    all_formats,
    get_format,
)

FORMATS = [
    *all_formats(),
    CustomTemplateFormat('{"id":"$context.requestId","s":"$context.status"}'),
    CustomTemplateFormat("$context.requestId $context.status [$context.requestTime]"),
]
IDS = [f"{fmt.name}-{index}" for index, fmt in enumerate(FORMATS)]

GARBAGE = [
    "",
    "   ",
    "not a log line at all",
    "{",
    '{"requestId": ',
    "}{",
    '{"status":"two hundred"}',
    "[1, 2, 3]",
    "<request id=",
    "\x1b[31m coloured \x1b[0m",
    "ünïcödé ✓ 日本語",
    "2026-07-20T01:50:15.218Z",
    "(abc-123) Method completed with status: ",
    "a,b,c,d,e,f,g,h,i,j,k",
    "x" * 5000,
    '{"MetricDataResults": [{"Id": "m1", "Timestamps": ["bad"], "Values": ["x"]}]}',
    '{"Datapoints": [{"Timestamp": "nope", "Sum": "NaN?"}]}',
    '{"items": [{"id": 5}, null, {"id": "x", "name": "y", "createdDate": []}]}',
    '{"Items": [{"ApiId": "x", "Name": "y", "ProtocolType": "SOAP"}], "NextToken": 1}',
    "null",
    "42",
]


def _events(messages: list[str]) -> pl.DataFrame:
    return event_frame(messages, list(range(1, len(messages) + 1)))


def _accounted(results: list[ParseResult]) -> int:
    """Events accounted for: records parsed, quarantined or skipped, less the records found
    beyond one per event (a listing or metric document holds many)."""
    return sum(
        result.records_parsed
        + (result.quarantine.height if result.quarantine is not None else 0)
        + result.skipped
        - result.extra_records
        for result in results
    )


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_describes_itself(fmt):
    assert isinstance(fmt.name, str)
    assert fmt.name
    assert fmt.name == fmt.name.strip().lower()
    assert isinstance(fmt.description, str)
    assert fmt.description.strip()


def test_registered_names_are_unique_and_found():
    names = [fmt.name for fmt in all_formats()]
    assert len(names) == len(set(names))
    for fmt in all_formats():
        assert get_format(fmt.name) is fmt


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
@pytest.mark.parametrize(
    "messages",
    [[], [""], GARBAGE, ['{"requestId":"r1","status":"200"}'] * 3],
    ids=["empty", "blank", "garbage", "json"],
)
def test_sniff_is_a_score(fmt, messages):
    for container in ("plain", "gzip+subscription", "cli-log-events"):
        score = fmt.sniff(Sample(messages=messages, container=container))
        assert isinstance(score, float | int)
        assert not isinstance(score, bool)
        assert 0.0 <= score <= 1.0


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_parser_has_feed_and_finish(fmt):
    parser = fmt.open_parser(ParseContext(source_file="contract.log"))
    assert callable(parser.feed)
    assert callable(parser.finish)


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
def test_empty_chunk_reconciles(fmt):
    parser = fmt.open_parser(ParseContext(source_file="contract.log"))
    results = [parser.feed(_events([])), parser.finish()]
    assert all(isinstance(result, ParseResult) for result in results)
    assert _accounted(results) == 0


@pytest.mark.parametrize("fmt", FORMATS, ids=IDS)
@pytest.mark.parametrize("chunks", [1, 3], ids=["one-chunk", "three-chunks"])
def test_garbage_reconciles_and_never_raises(fmt, chunks):
    parser = fmt.open_parser(ParseContext(source_file="contract.log", log_group=None))
    events = _events(GARBAGE)
    size = -(-events.height // chunks)
    results = [parser.feed(events.slice(start, size)) for start in range(0, events.height, size)]
    results.append(parser.finish())
    assert _accounted(results) == events.height
    for result in results:
        if result.quarantine is not None and result.quarantine.height:
            assert set(result.quarantine.columns) >= {"source_line", "reason", "record"}
            assert result.quarantine["reason"].null_count() == 0
            assert result.quarantine["source_line"].is_in(events["source_line"].implode()).all()
