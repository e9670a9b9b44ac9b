"""CloudWatch metric exports (get-metric-data, get-metric-statistics, Metric Streams) → rows.

Every test reads a file the way the pipeline does (container, sniff, feed per chunk, finish)
and checks the rows against values worked out by hand, the quarantine reasons, and that every
datapoint is accounted for: parsed + quarantined + skipped = datapoints in the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from apigw_analytics.ingest.containers import open_source
from apigw_analytics.ingest.events import EMPTY_QUARANTINE
from apigw_analytics.ingest.registry import (
    ParseContext,
    Sample,
    all_formats,
    detect_format,
    get_format,
)
from apigw_analytics.schema import RecordKind, empty_frame, validate

HERE = Path(__file__).parent
DATA = HERE / "data" / "metrics"
GOLDEN = HERE / "golden"
REPO_ROOT = HERE.parents[1]
METRIC_FORMATS = (
    "cloudwatch-get-metric-data",
    "cloudwatch-get-metric-statistics",
    "cloudwatch-metric-stream",
)


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@dataclass
class Parsed:
    """Rows, quarantine and counts of one file, plus the format that read it."""

    format_name: str
    rows: pl.DataFrame
    quarantine: pl.DataFrame
    records_parsed: int
    skipped: int

    @property
    def accounted(self) -> int:
        return self.records_parsed + self.quarantine.height + self.skipped


def parse_file(
    path: Path, *, format_name: str | None = None, options: dict | None = None
) -> Parsed:
    """Sniff (unless forced), feed every chunk, finish; rows are schema-validated."""
    source = open_source(path)
    chunks = list(source.chunks)
    sample = Sample(
        messages=chunks[0]["message"].head(50).to_list() if chunks else [],
        container=source.container,
    )
    fmt = get_format(format_name) if format_name else detect_format(sample, str(path))
    parser = fmt.open_parser(ParseContext(source_file=str(path), options=options or {}))
    results = [parser.feed(chunk) for chunk in chunks]
    results.append(parser.finish())
    tables = [r.tables[RecordKind.METRIC_POINTS] for r in results if r.tables]
    for table in tables:
        validate(table, RecordKind.METRIC_POINTS)
    quarantines = [r.quarantine for r in results if r.quarantine is not None]
    return Parsed(
        format_name=fmt.name,
        rows=pl.concat(tables) if tables else empty_frame(RecordKind.METRIC_POINTS),
        quarantine=pl.concat(quarantines) if quarantines else EMPTY_QUARANTINE,
        records_parsed=sum(r.records_parsed for r in results),
        skipped=sum(r.skipped for r in results),
    )


def _write(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / name
    text = content if isinstance(content, str) else json.dumps(content, indent=2)
    path.write_text(text, encoding="utf-8")
    return path


def _row(rows: pl.DataFrame, **where: object) -> dict:
    found = rows.filter(*(pl.col(name) == value for name, value in where.items()))
    assert found.height == 1, f"{where}: {found.height} rows"
    return found.row(0, named=True)


def _stream_line(metric_name: str, dimensions: dict, minute: int, value: dict, unit: str) -> str:
    return json.dumps(
        {
            "metric_stream_name": "apigw",
            "account_id": "123456789012",
            "region": "us-east-1",
            "namespace": "AWS/ApiGateway",
            "metric_name": metric_name,
            "dimensions": dimensions,
            "timestamp": 1727352000000 + minute * 60_000,
            "value": value,
            "unit": unit,
        }
    )


# --- real-world samples -------------------------------------------------------------------


@pytest.mark.realworld
def test_realworld_get_metric_data(realworld_dir):
    parsed = parse_file(realworld_dir / "aws-cli-v2-docs_cloudwatch-get-metric-data-output.json")
    assert parsed.format_name == "cloudwatch-get-metric-data"
    assert parsed.quarantine.height == 0
    assert parsed.accounted == 1
    row = _row(parsed.rows, metric_name="EstimatedCharges")
    assert row["metric"] == "estimated_charges"
    assert row["timestamp"] == _utc(2024, 9, 26, 12)
    assert row["sum"] == 542.38  # no query: a label without a statistic word is read as Sum
    assert row["period_s"] == 60
    assert row["namespace"] is None  # not an API Gateway metric and no query to say


@pytest.mark.realworld
def test_realworld_get_metric_statistics_sorted_without_noise(realworld_dir):
    parsed = parse_file(
        realworld_dir / "aws-cli-examples_cloudwatch-get-metric-statistics-output.json"
    )
    assert parsed.format_name == "cloudwatch-get-metric-statistics"
    assert parsed.quarantine.height == 0
    assert parsed.records_parsed == parsed.rows.height == 21
    rows = parsed.rows
    assert rows["timestamp"].is_sorted()
    assert rows["timestamp"][0] == _utc(2014, 2, 18, 23, 18)
    assert rows["maximum"][0] == 0.67
    assert _row(rows, timestamp=_utc(2014, 2, 19, 3, 18))["maximum"] == 99.67
    assert _row(rows, timestamp=_utc(2014, 2, 19, 17, 18))["maximum"] == 3.39
    assert set(rows["unit"]) == {"Percent"}
    assert set(rows["metric"]) == {"cpu_utilization"}
    assert set(rows["period_s"]) == {3600}  # the smallest gap between datapoints
    assert rows["sum"].null_count() == 21  # only Maximum was asked for: nothing invented


@pytest.mark.realworld
def test_realworld_metric_stream_document(realworld_dir):
    parsed = parse_file(
        realworld_dir / "awsdocs-cloudwatch-user-guide_metric-stream-json-example.json"
    )
    assert parsed.format_name == "cloudwatch-metric-stream"
    assert parsed.quarantine.height == 0
    row = parsed.rows.row(0, named=True)
    assert parsed.rows.height == 1
    assert (row["namespace"], row["metric_name"], row["metric"]) == (
        "AWS/EC2",
        "DiskWriteOps",
        "disk_write_ops",
    )
    assert row["timestamp"] == _utc(2021, 1, 29, 14, 14, 58)
    assert (row["sample_count"], row["sum"], row["minimum"], row["maximum"]) == (3, 20, 0, 18)
    assert row["average"] == pytest.approx(20 / 3, rel=1e-11)
    assert row["p99"] == 17.56
    assert json.loads(row["extra_statistics"]) == {"p99.9": 17.8764, "TM(25%:75%)": 16.43}
    assert json.loads(row["extra_dimensions"]) == {"InstanceId": "i-123456789012"}
    assert row["unit"] == "Seconds"
    assert row["period_s"] == 60


# --- synthetic AWS/ApiGateway exports -----------------------------------------------------


def test_stream_rest_dimensions_and_statistics(tmp_path):
    rest = {"ApiName": "petstore", "Stage": "prod", "Method": "GET", "Resource": "/pets/{petId}"}
    lines = [
        _stream_line(
            "Count", rest, 0, {"count": 40.0, "sum": 40.0, "max": 1.0, "min": 1.0}, "Count"
        ),
        _stream_line(
            "4XXError", rest, 0, {"count": 40.0, "sum": 4.0, "max": 1.0, "min": 0.0}, "Count"
        ),
        _stream_line(
            "5XXError", rest, 0, {"count": 40.0, "sum": 0.0, "max": 0.0, "min": 0.0}, "Count"
        ),
        _stream_line(
            "IntegrationLatency",
            rest,
            0,
            {"count": 36.0, "sum": 1800.0, "max": 900.0, "min": 5.0, "p99": 850.0},
            "Milliseconds",
        ),
        _stream_line(
            "CacheHitCount", rest, 0, {"count": 40.0, "sum": 10.0, "max": 1.0, "min": 0.0}, "Count"
        ),
        "",
    ]
    parsed = parse_file(_write(tmp_path, "rest.jsonl", "\n".join(lines) + "\n"))
    assert parsed.format_name == "cloudwatch-metric-stream"
    assert parsed.quarantine.height == 0
    assert (parsed.records_parsed, parsed.skipped) == (5, 1)  # the blank line
    rows = parsed.rows
    assert set(rows["api_name"]) == {"petstore"}
    assert set(rows["method"]) == {"GET"}
    assert set(rows["resource"]) == {"/pets/{petId}"}
    assert rows["api_id"].null_count() == rows["route"].null_count() == 5
    assert rows["extra_dimensions"].null_count() == 5
    errors = _row(rows, metric_name="4XXError")
    assert errors["metric"] == "client_error_count"
    assert (errors["sum"], errors["sample_count"], errors["average"]) == (4, 40, 0.1)
    assert _row(rows, metric_name="5XXError")["metric"] == "server_error_count"
    assert _row(rows, metric_name="Count")["metric"] == "request_count"
    latency = _row(rows, metric_name="IntegrationLatency")
    assert latency["metric"] == "integration_latency_ms"
    assert (latency["average"], latency["p99"], latency["unit"]) == (50, 850, "Milliseconds")
    assert _row(rows, metric_name="CacheHitCount")["metric"] == "cache_hit_count"
    assert set(rows["timestamp"]) == {_utc(2024, 9, 26, 12, 0)}


def test_stream_http_4xx_5xx_route_and_missing_minutes():
    parsed = parse_file(DATA / "metric-stream-http.jsonl")
    assert parsed.quarantine.height == 0
    rows = parsed.rows
    assert set(rows["api_id"]) == {"a1b2c3d4e5"}
    assert set(rows["stage"]) == {"$default"}
    assert rows["api_name"].null_count() == rows.height
    client = _row(rows, metric_name="4xx")
    assert (client["metric"], client["route"], client["sum"]) == (
        "client_error_count",
        "GET /pets",
        3,
    )
    assert _row(rows, metric_name="5xx")["metric"] == "server_error_count"
    data = _row(rows, metric_name="DataProcessed")
    assert (data["metric"], data["route"], data["unit"]) == ("data_processed_bytes", None, "Bytes")
    latency = _row(rows, metric_name="Latency")
    assert (latency["p50"], latency["p90"], latency["p99"]) == (60, 300, 470)
    assert json.loads(latency["extra_statistics"]) == {"p99.9": 479.0}
    # minute 12:01 has no Count datapoint: it stays missing, no zero row is made up
    counts = rows.filter(pl.col("metric") == "request_count")
    assert counts["timestamp"].to_list() == [_utc(2024, 9, 26, 12, 0), _utc(2024, 9, 26, 12, 2)]


def test_get_metric_data_resolved_by_queries(tmp_path):
    dimensions = [{"Name": "ApiName", "Value": "petstore"}, {"Name": "Stage", "Value": "prod"}]

    def query(query_id: str, metric: str, stat: str) -> dict:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/ApiGateway",
                    "MetricName": metric,
                    "Dimensions": dimensions,
                },
                "Period": 300,
                "Stat": stat,
            },
        }

    queries = [
        query("a", "Count", "SampleCount"),
        query("b", "Latency", "p90"),
        query("c", "5XXError", "Average"),
        query("d", "Latency", "Maximum"),
        query("e", "Latency", "p95"),
    ]
    stamps = ["2024-09-26T12:10:00+00:00", "2024-09-26T12:05:00+00:00"]  # newest first
    document = {
        "MetricDataResults": [
            {
                "Id": qid,
                "Label": qid,
                "Timestamps": stamps,
                "Values": values,
                "StatusCode": "Complete",
            }
            for qid, values in [
                ("a", [30.0, 20.0]),
                ("b", [250.0, 200.0]),
                ("c", [0.05, 0.0]),
                ("d", [900.0, 800.0]),
                ("e", [260.0, 210.0]),
            ]
        ],
        "Messages": [],
    }
    path = _write(tmp_path, "rest.json", document)
    for given in (queries, {"MetricDataQueries": queries}):
        parsed = parse_file(path, options={"metric_data_queries": given})
        assert parsed.quarantine.height == 0
        assert parsed.records_parsed == 10
        rows = parsed.rows
        # Latency p90, Maximum and p95 of one time are one row: the warehouse key is the series
        assert rows.height == 6
        assert set(rows["period_s"]) == {300}
        assert set(rows["namespace"]) == {"AWS/ApiGateway"}
        assert set(rows["api_name"]) == {"petstore"}
        count = rows.filter(pl.col("metric") == "request_count")
        assert count["timestamp"].is_sorted()
        assert count["sample_count"].to_list() == [20, 30]
        assert count["sum"].null_count() == 2
        latest = _row(rows, metric="latency_ms", timestamp=_utc(2024, 9, 26, 12, 10))
        assert (latest["p90"], latest["maximum"], latest["average"]) == (250, 900, None)
        assert json.loads(latest["extra_statistics"]) == {"p95": 260.0}
        assert latest["unit"] == "Milliseconds"
        assert (
            _row(rows, metric="server_error_count", timestamp=_utc(2024, 9, 26, 12, 10))["average"]
            == 0.05
        )


def test_get_metric_data_by_label_and_given_dimensions():
    parsed = parse_file(
        DATA / "get-metric-data-rest.json",
        options={"dimensions": {"ApiName": "petstore", "Stage": "prod"}},
    )
    assert parsed.quarantine.height == 0
    assert parsed.records_parsed == 8
    rows = parsed.rows
    count = rows.filter(pl.col("metric_name") == "Count")
    # newest first in the file; sorted here; minute 12:02 absent in the export stays absent
    assert count["timestamp"].to_list() == [
        _utc(2024, 9, 26, 12, 0),
        _utc(2024, 9, 26, 12, 1),
        _utc(2024, 9, 26, 12, 3),
    ]
    assert count["sum"].to_list() == [40, 42, 17]
    assert set(count["period_s"]) == {60}
    latency = rows.filter(pl.col("metric_name") == "Latency")
    assert latency["p99"].to_list() == [199, 230, 812.5]  # 230.00000000000003 rounded
    assert latency["average"].null_count() == 3
    errors = rows.filter(pl.col("metric") == "client_error_count")
    assert errors["metric_name"].unique().to_list() == ["4XXError"]  # REST spelling (ApiName)
    assert errors["timestamp"].to_list() == [_utc(2024, 9, 26, 12, 1), _utc(2024, 9, 26, 12, 3)]
    assert errors["sum"].to_list() == [0, 2]
    # 12:01 and 12:03 only, yet a 60 s series: the period comes from the whole document
    assert set(errors["period_s"]) == {60}
    assert set(rows["api_name"]) == {"petstore"}
    assert set(rows["stage"]) == {"prod"}


def test_get_metric_data_http_label_spelling(tmp_path):
    document = {
        "MetricDataResults": [
            {
                "Id": "m_4xx",
                "Label": "m_4xx",
                "Timestamps": ["2024-09-26T12:00:00Z"],
                "Values": [3],
                "StatusCode": "Complete",
            }
        ]
    }
    parsed = parse_file(
        _write(tmp_path, "http.json", document), options={"dimensions": {"ApiId": "a1b2c3d4e5"}}
    )
    row = parsed.rows.row(0, named=True)
    assert (row["metric_name"], row["metric"], row["api_id"]) == (
        "4xx",
        "client_error_count",
        "a1b2c3d4e5",
    )


def test_get_metric_statistics_dimensions_from_file_name_and_extended_statistics():
    parsed = parse_file(DATA / "ApiName=petstore,Stage=prod,Latency.json")
    assert parsed.format_name == "cloudwatch-get-metric-statistics"
    assert parsed.quarantine.height == 0
    rows = parsed.rows
    assert rows["timestamp"].to_list() == [
        _utc(2024, 9, 26, 12, 0),
        _utc(2024, 9, 26, 12, 5),
        _utc(2024, 9, 26, 12, 10),
    ]
    assert set(rows["period_s"]) == {300}
    assert set(rows["api_name"]) == {"petstore"}
    assert set(rows["stage"]) == {"prod"}
    assert set(rows["metric"]) == {"latency_ms"}
    assert set(rows["namespace"]) == {"AWS/ApiGateway"}
    last = rows.row(2, named=True)
    assert (last["sample_count"], last["minimum"], last["maximum"]) == (30, 12, 480)
    assert last["average"] == 101.333333333
    assert last["p99"] == 470.2
    assert json.loads(last["extra_statistics"]) == {"p95": 301.0}


def test_get_metric_statistics_options_win_over_file_name(tmp_path):
    document = {
        "Label": "Count",
        "Datapoints": [
            {"Timestamp": "2024-09-26T12:01:00Z", "Sum": 5.0, "Unit": "Count"},
            {"Timestamp": "2024-09-26T12:00:00Z", "Sum": 7.0, "Unit": "Count"},
        ],
    }
    path = _write(tmp_path, "ApiName=ignored,Count.json", document)
    parsed = parse_file(
        path, options={"dimensions": {"ApiId": "a1b2c3d4e5", "Stage": "prod"}, "period_s": 60}
    )
    rows = parsed.rows
    assert set(rows["api_id"]) == {"a1b2c3d4e5"}
    assert rows["api_name"].null_count() == 2
    assert rows["sum"].to_list() == [7, 5]
    assert set(rows["period_s"]) == {60}
    assert set(rows["metric"]) == {"request_count"}


def test_a_single_datapoint_says_its_period_was_guessed(tmp_path):
    from apigw_analytics.ingest.metric_points import PERIOD_GUESSED
    from apigw_analytics.ingest.pipeline import ingest_paths

    document = {
        "Label": "Count",
        "Datapoints": [{"Timestamp": "2024-09-26T12:00:00Z", "Sum": 7.0, "Unit": "Count"}],
    }
    path = _write(tmp_path, "ApiName=petstore,Stage=prod,Count.json", document)
    guessed = ingest_paths([path], tmp_path / "guessed")
    (source,) = guessed.sources
    assert source.warnings == [PERIOD_GUESSED]
    assert guessed.exit_code == 0
    given = ingest_paths([path], tmp_path / "given", options={"period_s": 300})
    assert given.sources[0].warnings == []


# --- bad input ----------------------------------------------------------------------------


def test_get_metric_data_bad_records_are_quarantined_and_counted(tmp_path):
    document = {
        "MetricDataResults": [
            {
                "Id": "m1",
                "Label": "Count",
                "Timestamps": ["2024-09-26T12:01:00Z", "2024-09-26T12:00:00Z"],
                "Values": [1.0],
            },
            {
                "Id": "m2",
                "Label": "Latency",
                "Timestamps": [
                    "2024-09-26T12:02:00Z",
                    "2024-09-26T12:01:00Z",
                    "yesterday",
                    "2024-09-26T12:00:00Z",
                ],
                "Values": [10.0, "fast", 12.0, 11.0],
            },
        ]
    }
    parsed = parse_file(_write(tmp_path, "bad.json", document))
    # m1 cannot be paired: one record; m2: four datapoints
    assert parsed.accounted == 1 + 4
    assert parsed.records_parsed == 2
    reasons = sorted(parsed.quarantine["reason"].to_list())
    assert reasons == [
        "Timestamps and Values differ in length (2 != 1)",
        "bad timestamp: yesterday",
        "non-numeric value: average=fast",
    ]
    assert parsed.quarantine["source_line"].to_list() == [1, 1, 1]
    records = [json.loads(text) for text in parsed.quarantine["record"]]
    assert {"Id": "m2", "Timestamp": "2024-09-26T12:01:00Z", "Value": "fast"} in records
    assert parsed.rows["average"].to_list() == [11, 10]


def test_get_metric_statistics_bad_datapoints(tmp_path):
    document = {
        "Label": "Count",
        "Datapoints": [
            {"Timestamp": "2024-09-26T12:00:00Z", "Sum": "lots", "Unit": "Count"},
            {"Timestamp": "not a time", "Sum": 3.0, "Unit": "Count"},
            {"Timestamp": "2024-09-26T12:02:00Z", "Unit": "Count"},
            {"Timestamp": "2024-09-26T12:03:00Z", "Sum": 4.0, "Unit": "Count"},
        ],
    }
    parsed = parse_file(_write(tmp_path, "Count.json", document))
    assert parsed.accounted == 4
    assert parsed.records_parsed == 1
    assert sorted(parsed.quarantine["reason"].to_list()) == [
        "bad timestamp: not a time",
        "datapoint has no statistic value",
        "non-numeric value: sum=lots",
    ]


def test_stream_bad_lines_are_quarantined_the_rest_parsed(tmp_path):
    good = _stream_line(
        "Count", {"ApiId": "a1b2c3d4e5"}, 0, {"count": 2, "sum": 2, "max": 1, "min": 1}, "Count"
    )
    lines = [
        good,
        "",
        '{"metric_stream_name": "apigw", "metric_name": ',
        _stream_line("Count", {"ApiId": "a1b2c3d4e5"}, 1, {"count": 1, "sum": "x"}, "Count"),
        json.dumps({"metric_name": "Count", "value": {"sum": 1.0}}),
        good.replace("1727352000000", '"then"'),
    ]
    parsed = parse_file(
        _write(tmp_path, "stream.jsonl", "\n".join(lines) + "\n"),
        format_name="cloudwatch-metric-stream",
    )
    assert parsed.accounted == len(lines)
    assert (parsed.records_parsed, parsed.skipped) == (1, 1)
    reasons = dict(zip(parsed.quarantine["source_line"], parsed.quarantine["reason"], strict=True))
    assert reasons[3].startswith("invalid JSON")
    assert reasons[4] == "non-numeric value: sum=x"
    assert reasons[5] == "missing timestamp"
    assert reasons[6] == "bad timestamp: then"
    assert parsed.rows.height == 1


# --- sniffing -----------------------------------------------------------------------------


def _sniff_scores(messages: list[str]) -> dict[str, float]:
    sample = Sample(messages=messages, container="plain")
    return {fmt.name: fmt.sniff(sample) for fmt in all_formats() if fmt.name in METRIC_FORMATS}


def test_sniff_recognises_each_export():
    for path, expected in [
        (DATA / "get-metric-data-rest.json", "cloudwatch-get-metric-data"),
        (DATA / "ApiName=petstore,Stage=prod,Latency.json", "cloudwatch-get-metric-statistics"),
        (DATA / "metric-stream-http.jsonl", "cloudwatch-metric-stream"),
    ]:
        messages = next(open_source(path).chunks)["message"].to_list()
        scores = _sniff_scores(messages)
        assert scores[expected] >= 0.9
        assert all(score < 0.5 for name, score in scores.items() if name != expected)


@pytest.mark.parametrize(
    "messages",
    [
        [
            '{"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","ip":"1.2.3.4",'
            '"requestTime":"09/Apr/2015:12:34:56 +0000","httpMethod":"GET",'
            '"resourcePath":"/pets","status":"200","protocol":"HTTP/1.1","responseLength":"42"}'
        ]
        * 3,
        [
            "(c6af9ac6-7b61-11e6-9a41-93e8deadbeef) Extended Request Id: abc=",
            "(c6af9ac6-7b61-11e6-9a41-93e8deadbeef) Method completed with status: 200",
        ],
        ['{"timestamp": 1727352000000, "message": "(abc) Method completed with status: 200"}'],
    ],
    ids=["access-json", "execution", "log-event-json"],
)
def test_sniff_ignores_logs(messages):
    assert all(score == 0 for score in _sniff_scores(messages).values())


# --- golden files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("get-metric-data-rest.json", {"dimensions": {"ApiName": "petstore", "Stage": "prod"}}),
        ("ApiName=petstore,Stage=prod,Latency.json", {}),
        ("metric-stream-http.jsonl", {}),
    ],
)
def test_golden_rows(name, options, to_jsonl, golden):
    parsed = parse_file(DATA / name, options=options)
    assert parsed.quarantine.height == 0
    stem = name.split(".", 1)[0].replace("=", "-").replace(",", "_")
    golden(GOLDEN / f"metrics-{stem}.jsonl", to_jsonl(parsed.rows, relative_to=REPO_ROOT))


def test_pipeline_ingests_every_metric_export(data_dir):
    from apigw_analytics.ingest.pipeline import ingest_paths

    files = sorted(DATA.iterdir())
    summary = ingest_paths(
        files, data_dir, options={"dimensions": {"ApiName": "petstore", "Stage": "prod"}}
    )
    reports = {Path(report.path).name: report for report in summary.sources}
    assert {report.format for report in reports.values()} == set(METRIC_FORMATS)
    assert all(report.error is None and report.quarantined == 0 for report in reports.values())
    assert reports["metric-stream-http.jsonl"].reconciles  # one line = one event = one record
    points = pl.concat(
        [pl.read_parquet(path) for path in sorted((data_dir / "metric_points").rglob("*.parquet"))],
        how="diagonal_relaxed",
    )
    assert points.height == 3 + 8 + 6
