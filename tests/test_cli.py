"""`apigw-analyze ingest`: the summary (table and --json), exit codes, and one-line errors.

Wiring is tested with typer's runner; `main()` (the console entry point, where library errors
become one line) is run in a subprocess for the exit codes a shell sees.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from apigw_analytics.cli import app

LINE = (
    '{"requestId":"c1100000-0000-4000-8000-%012d","requestTime":"20/Jul/2026:0%d:50:15 +0000",'
    '"httpMethod":"GET","resourcePath":"/pets","status":"200","responseLength":"184"}'
)


def _good(path: Path, count: int = 5) -> Path:
    path.write_text("\n".join(LINE % (n, n % 10) for n in range(1, count + 1)) + "\n")
    return path


def _with_bad_line(path: Path) -> Path:
    path.write_text(LINE % (1, 1) + "\n" + "this is not json\n" + LINE % (2, 2) + "\n")
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _invoke_json(runner: CliRunner, *args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["ingest", *args, "--json"])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def test_json_summary(runner, tmp_path, data_dir):
    source = _good(tmp_path / "a.log")
    code, facts = _invoke_json(runner, str(source), "--data", str(data_dir))
    assert code == 0
    assert facts["exit_code"] == 0
    assert facts["data_dir"] == str(data_dir)
    assert (facts["files"], facts["files_ingested"], facts["files_failed"]) == (1, 1, 0)
    assert facts["formats"] == {"access-json": 1}
    assert facts["rows_by_kind"] == {"access_requests": 5}
    assert facts["records_read"] == 5
    assert (
        facts["records_read"] == facts["records_parsed"] + facts["quarantined"] + facts["skipped"]
    )
    assert facts["quarantine_reasons"] == {}
    assert facts["first_at"] == "2026-07-20T01:50:15+00:00"
    assert facts["last_at"] == "2026-07-20T05:50:15+00:00"
    assert facts["elapsed_s"] >= 0
    assert "records_per_s" in facts
    assert "mb_per_s" in facts
    (source_facts,) = facts["sources"]
    assert source_facts["path"] == str(source)
    assert source_facts["container"] == "plain"
    assert source_facts["status"] == "ingested"


def test_json_summary_second_time_already_ingested(runner, tmp_path, data_dir):
    source = _good(tmp_path / "a.log")
    _invoke_json(runner, str(source), "--data", str(data_dir))
    code, facts = _invoke_json(runner, str(source), "--data", str(data_dir))
    assert code == 0
    assert facts["files_already_ingested"] == 1
    assert facts["rows_by_kind"] == {}
    assert facts["sources"][0]["status"] == "already ingested"


def test_quarantine_by_reason_and_exit_3(runner, tmp_path, data_dir):
    source = _with_bad_line(tmp_path / "bad.log")
    code, facts = _invoke_json(runner, str(source), "--data", str(data_dir))
    assert code == 3
    assert facts["quarantined"] == 1
    assert facts["quarantine_reasons"] == {"not a JSON object": 1}
    assert facts["rows_by_kind"] == {"access_requests": 2}


def test_unreadable_file_exit_4(runner, tmp_path, data_dir):
    good = _good(tmp_path / "a.log")
    code, facts = _invoke_json(
        runner, str(tmp_path / "missing.log"), str(good), "--data", str(data_dir)
    )
    assert code == 4
    assert facts["files_failed"] == 1
    assert facts["rows_by_kind"] == {"access_requests": 5}
    failed = [s for s in facts["sources"] if s["status"] == "failed"]
    assert failed[0]["error"].endswith("missing.log: cannot read: No such file or directory")


def test_folder_of_many_formats(runner, tmp_path, data_dir):
    folder = tmp_path / "logs"
    (folder / "nested").mkdir(parents=True)
    _good(folder / "a.jsonl")
    (folder / "nested" / "b.clf").write_text(
        '198.51.100.7 - - [20/Jul/2026:01:50:15 +0000] "GET GET /pets HTTP/1.1" 200 5 '
        "GQIVriFLIAMEMsA=\n"
    )
    (folder / ".hidden").write_text("ignored\n")
    code, facts = _invoke_json(runner, str(folder), "--data", str(data_dir))
    assert code == 0
    assert facts["formats"] == {"access-json": 1, "access-clf": 1}
    assert facts["rows_by_kind"] == {"access_requests": 6}


def test_human_summary(runner, tmp_path, data_dir):
    source = _with_bad_line(tmp_path / "bad.log")
    result = runner.invoke(
        app,
        ["ingest", str(source), str(tmp_path / "nope.log"), "--data", str(data_dir), "--quiet"],
    )
    assert result.exit_code == 4
    text = " ".join(result.stdout.split())
    assert "3 records read = 2 parsed + 1 quarantined + 0 skipped" in text
    assert "rows written: access_requests 2" in text
    assert "time range: 2026-07-20T01:50:15+00:00 .. 2026-07-20T02:50:15+00:00" in text
    assert "quarantined 1: not a JSON object" in text
    assert "cannot read: No such file or directory" in text
    assert "Traceback" not in result.output


def test_access_format_and_api_type_options(runner, tmp_path, data_dir, access_rows):
    source = tmp_path / "custom.log"
    source.write_text("r-1 1784512215218 200 GET\nr-2 1784512216000 503 POST\n")
    template = "$context.requestId $context.requestTimeEpoch $context.status $context.httpMethod"
    code, facts = _invoke_json(
        runner,
        str(source),
        "--data",
        str(data_dir),
        "--access-format",
        template,
        "--api-type",
        "http",
    )
    assert code == 0
    assert facts["formats"] == {"access-template": 1}
    rows = access_rows(data_dir)
    assert rows["request_id"].to_list() == ["r-1", "r-2"]
    assert rows["status"].to_list() == [200, 503]
    assert set(rows["api_type"]) == {"http"}


CLF_LINE = (
    '198.51.100.7 - - [20/Jul/2026:01:50:15 +0000] "GET /pets HTTP/1.1" 200 184 '
    "c1100000-0000-4000-8000-%012d E%d="
)


def test_api_id_and_stage_label_records_that_log_neither(runner, tmp_path, data_dir, access_rows):
    """The console presets log no apiId or stage: --api-id/--stage supply them, on the
    whole-file path (plain CLF) and the chunked one (gzip), and a record's own value wins."""
    plain = tmp_path / "prod.log"
    plain.write_text("".join(CLF_LINE % (n, n) + "\n" for n in range(3)))
    zipped = tmp_path / "prod.log.gz"
    zipped.write_bytes(
        gzip.compress("".join(CLF_LINE % (n, n) + "\n" for n in range(3, 5)).encode())
    )
    own = tmp_path / "own.jsonl"
    own.write_text(
        '{"requestId":"own-1","requestTime":"20/Jul/2026:01:50:15 +0000","status":"200",'
        '"apiId":"zzzzzzzzzz","stage":"beta"}\n'
    )
    labels = ("--api-id", "a1b2c3d4e5", "--stage", "prod")
    for source in (plain, zipped, own):
        code, _ = _invoke_json(runner, str(source), "--data", str(data_dir), *labels)
        assert code == 0
    rows = access_rows(data_dir)
    labelled = rows.filter(pl.col("request_id") != "own-1")
    assert labelled.height == 5
    assert set(zip(labelled["api_id"], labelled["stage"], strict=True)) == {("a1b2c3d4e5", "prod")}
    mine = rows.filter(pl.col("request_id") == "own-1").row(0, named=True)
    assert (mine["api_id"], mine["stage"]) == ("zzzzzzzzzz", "beta")


