"""Whole-file reads of plain access logs give exactly what the chunked path gives: the same rows,
line numbers, quarantine entries (with the record's text) and counts, including for the odd
files that make a whole-file read give up (blank lines, carriage returns, late keys)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from apigw_analytics.ingest import bulk
from apigw_analytics.ingest.pipeline import ingest_paths
from apigw_analytics.warehouse import writer
from apigw_analytics.warehouse.manifest import FileDigest

DATA = Path(__file__).resolve().parent / "data"
BULK_FILES = [
    "json-rest-console.log",
    "json-http-console.log",
    "json-sorted-terraform.log",
    "json-unquoted-numbers.log",
    "clf-rest.log",
    "clf-rest-no-extended.log",
    "clf-rest-extended-first.log",
    "clf-http.log",
    "csv-rest.log",
    "csv-http.log",
]


def _json_line(number: int, **extra: str) -> str:
    return json.dumps(
        {
            "requestId": f"0f2a6c1e-1111-4c7a-9d55-{number:012d}",
            "ip": "203.0.113.10",
            "requestTimeEpoch": str(1_784_512_215_000 + number),
            "httpMethod": "GET",
            "resourcePath": "/pets",
            "status": "200",
            "responseLength": str(number),
            **extra,
        },
        separators=(",", ":"),
    )


def _rows(data_dir: Path, access_rows) -> pl.DataFrame:
    return access_rows(data_dir).drop("source_file")


def _read_whole_calls(monkeypatch) -> list[str]:
    """Records which whole-file reads ran to the end (by the columns they carry)."""
    calls: list[str] = []
    real = bulk.ingest_bulk

    def spy(scan, *args, **kwargs):
        counts = real(scan, *args, **kwargs)
        calls.append("lines" if "message" in scan.carry else "fields")
        return counts

    monkeypatch.setattr("apigw_analytics.ingest.pipeline.ingest_bulk", spy)
    return calls


@pytest.mark.parametrize("name", BULK_FILES)
def test_whole_file_and_chunked_reads_agree(name, tmp_path, access_rows, quarantine_rows):
    plain = tmp_path / name
    shutil.copy(DATA / name, plain)
    packed = tmp_path / f"{name}.gz"  # a gzip container is read chunk by chunk
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    whole = ingest_paths([plain], tmp_path / "whole")
    chunked = ingest_paths([packed], tmp_path / "chunked")
    assert whole.sources[0].reconciles and chunked.sources[0].reconciles
    for attribute in ("records_read", "records_parsed", "quarantined", "skipped", "format"):
        assert getattr(whole.sources[0], attribute) == getattr(chunked.sources[0], attribute)
    assert _rows(tmp_path / "whole", access_rows).equals(_rows(tmp_path / "chunked", access_rows))


def test_plain_json_and_clf_are_read_whole(tmp_path, data_dir, monkeypatch):
    calls = _read_whole_calls(monkeypatch)
    ingest_paths([DATA / "json-rest-console.log", DATA / "clf-rest.log"], data_dir)
    assert calls == ["fields", "fields"]


def test_line_numbers_hold_across_many_batches(tmp_path, data_dir, access_rows, monkeypatch):
    monkeypatch.setattr(bulk, "BATCH_ROWS", 64)
    calls = _read_whole_calls(monkeypatch)
    source = tmp_path / "many.log"
    source.write_text("\n".join(_json_line(n) for n in range(1, 2001)) + "\n")
    ingest_paths([source], data_dir)
    rows = access_rows(data_dir)
    assert calls == ["fields"]
    assert rows["source_line"].to_list() == list(range(1, 2001))
    assert rows["response_bytes"].to_list() == list(range(1, 2001))


def test_the_last_rows_of_a_large_file_are_encoded_batch_by_batch(
    tmp_path, data_dir, access_rows, monkeypatch
):
    """Once the line count says fewer than a row group's worth of rows remain, each batch is
    encoded as it comes (so commit does not wait for a whole group); rows stay as read."""
    monkeypatch.setattr(bulk, "BATCH_ROWS", 64)
    monkeypatch.setattr(bulk, "ROW_GROUP_ROWS", 500)
    monkeypatch.setattr(writer, "ROW_GROUP_ROWS", 500)
    monkeypatch.setattr(FileDigest, "ready", FileDigest.result)  # the count known at once
    source = tmp_path / "large.log"
    source.write_text("\n".join(_json_line(n) for n in range(1, 2001)) + "\n")
    assert ingest_paths([source], data_dir).sources[0].reconciles
    rows = access_rows(data_dir)
    assert rows["source_line"].to_list() == list(range(1, 2001))
    assert rows["response_bytes"].to_list() == list(range(1, 2001))
    (stored,) = (data_dir / "access_requests").rglob("*.parquet")
    metadata = pq.ParquetFile(stored).metadata
    groups = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sum(groups) == 2000
    full = [rows for rows in groups if rows >= 500]
    assert sum(full) >= 1500  # groups of the usual size until the last 500 rows
    assert len(groups) > len(full) + 1  # which are encoded in several smaller groups


def test_a_key_first_seen_late_is_kept_in_extra(tmp_path, data_dir, access_rows):
    """Past DuckDB's sample, a new key makes the whole-file read give up, not drop the key."""
    count = 6_000
    lines = [_json_line(n) for n in range(1, count + 1)]
    lines.append(_json_line(count + 1, tenant="blue"))
    source = tmp_path / "late.log"
    source.write_text("\n".join(lines) + "\n")
    summary = ingest_paths([source], data_dir)
    assert summary.sources[0].reconciles
    rows = access_rows(data_dir)
    assert rows.height == count + 1
    last = rows.filter(pl.col("source_line") == count + 1)
    assert json.loads(last["extra"][0]) == {"tenant": "blue"}


