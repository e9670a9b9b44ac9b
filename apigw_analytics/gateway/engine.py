"""Run recorded arrivals through the policy core: prepare the kernel inputs, run, keep outputs.

`simulate` takes a polars frame of access requests (any order; it sorts by time) and a
configuration and returns one predicted outcome per arrival as arrays, in time order.
`simulate_columns` does the same for arrivals already read into compact columns, the form the
replay reads the warehouse into (`arrivals.read_batches`).
Everything per request is a vectorised numpy/Arrow pass or a compiled loop (`kernels.py`,
`arrivals.py`); Python loops only run over the distinct routes and clients (`tables.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
from numba import njit

from apigw_analytics.gateway import arrivals as arr
from apigw_analytics.gateway.config import GatewayConfig
from apigw_analytics.gateway.kernels import new_cache, replay_kernel
from apigw_analytics.gateway.policy import MODEL_RESPONSE_TYPES
from apigw_analytics.gateway.tables import PolicyTables, build_tables

_CANARY_STREAM = 1
_DRAW_STREAM = 2
_IDENTITY_COLUMNS = ("authorizer_principal_id", "api_key_id", "source_ip")


@dataclass
class Simulation:
    """Arrivals (time-sorted) and the model's outcome for each, as aligned arrays.

    `columns` holds the arrivals as the model read them; `arrivals` is them as a polars frame
    (the frame given to `simulate`, else decoded on first use only: the replay never needs it).
    """

    columns: arr.ArrivalColumns
    frame: pl.DataFrame | None
    t_ms: np.ndarray
    observed_status: np.ndarray
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
    route: np.ndarray
    routes: pl.DataFrame
    tables: PolicyTables

    @cached_property
    def arrivals(self) -> pl.DataFrame:
        return self.frame if self.frame is not None else self.columns.to_frame()


def simulate(frame: pl.DataFrame, config: GatewayConfig) -> Simulation:
    """Predict the outcome of every recorded arrival under `config` (deterministic per seed)."""
    frame = frame.filter(pl.col("requested_at").is_not_null())
    t_ms = frame["requested_at"].dt.epoch("ms").to_numpy()
    if not arr.is_sorted(t_ms):
        frame = frame[np.argsort(t_ms, kind="stable")]
    table = frame.select(c for c in needed_columns(config) if c in frame.columns).to_arrow()
    columns = arr.read_batches(table.to_batches(), table.num_rows, cache_control=_caching(config))
    return simulate_columns(columns, config, frame=frame)


def needed_columns(config: GatewayConfig) -> list[str]:
    """The access-request columns the model reads under `config`: the cache key and the
    `Cache-Control` header (in `extra`) only with a stage cache, the identity columns only with
    an authorizer."""
    skipped = {"request_id", "extended_request_id", "path", "authorizer_principal_id", "source_ip"}
    if _caching(config):
        skipped.remove("path")
    if any(method.authorizer_id for method in config.methods.values()):
        skipped.difference_update(("authorizer_principal_id", "source_ip"))
    columns = [name for name in arr.ARRIVAL_COLUMNS if name not in skipped]
    return [*columns, "extra"] if "path" in columns else columns


def _caching(config: GatewayConfig) -> bool:
    return any(stage.cache_cluster_enabled for stage in config.stages)


def _response_type_codes(coded: arr.Coded) -> tuple[np.ndarray, list[str | None]]:
    """Codes of recorded gateway response types in a vocabulary that starts with the model's own
    (policy.MODEL_RESPONSE_TYPES) and goes on with the recorded ones, sorted; null → 0."""
    vocabulary: list[str | None] = list(MODEL_RESPONSE_TYPES)
    known = set(vocabulary)
    vocabulary.extend(sorted(v for v in coded.values if v is not None and v not in known))
    position = {name: code for code, name in enumerate(vocabulary) if name is not None}
    lookup = np.array([position.get(v, 0) if v is not None else 0 for v in coded.values], np.int8)
    return lookup[coded.codes], vocabulary


def _identity_codes(columns: arr.ArrivalColumns, authorizer: np.ndarray) -> np.ndarray:
    """Code of (authorizer, identity) per row, identity = principal, else API key, else IP."""
    coded = [columns.string(name) for name in _IDENTITY_COLUMNS]
    vocabulary = sorted({v for c in coded for v in c.values if v is not None})
    position = {value: code for code, value in enumerate(vocabulary)}
    missing = len(vocabulary)
    identity = np.full(len(authorizer), missing, np.int64)
    for c in reversed(coded):
        lookup = np.array([position.get(v, missing) if v is not None else -1 for v in c.values])
        mapped = lookup[c.codes]
        identity = np.where(mapped >= 0, mapped, identity)
    codes, _, _ = arr.pair_codes(
        np.maximum(authorizer, 0).astype(np.int32),
        int(authorizer.max(initial=0)) + 1,
        identity.astype(np.int32),
        missing + 1,
    )
    return np.where(authorizer >= 0, codes, -1).astype(np.int32)


@njit(cache=True)
def _observed(status, int_latency_ms, route, route_cacheable):
    """What the recording says per arrival, in one pass: whether the integration was called,
    whether the response was a cache hit, the status the model keeps (rejections it does not
    model) and which rows need a drawn integration outcome (429s and cache hits). A 504 without
    an integration latency is a timeout whose true latency is unknown: it becomes infinite
    (policy.py, step 6)."""
    n = len(status)
    called = np.empty(n, np.bool_)
    hit = np.empty(n, np.bool_)
    fixed_status = np.zeros(n, np.int16)
    needy_count = 0
    for i in range(n):
        s = status[i]
        was_called = not np.isnan(int_latency_ms[i])
        called[i] = was_called
        hit[i] = 0 < s < 400 and not was_called and route_cacheable[route[i]]
        if s == 429 or hit[i]:
            needy_count += 1
        elif not was_called and s == 504:
            int_latency_ms[i] = np.inf
        elif not was_called:
            fixed_status[i] = s
    needy = np.empty(needy_count, np.int64)
    j = 0
    for i in range(n):
        if status[i] == 429 or hit[i]:
            needy[j] = i
            j += 1
    return called, hit, fixed_status, needy


@njit(cache=True)
def _overhead(latency_ms, int_latency_ms, called, auth_latency_ms):
    """Gateway overhead per arrival: latency less the integration's (when it was called) and
    the authorizer's; NaN when the latency was not recorded."""
    overhead_ms = np.empty(len(latency_ms), np.float64)
    unknown = 0
    for i in range(len(latency_ms)):
        integration_ms = int_latency_ms[i] if called[i] else 0.0
        overhead_ms[i] = latency_ms[i] - integration_ms - auth_latency_ms[i]
        unknown += np.isnan(overhead_ms[i])
    return overhead_ms, unknown


