"""The replay's reader: batches with differing dictionaries, nulls and all-null chunks come out
as the same arrivals, and the replay (warehouse → columns) agrees with `simulate` (frame)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from apigw_analytics.gateway.arrival_reader import read_batches
from apigw_analytics.gateway.config import load_config
from apigw_analytics.gateway.engine import needed_columns, simulate, simulate_columns
from apigw_analytics.gateway.replay import read_arrivals
from apigw_analytics.schema import RecordKind

T0_MS = 1_767_225_600_000
CONFIG = [
    "stages.prod.cacheClusterEnabled=true",
    'stages.prod.methodSettings."*/*".throttlingRateLimit=20',
    'stages.prod.methodSettings."*/*".throttlingBurstLimit=10',
    'usagePlans.p={"throttle": {"rateLimit": 5, "burstLimit": 5}, "apiStages": [{"stage": '
    '"prod"}], "apiKeys": ["k0", "k1"]}',
]


def _arrivals(access_frame, n: int = 3_000):
    rng = np.random.default_rng(3)
    status = rng.choice([200, 200, 404, 429, 504], n).tolist()
    status[5] = None
    latency = [None if s in (429, 504) or i % 7 == 0 else 30 + i % 50 for i, s in enumerate(status)]
    return access_frame(
        T0_MS + rng.permutation(n) * 40,  # distinct times: no ties for file order to break
        http_method=rng.choice(["GET", "POST"], n).tolist(),
        resource_path=rng.choice(["/orders", "/items"], n).tolist(),
        path=[f"/prod/p{i % 9}" for i in range(n)],
        status=status,
        integration_latency_ms=latency,
        latency_ms=[None if i % 97 == 0 else 60 for i in range(n)],
        api_key_id=[None if i < n // 3 else f"k{i % 3}" for i in range(n)],
        error_response_type=[("THROTTLED" if s == 429 else None) for s in status],
        extra=['{"h":"max-age=0"}' if i % 11 == 0 else None for i in range(n)],
    )


def test_batches_with_differing_dictionaries_read_as_the_frame(access_frame):
    frame = _arrivals(access_frame)
    columns = ["request_id", "extended_request_id", *needed_columns(load_config(None, CONFIG))]
    table = frame.select(columns).to_arrow()
    # Each batch dictionary-encoded on its own: values in another order, or absent, per batch.
    batches = [
        pa.record_batch(
            [c.dictionary_encode() if c.type == pa.large_string() else c for c in b.columns],
            names=b.schema.names,
        )
        for b in table.to_batches(max_chunksize=700)
    ]
    read = read_batches(batches, table.num_rows, cache_control=True).to_frame()
    for name in ("request_id", "http_method", "path", "api_key_id", "error_response_type"):
        assert read[name].to_list() == frame[name].to_list(), name
    assert read["status"].to_list() == frame["status"].to_list()
    assert read["integration_latency_ms"].to_list() == frame["integration_latency_ms"].to_list()
    assert "extended_request_id" not in read.columns  # null throughout: nothing held


def test_replay_of_a_warehouse_agrees_with_simulate(tmp_path, access_frame):
    frame = _arrivals(access_frame)
    config = load_config(None, CONFIG)
    table_dir = tmp_path / RecordKind.ACCESS_REQUESTS.value
    for part, rows in enumerate((slice(0, 1_000), slice(1_000, 2_200), slice(2_200, None))):
        folder = table_dir / f"date=2026-01-0{1 + part % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        frame[rows].write_parquet(folder / f"part-{part}.parquet", row_group_size=300)
    columns = ["request_id", "extended_request_id", *needed_columns(config)]
    replayed = simulate_columns(read_arrivals(tmp_path, columns, cache_control=True), config)
    expected = simulate(frame, config)
    assert (expected.layer > 0).any() and (expected.cache_result > 0).any()
    for name in ("t_ms", "status", "layer", "cache_result", "latency_ms", "drawn", "route"):
        assert np.array_equal(getattr(replayed, name), getattr(expected, name)), name
    order = pl.Series(replayed.columns.request_ids["request_id"].combine_chunks())
    assert order.to_list() == expected.arrivals["request_id"].to_list()


def test_codes_widen_when_a_column_gains_values(access_frame):
    # A few values in the first batches, then hundreds: the codes held so far are kept.
    n = 2_000
    keys = [None if i % 13 == 0 else f"k{i % 5 if i < 500 else i % 40_000}" for i in range(n)]
    frame = access_frame(T0_MS + np.arange(n), api_key_id=keys)
    table = frame.select("requested_at", "api_key_id").to_arrow()
    read = read_batches(table.to_batches(max_chunksize=300), n, cache_control=False)
    assert read.string("api_key_id").codes.dtype == np.int16
    assert read.to_frame()["api_key_id"].to_list() == keys


def test_reader_takes_what_statistics_answer_and_skips_arrivals_without_time(
    tmp_path, access_frame
):
    # Row groups of 100: the API key constant in some, varied in others, null in the rest; a
    # few arrivals without a time; a second file without the API key column at all.
    n = 600
    keys = [None if i >= 400 else "k1" if i < 200 else f"k{i % 3}" for i in range(n)]
    frame = access_frame(T0_MS + np.arange(n) * 10, api_key_id=keys)
    frame = frame.with_columns(
        requested_at=pl.when(pl.int_range(n) % 97 == 5).then(None).otherwise("requested_at")
    )
    folder = tmp_path / RecordKind.ACCESS_REQUESTS.value / "date=2026-01-01"
    folder.mkdir(parents=True)
    frame.write_parquet(folder / "part-0.parquet", row_group_size=100)
    later = access_frame(T0_MS + 10 * n + np.arange(50)).drop("api_key_id")
    later.write_parquet(folder / "part-1.parquet")
    columns = ["request_id", "extended_request_id", "requested_at", "api_id", "api_key_id"]
    read = read_arrivals(tmp_path, columns, cache_control=False).to_frame()
    expected = pl.concat([frame, later], how="diagonal").filter(
        pl.col("requested_at").is_not_null()
    )
    assert read["requested_at"].to_list() == expected["requested_at"].to_list()
    assert read["request_id"].to_list() == expected["request_id"].to_list()
    assert read["api_key_id"].to_list() == expected["api_key_id"].to_list()
    assert read["api_id"].unique().to_list() == ["abc123"]