def test_data_dir_from_environment(runner, tmp_path, monkeypatch):
    source = _good(tmp_path / "a.log")
    monkeypatch.setenv("APIGW_ANALYZE_DATA", str(tmp_path / "from-env"))
    code, facts = _invoke_json(runner, str(source))
    assert code == 0
    assert facts["data_dir"] == str(tmp_path / "from-env")
    assert any((tmp_path / "from-env" / "access_requests").rglob("*.parquet"))


def test_formats_command_lists_every_format(runner):
    from apigw_analytics.ingest.registry import all_formats

    result = runner.invoke(app, ["formats"], terminal_width=200)
    assert result.exit_code == 0
    for fmt in all_formats():
        assert fmt.name in result.stdout


def _main(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apigw_analytics.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_entry_point_exit_codes_and_one_line_errors(tmp_path):
    data = str(tmp_path / "wh")
    good = _good(tmp_path / "good.log")
    bad = _with_bad_line(tmp_path / "bad.log")

    ok = _main("ingest", str(good), "--data", data, "--json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["rows_by_kind"] == {"access_requests": 5}

    quarantined = _main("ingest", str(bad), "--data", data, "--quiet", cwd=tmp_path)
    assert quarantined.returncode == 3, quarantined.stderr

    unreadable = _main("ingest", str(tmp_path / "none.log"), "--data", data, cwd=tmp_path)
    assert unreadable.returncode == 4
    assert "Traceback" not in unreadable.stdout + unreadable.stderr

    for args, message in [
        (["--format", "nope"], "apigw-analyze: error: unknown format 'nope'; known formats: "),
        (["--api-type", "soap"], "apigw-analyze: error: --api-type takes rest, http or websocket"),
        (
            ["--access-format", "no variables here"],
            "apigw-analyze: error: the access-log template names no $context variable",
        ),
    ]:
        failed = _main("ingest", str(good), "--data", data, *args, cwd=tmp_path)
        assert failed.returncode == 2, failed.stderr
        assert failed.stdout == ""
        lines = failed.stderr.splitlines()
        assert len(lines) == 1, failed.stderr
        assert lines[0].startswith(message)