def test_json_records_quarantined_with_their_text(tmp_path, data_dir, quarantine_rows, monkeypatch):
    calls = _read_whole_calls(monkeypatch)
    bad = _json_line(2).replace('"status":"200"', '"status":"abc"')
    source = tmp_path / "bad.log"
    source.write_text("\n".join([_json_line(1), bad, _json_line(3)]) + "\n")
    summary = ingest_paths([source], data_dir)
    report = summary.sources[0]
    assert calls == ["fields"]
    assert (report.records_read, report.records_parsed, report.quarantined) == (3, 2, 1)
    quarantine = quarantine_rows(data_dir)
    assert quarantine["source_line"].to_list() == [2]
    assert quarantine["reason"].to_list() == ["status: not a number: abc"]
    assert quarantine["record"].to_list() == [bad]


def test_clf_lines_that_do_not_match_are_quarantined(tmp_path, data_dir, quarantine_rows):
    lines = (DATA / "clf-rest.log").read_text().splitlines()
    odd = lines[1].replace(" 429 ", " 42x ")
    source = tmp_path / "odd.log"
    source.write_text("\n".join([lines[0], odd, lines[2]]) + "\n")
    report = ingest_paths([source], data_dir).sources[0]
    assert (report.records_read, report.records_parsed, report.quarantined) == (3, 2, 1)
    quarantine = quarantine_rows(data_dir)
    assert quarantine["reason"].to_list() == ["does not match the access-log template"]
    assert quarantine["record"].to_list() == [odd]
    assert quarantine["source_line"].to_list() == [2]


@pytest.mark.parametrize("name", ["json-rest-console.log", "clf-rest.log"])
def test_blank_lines_and_crlf_keep_line_numbers(name, tmp_path, data_dir, access_rows):
    lines = (DATA / name).read_text().splitlines()
    source = tmp_path / name
    source.write_bytes(("\r\n".join([lines[0], "", lines[1], "  ", lines[2]]) + "\r\n").encode())
    report = ingest_paths([source], data_dir).sources[0]
    assert report.reconciles
    assert (report.records_parsed, report.skipped) == (3, 2)
    rows = access_rows(data_dir)
    assert rows["source_line"].to_list() == [1, 3, 5]
    assert not any(value.endswith("\r") for value in rows["request_id"].to_list())


def test_uppercase_request_ids_are_kept_as_written(tmp_path, data_dir, access_rows):
    lines = [
        _json_line(n).replace("0f2a6c1e-1111-4c7a-9d55", "0F2A6C1E-1111-4C7A-9D55")
        for n in range(1, 4)
    ]
    source = tmp_path / "upper.log"
    source.write_text("\n".join(lines) + "\n")
    ingest_paths([source], data_dir)
    assert access_rows(data_dir)["request_id"].to_list() == [
        f"0F2A6C1E-1111-4C7A-9D55-{n:012d}" for n in range(1, 4)
    ]


def test_a_canary_copy_of_a_request_marks_the_kept_row(tmp_path, data_dir, access_rows):
    source = tmp_path / "canary.log"
    source.write_text(
        "\n".join(
            [
                _json_line(1, isCanaryRequest="false"),
                _json_line(2, isCanaryRequest="false"),
                _json_line(1, isCanaryRequest="true"),
            ]
        )
        + "\n"
    )
    report = ingest_paths([source], data_dir).sources[0]
    assert report.duplicates_dropped == 1
    rows = access_rows(data_dir)
    assert rows.select("source_line", "is_canary").rows() == [(1, True), (2, False)]


def test_a_template_with_a_quoted_value_holding_spaces(tmp_path, access_rows):
    """CSV-shaped custom template: a quoted value with spaces fills its column; an empty cell
    and a line the template does not fit are read as the regex reads them."""
    template = (
        '$context.identity.sourceIp "$context.identity.userAgent" $context.status '
        "$context.requestTimeEpoch $context.requestId"
    )
    lines = [
        '203.0.113.1 "Mozilla/5.0 (X11; Linux x86_64) shop/2.3" 200 1784512215000 r1',
        '203.0.113.2 "" 404 1784512216000 r2',
        '203.0.113.3 "curl/8.0" 2000 1784512217000 r3',
    ]
    plain = tmp_path / "custom.log"
    plain.write_text("\n".join(lines) + "\n")
    packed = tmp_path / "custom.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    whole = ingest_paths([plain], tmp_path / "whole", access_template=template).sources[0]
    chunked = ingest_paths([packed], tmp_path / "chunked", access_template=template).sources[0]
    assert (whole.records_parsed, whole.quarantined) == (chunked.records_parsed, 1) == (2, 1)
    rows = _rows(tmp_path / "whole", access_rows)
    assert rows.equals(_rows(tmp_path / "chunked", access_rows))
    assert rows["user_agent"].to_list() == ["Mozilla/5.0 (X11; Linux x86_64) shop/2.3", None]
