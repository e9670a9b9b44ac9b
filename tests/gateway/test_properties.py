"""Hypothesis properties of the policy core, checked through the whole replay engine."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from apigw_analytics.gateway.arrival_reader import read_batches
from apigw_analytics.gateway.config import load_config
from apigw_analytics.gateway.engine import needed_columns, simulate, simulate_columns
from apigw_analytics.gateway.policy import CACHE_HIT

T0_MS = 1_767_225_600_000

UNLIMITED_ACCOUNT = ["account.throttlingRateLimit=1e12", "account.throttlingBurstLimit=1e12"]
arrival_gaps = st.lists(st.integers(0, 50), min_size=1, max_size=300)


def _times(gaps: list[int]) -> np.ndarray:
    return T0_MS + np.cumsum(np.array(gaps, np.int64))


def _stage_limit(rate_rps: float, burst: int) -> list[str]:
    return [
        *UNLIMITED_ACCOUNT,
        f'stages.prod.methodSettings."*/*".throttlingRateLimit={rate_rps}',
        f'stages.prod.methodSettings."*/*".throttlingBurstLimit={burst}',
    ]


@settings(max_examples=40, deadline=None)
@given(gaps=arrival_gaps, rate_rps=st.floats(0.5, 200.0), burst=st.integers(0, 20))
def test_admitted_never_exceed_burst_plus_rate_times_elapsed(access_frame, gaps, rate_rps, burst):
    t_ms = _times(gaps)
    sim = simulate(access_frame(t_ms), load_config(None, _stage_limit(rate_rps, burst)))
    admitted = sim.status != 429
    elapsed_s = (sim.t_ms - sim.t_ms[0]) / 1000.0
    assert np.all(np.cumsum(admitted) <= burst + rate_rps * elapsed_s + 1e-9)


@settings(max_examples=40, deadline=None)
@given(
    gaps=arrival_gaps,
    rate_rps=st.floats(0.5, 100.0),
    burst=st.integers(0, 10),
    extra_rate=st.floats(0.0, 100.0),
    extra_burst=st.integers(0, 10),
)
def test_raising_a_limit_never_adds_429s(
    access_frame, gaps, rate_rps, burst, extra_rate, extra_burst
):
    frame = access_frame(_times(gaps))
    low = simulate(frame, load_config(None, _stage_limit(rate_rps, burst)))
    high = simulate(
        frame, load_config(None, _stage_limit(rate_rps + extra_rate, burst + extra_burst))
    )
    assert (high.status == 429).sum() <= (low.status == 429).sum()


@settings(max_examples=30, deadline=None)
@given(
    gaps=arrival_gaps,
    statuses=st.lists(st.sampled_from([200, 201, 302, 400, 404, 500, 502, 503]), min_size=300),
    seed=st.integers(0, 2**31),
)
def test_unlimited_settings_reproduce_observed_outcomes(access_frame, gaps, statuses, seed):
    n = len(gaps)
    status = statuses[:n]
    latency = [None if s == 400 else 20 + i % 7 for i, s in enumerate(status)]
    frame = access_frame(_times(gaps), status=status, integration_latency_ms=latency)
    sim = simulate(frame, load_config(None, [*UNLIMITED_ACCOUNT, f"model.seed={seed}"]))
    assert sim.status.tolist() == status
    assert sim.integration_called.tolist() == [value is not None for value in latency]


def _mixed_frame(access_frame, gaps: list[int], throttled_every: int):
    n = len(gaps)
    status = [429 if i % throttled_every == 0 else 200 for i in range(n)]
    latency = [None if s == 429 else 10 + (i * 37) % 90 for i, s in enumerate(status)]
    paths = [f"/prod/items/{i % 5}" for i in range(n)]
    return access_frame(
        _times(gaps),
        status=status,
        integration_latency_ms=latency,
        path=paths,
        resource_path="/items/{id}",
    )


@settings(max_examples=25, deadline=None)
@given(gaps=arrival_gaps, every=st.integers(2, 5), seed=st.integers(0, 2**31))
def test_same_seed_same_outcomes(access_frame, gaps, every, seed):
    frame = _mixed_frame(access_frame, gaps, every)
    overrides = [
        f"model.seed={seed}",
        "stages.prod.cacheClusterEnabled=true",
        'stages.prod.canarySettings={"percentTraffic": 30, "useStageCache": false}',
        *_stage_limit(20.0, 5)[2:],
    ]
    first = simulate(frame, load_config(None, overrides))
    second = simulate(frame, load_config(None, overrides))
    for name in ("status", "cache_result", "latency_ms", "canary", "drawn", "layer"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name


@settings(max_examples=40, deadline=None)
@given(
    gaps=arrival_gaps,
    every=st.integers(2, 6),
    rate_rps=st.floats(0.5, 100.0),
    burst=st.integers(0, 10),
    ttl_s=st.integers(0, 3600),
)
def test_never_both_throttled_and_served_from_cache(
    access_frame, gaps, every, rate_rps, burst, ttl_s
):
    overrides = [
        "stages.prod.cacheClusterEnabled=true",
        f'stages.prod.methodSettings."*/*".cacheTtlInSeconds={ttl_s}',
        *_stage_limit(rate_rps, burst)[2:],
    ]
    sim = simulate(_mixed_frame(access_frame, gaps, every), load_config(None, overrides))
    assert not np.any((sim.status == 429) & (sim.cache_result == CACHE_HIT))
    assert not np.any((sim.status == 429) & sim.integration_called)


@settings(max_examples=30, deadline=None)
@given(
    gaps=st.lists(st.sampled_from([0, 5, 40, 600_000, 20 * 3_600_000]), min_size=1, max_size=300),
    every=st.integers(2, 5),
    chunk_rows=st.integers(1, 60),
)
def test_a_run_in_chunks_has_the_outcomes_of_one_run(access_frame, gaps, every, chunk_rows):
    # Arrivals over days: buckets, the daily quota, the cache and draws carry across chunks.
    frame = _mixed_frame(access_frame, gaps, every).with_columns(api_key_id=pl.lit("k0"))
    config = load_config(
        None,
        [
            "stages.prod.cacheClusterEnabled=true",
            *_stage_limit(20.0, 5)[2:],
            'usagePlans.p={"quota": {"limit": 40, "period": "DAY"}, "apiStages": [{"stage": '
            '"prod"}], "apiKeys": ["k0"]}',
        ],
    )
    table = frame.select(needed_columns(config)).to_arrow()
    columns = read_batches(table.to_batches(), table.num_rows, cache_control=True)
    whole = simulate_columns(columns, config)
    ran: list[tuple[int, int]] = []
    chunked = simulate_columns(
        columns, config, chunk_rows=chunk_rows, on_chunk=lambda _, a, b: ran.append((a, b))
    )
    assert [a for a, _ in ran] == list(range(0, len(gaps), chunk_rows))
    assert [b for _, b in ran] == [min(a + chunk_rows, len(gaps)) for a, _ in ran]
    for name in ("status", "layer", "cache_result", "latency_ms", "drawn", "response_type"):
        assert np.array_equal(getattr(whole, name), getattr(chunked, name)), name
