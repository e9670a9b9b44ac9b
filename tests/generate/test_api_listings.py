"""The API listings the generator writes: read back as the estate, and they join REST metrics."""

from __future__ import annotations

import polars as pl

from apigw_analytics.generate.scenarios import ESTATE
from apigw_analytics.query.run import run_query

from .conftest import Ingested


def test_every_api_of_the_estate_is_listed_once_with_its_type(incident: Ingested) -> None:
    apis = pl.read_parquet(incident.data / "apis" / "**" / "*.parquet", hive_partitioning=False)
    listed = sorted(apis.select("api_id", "api_name", "api_type").rows())
    assert listed == sorted({(api.api_id, api.name, api.api_type) for api in ESTATE})
    formats = {
        source.path.rsplit("/", 1)[-1]: source.format
        for source in incident.summary.sources
        if "/apis/" in source.path
    }
    assert formats == {
        "get-rest-apis.json": "apigateway-get-rest-apis",
        "get-apis.json": "apigatewayv2-get-apis",
    }


def test_the_shop_stage_metrics_sit_beside_its_logs(incident: Ingested) -> None:
    """With the listing, the shop's per-minute Count meets its access log: every minute agrees
    and no row is left under the name `shop`."""
    compared = run_query("logs_vs_metrics", data_dir=incident.data)
    shop = compared.filter(pl.col("api_name") == "shop")
    assert set(shop["api_id"]) == {"a1b2c3d4e5"}
    assert set(shop["metrics_api_match"]) == {"listing"}
    assert not shop["mismatch"].any()
    assert shop["log_requests"].sum() == shop["metric_requests"].sum()
