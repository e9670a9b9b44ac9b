"""Run recorded arrivals through the policy core: prepare the kernel inputs, run, keep outputs.

`simulate` takes a frame of access requests (any order; it sorts by time) and a configuration and
returns one predicted outcome per arrival as arrays, in time order. Everything per request is
vectorised numpy/polars or the compiled loop in `kernels.py`; Python loops only run over the
distinct routes and clients (`tables.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from apigw_analytics.gateway import arrivals as arr
from apigw_analytics.gateway.config import GatewayConfig
from apigw_analytics.gateway.kernels import new_cache, replay_kernel
from apigw_analytics.gateway.policy import MODEL_RESPONSE_TYPES
from apigw_analytics.gateway.tables import PolicyTables, build_tables

_CANARY_STREAM = 1
_DRAW_STREAM = 2


@dataclass
class Simulation:
    """Arrivals (time-sorted) and the model's outcome for each, as aligned arrays."""

    arrivals: pl.DataFrame
    t_ms: np.ndarray
    observed_called: np.ndarray
    observed_hit: np.ndarray
    status: np.ndarray
    response_type: np.ndarray
    response_types: list[str | None]
    layer: np.ndarray
    cache_result: np.ndarray
    integration_called: np.ndarray
    authorizer_called: np.ndarray
    latency_ms: np.ndarray
    drawn: np.ndarray
    canary: np.ndarray
    tables: PolicyTables


