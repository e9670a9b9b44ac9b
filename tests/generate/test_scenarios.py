"""Each scenario tells its story, the arrival process is what it claims, and runs are
deterministic for a seed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from apigw_analytics.cli import app
from apigw_analytics.errors import ConfigError
from apigw_analytics.generate import traffic
from apigw_analytics.generate.commands import parse_duration_s
from apigw_analytics.generate.output import write_run
from apigw_analytics.generate.run import GeneratedRun, generate_run
from apigw_analytics.generate.scenarios import SCENARIOS, scenario_named


def _digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    hasher = hashlib.sha256()
    for path in files:
        hasher.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return hasher.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    scenario = scenario_named("cache-ttl")
    digests = []
    for index, seed in enumerate((7, 7, 8)):
        run = generate_run(scenario, duration_s=120.0, rps=5.0, seed=seed)
        write_run(run, tmp_path / str(index))
        digests.append(_digest(tmp_path / str(index)))
    assert digests[0] == digests[1] != digests[2]


def test_every_scenario_runs(runs: dict[str, GeneratedRun]) -> None:
    assert set(SCENARIOS) >= {*runs, "steady", "incident-day"}
    for run in runs.values():
        assert run.requests["requested_at"].is_sorted()
        assert run.requests["request_id"].n_unique() == run.requests.height


def test_method_burst_is_throttled_by_the_method_limit_only(runs: dict[str, GeneratedRun]) -> None:
    requests = runs["method-burst"].requests
    throttled = requests.filter(pl.col("status") == 429)
    assert throttled.height > 100
    assert set(throttled["limit_layer"].to_list()) == {"method"}
    assert set(throttled["resource_path"].to_list()) == {"/orders"}
    assert set(throttled["error_response_type"].to_list()) == {"THROTTLED"}
    retries = requests.filter(pl.col("attempt") > 0)
    assert retries.height > 0


def test_key_limits_quota_for_one_key_throttle_for_another(runs: dict[str, GeneratedRun]) -> None:
    throttled = runs["key-limits"].requests.filter(pl.col("status") == 429)
    by_layer = {
        layer: set(rows["api_key_id"].to_list())
        for (layer,), rows in throttled.group_by("limit_layer")
    }
    assert by_layer == {"quota": {"key-free-03"}, "usage_plan": {"key-free-05"}}
    admitted = runs["key-limits"].requests.filter(
        (pl.col("api_key_id") == "key-free-03") & (pl.col("status") != 429)
    )
    assert admitted.height == 2000


def test_slow_backend_times_out_and_lambda_fails_first(runs: dict[str, GeneratedRun]) -> None:
    requests = runs["slow-backend"].requests
    timeouts = requests.filter(pl.col("failure") == "integration_timeout")
    assert set(timeouts["resource_path"].to_list()) == {"/reports"}
    assert (timeouts["integration_latency_ms"] == 5000).all()
    assert (timeouts["status"] == 504).all()
    lambda_timeouts = requests.filter(pl.col("failure") == "lambda_function_timeout")
    assert set(lambda_timeouts["resource_path"].to_list()) == {"/exports"}
    assert (lambda_timeouts["status"] == 502).all()
    assert (lambda_timeouts["integration_latency_ms"] < 29_000).all()


def test_cache_serves_hot_items_and_expires(runs: dict[str, GeneratedRun]) -> None:
    requests = runs["cache-ttl"].requests
    cached = requests.filter(pl.col("cache_result") != "not_cached")
    assert set(cached["resource_path"].to_list()) == {"/products", "/products/{id}"}
    hits = cached.filter(pl.col("cache_result") == "hit")
    assert hits["integration_latency_ms"].null_count() == hits.height
    misses = cached.filter(pl.col("cache_result") == "miss")
    assert misses.filter(pl.col("resource_path") == "/products").height > 1500.0 / 60 - 2


def test_canary_gets_its_share_and_is_slower(runs: dict[str, GeneratedRun]) -> None:
    shop = runs["canary"].requests.filter(pl.col("api_name") == "shop")
    share = shop["is_canary"].mean()
    assert 0.08 < share < 0.12
    latency = shop.group_by("is_canary").agg(pl.col("integration_latency_ms").median())
    medians = dict(latency.iter_rows())
    assert medians[True] > 1.5 * medians[False]


def test_authorizer_results_are_cached(runs: dict[str, GeneratedRun]) -> None:
    authorized = runs["authorizer"].requests.filter(pl.col("authorizer_status") == 200)
    called = authorized["authorizer_called"].mean()
    assert 0.0 < called < 0.5
    assert (authorized.filter(~pl.col("authorizer_called"))["authorizer_latency_ms"] == 1).all()
    assert runs["authorizer"].requests.filter(pl.col("status") == 401).height > 0


def test_arrivals_follow_the_diurnal_rate() -> None:
    rng = np.random.default_rng(3)
    midnight = 1_793_577_600.0
    t_ms = traffic.arrival_times_ms(rng, 86_400, 2.0, midnight, 0.6)
    hours = np.bincount((t_ms // 3_600_000).astype(np.int64), minlength=24)
    assert hours[15] > 2.5 * hours[3]
    assert abs(len(t_ms) - 2.0 * 86_400) < 4 * np.sqrt(2.0 * 86_400)


def test_zipf_choice_favours_the_first_ranks() -> None:
    draws = traffic.zipf_choice(np.random.default_rng(1), 100_000, 50, 1.2)
    counts = np.bincount(draws, minlength=50)
    assert counts[0] > counts[1] > counts[10] > 0


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("1d", 86400)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


def test_bad_duration_and_unknown_scenario_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--duration"):
        parse_duration_s("soon")
    with pytest.raises(ConfigError, match="known: steady"):
        scenario_named("nope")


def test_cli_generates_and_lists(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["generate", "--list"])
    assert listed.exit_code == 0
    assert "incident-day" in listed.output
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "generate",
            "--scenario",
            "method-burst",
            "--duration",
            "2m",
            "--rps",
            "3",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "_ground-truth.csv.gz").is_file()
    assert (out / "_gateway-config.json").is_file()
    assert any((out / "access").iterdir())