@njit(cache=True)
def _known_overhead(overhead_ms, medians, route):
    """Recorded overhead (never negative), else the route's median (in place)."""
    for i in range(len(overhead_ms)):
        if np.isnan(overhead_ms[i]):
            overhead_ms[i] = medians[route[i]]
        elif overhead_ms[i] < 0.0:
            overhead_ms[i] = 0.0


def simulate_columns(
    columns: arr.ArrivalColumns, config: GatewayConfig, *, frame: pl.DataFrame | None = None
) -> Simulation:
    """`simulate` for arrivals already read into columns (the replay's way in); `frame`, when
    given, is the same arrivals as a time-sorted polars frame."""
    columns = columns.sorted_by_time()
    n = len(columns)
    t_ms = columns.t_ms
    route, routes = arr.encode({name: columns.string(name) for name in arr.ROUTE_COLUMNS}, n)
    route_stage, _ = arr.encode(
        {name: _series_codes(routes[name]) for name in ("api_id", "stage")}, routes.height
    )
    api_key = columns.string("api_key_id")
    profile, route_of_profile, key_of_profile = arr.pair_codes(
        route, routes.height, api_key.codes, api_key.radix
    )
    profiles = pl.DataFrame(
        {
            "route": route_of_profile,
            "api_key_id": pl.Series(
                [api_key.values[k] for k in key_of_profile.tolist()], dtype=pl.String
            ),
        }
    )
    tables = build_tables(config, routes, profiles)
    seed = config.model.seed

    status = columns.number("status")
    int_latency = columns.number("integration_latency_ms").copy()
    route_cacheable = tables.route_cache_ttl_ms > 0
    called, observed_hit, fixed_status, needy = _observed(
        status, int_latency, route, route_cacheable
    )
    recorded_type, vocabulary = _response_type_codes(columns.string("error_response_type"))
    response_bytes = columns.number("response_bytes").copy()

    draw_rng = np.random.default_rng([seed, _DRAW_STREAM])
    donor = arr.draw_donors(called, route, route_stage, needy, draw_rng)
    drawn = np.zeros(n, np.bool_)
    drawn[needy[donor >= 0]] = True
    int_status = status.copy()
    int_type = recorded_type.copy()
    took = donor >= 0
    rows, sources = needy[took], donor[took]
    int_status[rows], int_type[rows] = status[sources], recorded_type[sources]
    int_latency[rows] = int_latency[sources]
    from_throttled = status[rows] == 429
    response_bytes[rows[from_throttled]] = response_bytes[sources[from_throttled]]
    no_donor = needy[~took]
    int_latency[no_donor] = 0.0
    int_status[no_donor] = np.where(status[no_donor] == 429, 200, status[no_donor])

    auth_latency = columns.number("authorizer_latency_ms")
    overhead, unknown = _overhead(columns.number("latency_ms"), int_latency, called, auth_latency)
    medians = np.zeros(routes.height, np.float64)
    if unknown:
        medians = arr.route_medians(overhead, route, routes.height)
    _known_overhead(overhead, medians, route)

    canary = np.zeros(n, np.bool_)
    if tables.route_canary_percent.any():
        u = np.random.default_rng([seed, _CANARY_STREAM]).random(n)
        canary = u * 100.0 < tables.route_canary_percent[route]

    cache_key = np.full(n, -1, np.int32)
    owner = np.zeros(0, np.int64)
    if route_cacheable.any():
        path = columns.string("path")
        codes, key_route, _ = arr.pair_codes(route, routes.height, path.codes, path.radix)
        cache_key = np.where(route_cacheable[route], codes, -1).astype(np.int32)
        owner = np.maximum(tables.route_cache_owner[key_route], 0).astype(np.int64)
    entries, stores = new_cache(owner, tables.cache_capacity_bytes)
    auth_key = np.full(n, -1, np.int32)
    authorizer = tables.route_authorizer[route]
    if (authorizer >= 0).any():
        auth_key = _identity_codes(columns, authorizer)

    out_status = np.zeros(n, np.int16)
    out_type = np.zeros(n, np.int8)
    layer = np.zeros(n, np.int8)
    cache_result = np.zeros(n, np.int8)
    integration_called = np.zeros(n, np.bool_)
    authorizer_called = np.zeros(n, np.bool_)
    latency_ms = np.zeros(n, np.float64)
    replay_kernel(
        t_ms, profile, route, cache_key, auth_key, canary, columns.invalidate,
        fixed_status, recorded_type, int_status, int_type, int_latency, response_bytes,
        overhead, auth_latency,
        tables.profile_buckets, tables.profile_quota, tables.bucket_rate_per_ms,
        tables.bucket_burst, tables.quota_limit, tables.quota_offset,
        tables.quota_period.astype(np.int64),
        tables.route_timeout_ms, tables.route_cache_ttl_ms, tables.route_cc_rule,
        tables.route_auth_ttl_ms, tables.route_canary_uses_cache, tables.cacheable_status_max,
        entries, stores, np.zeros(int(auth_key.max(initial=-1)) + 1, np.int64),
        out_status, out_type, layer, cache_result, integration_called, authorizer_called,
        latency_ms,
    )  # fmt: skip
    return Simulation(
        columns=columns, frame=frame, t_ms=t_ms, observed_status=status, observed_called=called,
        observed_hit=observed_hit, status=out_status, response_type=out_type,
        response_types=vocabulary, layer=layer, cache_result=cache_result,
        integration_called=integration_called, authorizer_called=authorizer_called,
        latency_ms=latency_ms, drawn=drawn, canary=canary, route=route, routes=routes,
        tables=tables,
    )  # fmt: skip


def _series_codes(series: pl.Series) -> arr.Coded:
    """Codes of a (small) polars string series."""
    values = series.to_list()
    position: dict[str | None, int] = {}
    codes = np.array([position.setdefault(v, len(position)) for v in values], np.int32)
    return arr.Coded(codes, list(position))
