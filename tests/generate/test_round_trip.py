"""Generate → ingest → the catalogue finds exactly the ground truth; replay agrees with it."""

from __future__ import annotations

import polars as pl

from apigw_analytics.gateway.config import load_config
from apigw_analytics.gateway.replay import run_replay
from apigw_analytics.generate.output import CONFIG_FILE, truth_frame
from apigw_analytics.query.run import run_query

from .conftest import Ingested


def _truth(incident: Ingested) -> pl.DataFrame:
    return truth_frame(incident.run)


def test_everything_written_is_read_with_nothing_quarantined(incident: Ingested) -> None:
    summary = incident.summary
    assert summary.total("quarantined") == 0
    assert summary.exit_code == 0
    access = pl.read_parquet(incident.data / "access_requests" / "**" / "*.parquet")
    assert access.height == incident.run.requests.height


def test_throttling_episode_names_the_route_key_and_window(incident: Ingested) -> None:
    """The method burst is one episode on POST /orders covering every method-layer 429; its
    429 count and top key are those of the true 429s in its window (the quota-exhausted key
    also calls POST /orders, all day, in episodes of its own)."""
    truth = _truth(incident)
    burst = truth.filter(pl.col("limit_layer") == "method")
    first, last = burst["requested_at"].min(), burst["requested_at"].max()
    episodes = run_query(
        "throttling_episodes", {"route": "POST /orders", "gap_s": 60}, data_dir=incident.data
    )
    covering = episodes.filter(
        (pl.col("episode_start") <= first.replace(microsecond=0)) & (pl.col("episode_end") > last)
    )
    assert covering.height == 1
    episode = covering.row(0, named=True)
    assert episode["top_route"] == "POST /orders"
    in_window = truth.filter(
        (pl.col("route") == "shop POST /orders")
        & (pl.col("status") == 429)
        & pl.col("requested_at").is_between(
            episode["episode_start"], episode["episode_end"], closed="left"
        )
    )
    assert episode["throttled_429"] == in_window.height
    assert in_window.filter(pl.col("limit_layer") == "method").height == burst.height
    keys = (
        in_window.group_by("api_key_id").len().sort(["len", "api_key_id"], descending=[True, False])
    )
    assert episode["top_api_key"] == keys["api_key_id"][0]


def test_throttle_attribution_matches_the_layers_that_fired(incident: Ingested) -> None:
    truth = _truth(incident).filter(pl.col("api_id") == "a1b2c3d4e5", pl.col("status") == 429)
    attribution = run_query("throttle_attribution", data_dir=incident.data)
    by_layer = dict(attribution.group_by("layer").agg(pl.col("throttled_429").sum()).iter_rows())
    expected = truth["limit_layer"].value_counts()
    counts = dict(expected.iter_rows())
    assert by_layer.get("usage_plan_key_quota", 0) == counts.get("quota", 0)
    assert by_layer.get("usage_plan_key_throttle", 0) == counts.get("usage_plan", 0)
    assert by_layer.get("no_key_message", 0) == counts.get("method", 0) + counts.get("stage", 0)
    # Each 429 also names its route, though the execution log stops before the resource path.
    layer_names = {"quota": "usage_plan_key_quota", "usage_plan": "usage_plan_key_throttle"}
    true_routes = (
        truth.with_columns(pl.col("limit_layer").replace(layer_names).replace("stage", "method"))
        .group_by("limit_layer", "route")
        .len()
    )
    found_routes = attribution.group_by(
        pl.col("layer").replace("no_key_message", "method"),
        pl.format("shop {} {}", "http_method", "resource_path"),
    ).agg(pl.col("throttled_429").sum())
    assert sorted(found_routes.rows()) == sorted(true_routes.rows())


def test_5xx_causes_are_exactly_the_true_failures(incident: Ingested) -> None:
    """Where the stage logs the evidence (shop: rich access log and execution logs) every 5xx
    gets its true cause; the console presets other stages use carry no integration fields, so
    there the honest answer is `unknown` for all but the gateway's own timeouts."""
    truth = _truth(incident).filter(pl.col("status") >= 500)
    causes = run_query("errors_5xx_causes", data_dir=incident.data)
    shop = pl.col("api_id") == "a1b2c3d4e5"
    expected = dict(truth.filter(shop)["failure"].value_counts().iter_rows())
    found = dict(
        causes.filter(shop).group_by("cause").agg(pl.col("server_errors_5xx").sum()).iter_rows()
    )
    assert found == expected
    assert set(expected) >= {"integration_timeout", "lambda_function_timeout"}
    not_shop = pl.col("api_id").is_null() | (pl.col("api_id") != "a1b2c3d4e5")
    others = causes.filter(not_shop)
    assert set(others["cause"].to_list()) <= {"unknown", "integration_timeout"}
    assert others["server_errors_5xx"].sum() == truth.filter(not_shop).height


def test_cache_hit_ratio_within_one_point(incident: Ingested) -> None:
    """Per cached route: the share of its successful requests the cache answered (canary
    requests, which bypass the stage cache here, count as not answered from the cache)."""
    truth = _truth(incident)
    cached_routes = truth.filter(pl.col("cache_result") != "not_cached")["route"].unique()
    ratios = run_query("cache_hit_ratio", data_dir=incident.data).filter(
        pl.col("level") == "method"
    )
    assert cached_routes.len() == 2
    for route in cached_routes.sort():
        served = truth.filter((pl.col("route") == route) & (pl.col("status") < 400))
        true_ratio = (served["cache_result"] == "hit").mean()
        resource = route.split(" ", 2)[2]
        row = ratios.filter(pl.col("resource_path") == resource).row(0, named=True)
        inferred = row["inferred_hits"] / row["eligible_requests"]
        assert abs(inferred - true_ratio) <= 0.01, resource


def test_cache_metrics_exported_at_several_periods_are_counted_once(incident: Ingested) -> None:
    """The shop stage's CacheHitCount comes as a 1-minute stream, 5-minute get-metric-data
    and hourly statistics; the stage's hits are the true hits once, not three times."""
    true_hits = _truth(incident).filter(pl.col("cache_result") == "hit").height
    stage = run_query("cache_hit_ratio", {"api": "shop"}, data_dir=incident.data).filter(
        pl.col("level") == "stage"
    )
    assert stage["metric_hits"].to_list() == [true_hits]


def test_replay_with_the_generating_configuration_agrees(incident: Ingested) -> None:
    config = load_config(incident.out / CONFIG_FILE)
    report = run_replay(incident.data, config, "ground-truth")
    assert report.requests == incident.run.requests.height
    assert report.status_agreement >= 0.999