def _sorted_by_time(frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    frame = frame.filter(pl.col("requested_at").is_not_null())
    t_ms = frame["requested_at"].dt.epoch("ms").to_numpy()
    if len(t_ms) > 1 and not bool(np.all(t_ms[1:] >= t_ms[:-1])):
        order = np.argsort(t_ms, kind="stable")
        frame = frame[order]
        t_ms = t_ms[order]
    return frame, t_ms


def _codes_of(values: pl.Series, vocabulary: list[str | None]) -> np.ndarray:
    """Codes of response types in a vocabulary that grows with the recorded types."""
    known = set(vocabulary)
    vocabulary.extend(sorted(v for v in values.drop_nulls().unique().to_list() if v not in known))
    lookup = {name: code for code, name in enumerate(vocabulary) if name is not None}
    return values.replace_strict(lookup, default=0, return_dtype=pl.Int8).to_numpy()


def _identity_codes(frame: pl.DataFrame, authorizer: np.ndarray) -> np.ndarray:
    identity = frame.select(
        pl.coalesce("authorizer_principal_id", "api_key_id", "source_ip").alias("identity")
    ).with_columns(pl.Series("authorizer", authorizer))
    codes, _ = arr.encode(identity, ("authorizer", "identity"))
    return np.where(authorizer >= 0, codes, -1).astype(np.int32)


def simulate(frame: pl.DataFrame, config: GatewayConfig) -> Simulation:
    """Predict the outcome of every recorded arrival under `config` (deterministic per seed)."""
    frame, t_ms = _sorted_by_time(frame)
    n = frame.height
    route, routes = arr.encode(frame, arr.ROUTE_COLUMNS)
    route_stage, _ = arr.encode(routes, ("api_id", "stage"))
    profile, profiles = arr.encode(
        pl.DataFrame({"route": route, "api_key_id": frame["api_key_id"]}), ("route", "api_key_id")
    )
    tables = build_tables(config, routes, profiles)
    seed = config.model.seed

    status = frame["status"].fill_null(0).to_numpy().astype(np.int16)
    int_latency = frame["integration_latency_ms"].to_numpy().astype(np.float64)
    called = ~np.isnan(int_latency)
    cacheable_route = tables.route_cache_ttl_ms[route] > 0
    throttled = status == 429
    timeout_unlogged = (status == 504) & ~called
    observed_hit = (status > 0) & (status < 400) & ~called & cacheable_route
    fixed = ~called & ~throttled & ~timeout_unlogged & ~observed_hit
    vocabulary: list[str | None] = list(MODEL_RESPONSE_TYPES)
    recorded_type = _codes_of(frame["error_response_type"], vocabulary)
    int_latency[timeout_unlogged] = np.inf

    needy = np.flatnonzero(throttled | observed_hit)
    pool = arr.donors(called, route, route_stage)
    draw_rng = np.random.default_rng([seed, _DRAW_STREAM])
    donor = arr.draw_donors(pool, needy, route, route_stage, draw_rng)
    drawn = np.zeros(n, np.bool_)
    drawn[needy[donor >= 0]] = True
    int_status = status.copy()
    int_type = recorded_type.copy()
    response_bytes = frame["response_bytes"].fill_null(0).to_numpy().astype(np.int64)
    took = donor >= 0
    rows, sources = needy[took], donor[took]
    int_status[rows], int_type[rows] = status[sources], recorded_type[sources]
    int_latency[rows] = int_latency[sources]
    from_throttled = throttled[rows]
    response_bytes[rows[from_throttled]] = response_bytes[sources[from_throttled]]
    no_donor = needy[donor < 0]
    int_latency[no_donor] = 0.0
    int_status[no_donor] = np.where(throttled[no_donor], 200, status[no_donor])

    latency = frame["latency_ms"].to_numpy().astype(np.float64)
    auth_latency = frame["authorizer_latency_ms"].fill_null(0).to_numpy().astype(np.float64)
    overhead = latency - np.nan_to_num(int_latency, posinf=0.0) * called - auth_latency
    overhead_known = ~np.isnan(overhead)
    medians = arr.route_medians(overhead, overhead_known, route, routes.height)
    overhead = np.where(overhead_known, np.maximum(overhead, 0.0), medians[route])

    canary_percent = tables.route_canary_percent[route]
    canary = np.zeros(n, np.bool_)
    if canary_percent.any():
        u = np.random.default_rng([seed, _CANARY_STREAM]).random(n)
        canary = u * 100.0 < canary_percent

    cache_key = np.full(n, -1, np.int32)
    invalidate = np.zeros(n, np.bool_)
    owner = np.zeros(0, np.int32)
    if cacheable_route.any():
        keyed = pl.DataFrame({"route": route, "path": frame["path"]})
        codes, unique_keys = arr.encode(keyed, ("route", "path"))
        cache_key = np.where(cacheable_route, codes, -1).astype(np.int32)
        owner = np.maximum(tables.route_cache_owner[unique_keys["route"].to_numpy()], 0)
        if "extra" in frame.columns:
            invalidate = frame["extra"].str.contains("max-age=0", literal=True).fill_null(False)
            invalidate = invalidate.to_numpy()
    auth_key = np.full(n, -1, np.int32)
    authorizer = tables.route_authorizer[route]
    if (authorizer >= 0).any():
        auth_key = _identity_codes(frame, authorizer)

    quota_window = np.zeros(n, np.int64)
    if len(tables.quota_limit):
        quota = tables.profile_quota[profile]
        period = np.where(quota >= 0, tables.quota_period[np.maximum(quota, 0)], 0)
        quota_window = arr.quota_windows(t_ms, period)

    fixed_status = np.where(fixed, status, 0).astype(np.int16)
    out = (
        np.zeros(n, np.int16),
        np.zeros(n, np.int8),
        np.zeros(n, np.int8),
        np.zeros(n, np.int8),
        np.zeros(n, np.bool_),
        np.zeros(n, np.bool_),
        np.zeros(n, np.float64),
    )
    replay_kernel(
        (t_ms, profile, quota_window, route, cache_key, auth_key, canary, invalidate),
        (fixed_status, recorded_type, int_status, int_type, int_latency, response_bytes,
         overhead, auth_latency),
        (tables.profile_buckets, tables.profile_quota, tables.bucket_rate_per_ms,
         tables.bucket_burst, tables.quota_limit, tables.quota_offset),
        (tables.route_timeout_ms, tables.route_cache_ttl_ms, tables.route_cc_rule,
         tables.route_auth_ttl_ms, tables.route_canary_uses_cache, tables.cacheable_status_max),
        new_cache(owner, max(len(tables.cache_capacity_bytes), 1)),
        tables.cache_capacity_bytes,
        np.zeros(int(auth_key.max(initial=-1)) + 1, np.int64),
        out,
    )  # fmt: skip
    return Simulation(
        arrivals=frame, t_ms=t_ms, observed_called=called, observed_hit=observed_hit,
        status=out[0], response_type=out[1], response_types=vocabulary, layer=out[2],
        cache_result=out[3], integration_called=out[4], authorizer_called=out[5],
        latency_ms=out[6], drawn=drawn, canary=canary, tables=tables,
    )  # fmt: skip
