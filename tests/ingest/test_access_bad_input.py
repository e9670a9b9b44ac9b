"""Bad input gets a clear error or a quarantine entry, loses nothing, and counts reconcile."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from apigw_analytics.errors import FormatError
from apigw_analytics.ingest.pipeline import ingest_paths

GOOD = (
    '{"requestId":"bad00000-0000-4000-8000-%012d","requestTime":"20/Jul/2026:01:50:15 +0000",'
    '"httpMethod":"GET","resourcePath":"/pets","status":"200","responseLength":"184"}'
)


def _good_lines(count: int, start: int = 1) -> list[str]:
    return [GOOD % number for number in range(start, start + count)]


def _only(summary):
    (report,) = summary.sources
    assert report.reconciles, report
    return report


def test_empty_file_is_a_clear_error(tmp_path, data_dir, access_rows):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    summary = ingest_paths([empty], data_dir)
    report = _only(summary)
    assert report.status == "failed"
    assert report.error == f"{empty}: empty file: no records"
    assert summary.exit_code == 4
    assert access_rows(data_dir).height == 0


def test_blank_lines_only_are_a_clear_error(tmp_path, data_dir):
    blank = tmp_path / "blank.log"
    blank.write_text("\n\n   \n")
    summary = ingest_paths([blank], data_dir)
    report = summary.sources[0]
    assert report.error is not None
    assert str(blank) in report.error
    assert "\n" not in report.error
    assert summary.exit_code == 4


def test_binary_file_is_a_clear_error(tmp_path, data_dir):
    binary = tmp_path / "image.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    summary = ingest_paths([binary], data_dir)
    report = _only(summary)
    assert report.status == "failed"
    assert report.error.startswith(f"{binary}: binary file")
    assert summary.exit_code == 4


def test_truncated_gzip_keeps_what_was_read(tmp_path, data_dir, access_rows):
    lines = _good_lines(2000)
    whole = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    truncated = tmp_path / "cut.log.gz"
    truncated.write_bytes(whole[: len(whole) * 2 // 3])
    summary = ingest_paths([truncated], data_dir)
    report = _only(summary)
    assert report.error is not None
    assert "truncated gzip" in report.error
    assert str(truncated) in report.error
    assert summary.exit_code == 4
    rows = access_rows(data_dir)
    assert 0 < rows.height < len(lines)
    assert rows.height == report.records_parsed
    # the rows kept are a prefix of the file, in order
    assert rows["request_id"].to_list() == [
        json.loads(line)["requestId"] for line in lines[: rows.height]
    ]


def test_corrupt_gzip_is_reported(tmp_path, data_dir):
    corrupt = tmp_path / "corrupt.gz"
    body = bytearray(gzip.compress(("\n".join(_good_lines(50)) + "\n").encode(), mtime=0))
    body[20:40] = b"\xff" * 20
    corrupt.write_bytes(bytes(body))
    summary = ingest_paths([corrupt], data_dir)
    report = _only(summary)
    assert report.error is not None
    assert "gzip" in report.error
    assert summary.exit_code == 4


def test_invalid_line_in_the_middle_is_quarantined(
    tmp_path, data_dir, access_rows, quarantine_rows
):
    lines = _good_lines(10)
    lines[4] = '{"requestId": "broken", "status": '
    source = tmp_path / "mixed.log"
    source.write_text("\n".join(lines) + "\n")
    summary = ingest_paths([source], data_dir)
    report = _only(summary)
    assert report.error is None
    assert (report.records_read, report.records_parsed, report.quarantined) == (10, 9, 1)
    assert summary.exit_code == 3
    assert access_rows(data_dir).height == 9
    quarantined = quarantine_rows(data_dir)
    (row,) = quarantined.iter_rows(named=True)
    assert row["source_file"] == str(source)
    assert row["source_line"] == 5
    assert row["format"] == "access-json"
    assert row["reason"]
    assert row["record"] == lines[4]
    assert summary.quarantine_reasons == {row["reason"].split(":")[0]: 1}


def test_non_number_in_a_numeric_field_names_the_field(
    tmp_path, data_dir, access_rows, quarantine_rows
):
    lines = _good_lines(3)
    lines[1] = lines[1].replace('"status":"200"', '"status":"abc"')
    lines[2] = lines[2].replace('"responseLength":"184"', '"responseLength":"12kB"')
    source = tmp_path / "numbers.log"
    source.write_text("\n".join(lines) + "\n")
    summary = ingest_paths([source], data_dir)
    report = _only(summary)
    assert (report.records_parsed, report.quarantined) == (1, 2)
    assert access_rows(data_dir).height == 1
    reasons = dict(
        zip(
            quarantine_rows(data_dir)["source_line"].to_list(),
            quarantine_rows(data_dir)["reason"].to_list(),
            strict=True,
        )
    )
    assert reasons[2].startswith("status: not a number")
    assert "abc" in reasons[2]
    assert reasons[3].startswith("response_bytes: not a number")


def test_record_without_any_time_is_quarantined(tmp_path, data_dir, quarantine_rows):
    source = tmp_path / "no-time.log"
    source.write_text(
        _good_lines(1)[0]
        + "\n"
        + '{"requestId":"no-time","httpMethod":"GET","resourcePath":"/x","status":"200"}\n'
    )
    summary = ingest_paths([source], data_dir)
    report = _only(summary)
    assert report.quarantined == 1
    assert "no request time" in quarantine_rows(data_dir)["reason"][0]


def test_forced_wrong_format_quarantines_everything_with_a_warning(
    tmp_path, data_dir, access_rows, quarantine_rows
):
    source = tmp_path / "json.log"
    source.write_text("\n".join(_good_lines(5)) + "\n")
    summary = ingest_paths([source], data_dir, format_name="access-clf")
    report = _only(summary)
    assert report.format == "access-clf"
    assert (report.records_read, report.quarantined, report.records_parsed) == (5, 5, 0)
    assert summary.exit_code == 3
    assert access_rows(data_dir).height == 0
    assert set(quarantine_rows(data_dir)["reason"]) == {"does not match the access-log template"}
    assert any("no record matched format access-clf" in w for w in report.warnings)


def test_unknown_forced_format_is_a_format_error(tmp_path, data_dir):
    with pytest.raises(FormatError, match=r"unknown format 'nope'; known formats: .*access-json"):
        ingest_paths([tmp_path], data_dir, format_name="nope")


def test_undetectable_format_is_a_clear_error(tmp_path, data_dir):
    source = tmp_path / "prose.txt"
    source.write_text("Dear diary,\ntoday the API was slow.\n")
    summary = ingest_paths([source], data_dir)
    report = _only(summary)
    assert report.status == "failed"
    assert "cannot tell the format" in report.error
    assert "--format" in report.error


def test_nonexistent_path_is_reported_and_others_go_on(tmp_path, data_dir, access_rows):
    good = tmp_path / "good.log"
    good.write_text("\n".join(_good_lines(3)) + "\n")
    missing = tmp_path / "missing.log"
    summary = ingest_paths([missing, good], data_dir)
    failed, ingested = summary.sources
    assert failed.status == "failed"
    assert failed.error == f"{missing}: cannot read: No such file or directory"
    assert ingested.status == "ingested"
    assert access_rows(data_dir).height == 3
    assert summary.exit_code == 4


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads chmod 000 files"
)
def test_unreadable_file_is_reported(tmp_path, data_dir):
    locked = tmp_path / "locked.log"
    locked.write_text("\n".join(_good_lines(1)) + "\n")
    locked.chmod(0)
    try:
        summary = ingest_paths([locked], data_dir)
    finally:
        locked.chmod(0o644)
    report = summary.sources[0]
    assert report.status == "failed"
    assert "cannot read" in report.error
    assert summary.exit_code == 4


def test_reasons_never_lose_a_record(tmp_path, data_dir, access_rows, quarantine_rows):
    """lines read = rows + quarantined + skipped over a file with every kind of problem."""
    lines = [*_good_lines(4), "", "garbage", _good_lines(1, 99)[0].replace("200", "2x0"), "  "]
    source = tmp_path / "everything.log"
    source.write_text("\n".join(lines) + "\n")
    summary = ingest_paths([source], data_dir)
    report = _only(summary)
    assert report.records_read == len(lines)
    assert report.skipped == 2
    assert access_rows(data_dir).height + quarantine_rows(data_dir).height + 2 == len(lines)
    assert Path(quarantine_rows(data_dir)["source_file"][0]) == source


@pytest.mark.parametrize(
    "first",
    [
        '{"requestId": "cut-short", "status": ',
        '{"requestId":"bad\xff","requestTime":"20/Jul/2026:01:50:15 +0000","status":"2x"}',
    ],
    ids=["cut-line", "stray-byte"],
)
def test_invalid_first_line_is_quarantined_not_the_whole_file(
    tmp_path, data_dir, access_rows, quarantine_rows, first
):
    source = tmp_path / "first.log"
    body = "\n".join([first, *_good_lines(10)]) + "\n"
    source.write_bytes(body.encode("latin-1"))
    summary = ingest_paths([source], data_dir)
    report = _only(summary)
    assert report.error is None
    assert report.container == "plain"
    assert (report.records_read, report.records_parsed, report.quarantined) == (11, 10, 1)
    assert access_rows(data_dir).height == 10
    assert quarantine_rows(data_dir)["source_line"].to_list() == [1]
    assert summary.exit_code == 3


def test_unquoted_dash_on_the_first_line(tmp_path, data_dir, access_rows):
    source = tmp_path / "dash.log"
    source.write_text(
        '{"requestId":"d1","requestTimeEpoch":1784512215218,"status":200,"responseLength":-}\n'
        '{"requestId":"d2","requestTimeEpoch":1784512216218,"status":404,"responseLength":9}\n'
    )
    summary = ingest_paths([source], data_dir)
    assert summary.exit_code == 0
    assert access_rows(data_dir)["response_bytes"].to_list() == [None, 9]


def test_glob_matching_nothing_is_reported(tmp_path, data_dir):
    pattern = str(tmp_path / "exports-*" / "*.log")
    summary = ingest_paths([pattern], data_dir)
    (report,) = summary.sources
    assert report.status == "failed"
    assert report.error == f"{pattern}: cannot read: No such file or directory"
    assert summary.exit_code == 4


def test_glob_matching_files_reads_them(tmp_path, data_dir, access_rows):
    for day in (1, 2):
        folder = tmp_path / f"exports-{day}"
        folder.mkdir()
        (folder / "a.log").write_text("\n".join(_good_lines(3, start=day * 10)) + "\n")
    summary = ingest_paths([str(tmp_path / "exports-*" / "*.log")], data_dir)
    assert [Path(s.path).parent.name for s in summary.sources] == ["exports-1", "exports-2"]
    assert access_rows(data_dir).height == 6


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads chmod 000 folders"
)
def test_unreadable_directory_is_reported(tmp_path, data_dir):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.log").write_text("\n".join(_good_lines(1)) + "\n")
    locked.chmod(0)
    try:
        summary = ingest_paths([locked], data_dir)
    finally:
        locked.chmod(0o755)
    (report,) = summary.sources
    assert report.status == "failed"
    assert "cannot read" in report.error
    assert summary.exit_code == 4
