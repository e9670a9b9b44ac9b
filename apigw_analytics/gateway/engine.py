"""Run recorded arrivals through the policy core: prepare the kernel inputs, run, keep outputs.

`simulate` takes a polars frame of access requests (any order; it sorts by time) and a
configuration and returns one predicted outcome per arrival as arrays, in time order.
`simulate_columns` does the same for arrivals already read into compact columns, the form the
replay reads the warehouse into (`arrival_reader.read_batches`).
Everything per request is a vectorised numpy/Arrow pass or a compiled loop (`kernels.py`,
`arrival_reader.py`, `combinations.py`, `donors.py`); Python loops only run over the distinct
routes and clients (`tables.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
from numba import njit

from apigw_analytics.gateway import arrivals as arr
from apigw_analytics.gateway.arrival_reader import read_batches
from apigw_analytics.gateway.combinations import encode, pair_codes
from apigw_analytics.gateway.config import GatewayConfig
from apigw_analytics.gateway.donors import draw_donors, route_medians
from apigw_analytics.gateway.kernels import new_cache, new_limits, overhead_ms, replay_kernel
from apigw_analytics.gateway.policy import MODEL_RESPONSE_TYPES
from apigw_analytics.gateway.tables import PolicyTables, build_tables

try:
    from numpy._core.multiarray import _set_madvise_hugepage
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import _set_madvise_hugepage

_CANARY_STREAM = 1
_DRAW_STREAM = 2
_IDENTITY_COLUMNS = ("authorizer_principal_id", "api_key_id", "source_ip")
# An input the kernel does not use in a replay is passed as an empty array of its type.
_NONE_BOOL = np.zeros(0, np.bool_)
_NONE_I32 = np.zeros(0, np.int32)
_NONE_I64 = np.zeros(0, np.int64)
_NONE_F64 = np.zeros(0, np.float64)


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

    @cached_property
    def observed_called(self) -> np.ndarray:
        """Whether the recording shows the integration called (its latency recorded)."""
        return ~np.isnan(self.columns.number("integration_latency_ms"))


@contextmanager
def small_pages() -> Iterator[None]:
    """Large NumPy arrays made inside use the kernel's ordinary pages.

    NumPy advises the kernel to back large arrays with huge pages; where the kernel compacts
    memory to find them (transparent huge pages with defrag=madvise), the first touch of each
    one stalls: measured 2.4 s of system time per GB of fresh arrays, against 0.4 s with
    ordinary pages. A replay's arrays are large, written once and short-lived, so the advice is
    turned off while it runs, and restored after.
    """
    previous = _set_madvise_hugepage(False)
    try:
        yield
    finally:
        _set_madvise_hugepage(previous)


def simulate(frame: pl.DataFrame, config: GatewayConfig) -> Simulation:
    """Predict the outcome of every recorded arrival under `config` (deterministic per seed)."""
    with small_pages():
        return _simulate_frame(frame, config)


def _simulate_frame(frame: pl.DataFrame, config: GatewayConfig) -> Simulation:
    frame = frame.filter(pl.col("requested_at").is_not_null())
    t_ms = frame["requested_at"].dt.epoch("ms").to_numpy()
    if not arr.is_sorted(t_ms):
        frame = frame[np.argsort(t_ms, kind="stable")]
    table = frame.select(c for c in needed_columns(config) if c in frame.columns).to_arrow()
    columns = read_batches(table.to_batches(), table.num_rows, cache_control=_caching(config))
    return simulate_columns(columns, config, frame=frame)


def needed_columns(config: GatewayConfig) -> list[str]:
    """The access-request columns the model reads under `config`: the cache key and the
    `Cache-Control` header (in `extra`) only with a stage cache, the identity columns only with
    an authorizer, the request ids only with a canary (its split hashes them)."""
    skipped = {"request_id", "extended_request_id", "path", "authorizer_principal_id", "source_ip"}
    if _caching(config):
        skipped.remove("path")
    if any(method.authorizer_id for method in config.methods.values()):
        skipped.difference_update(("authorizer_principal_id", "source_ip"))
    if any(stage.canary and stage.canary.percent_traffic > 0 for stage in config.stages):
        skipped.difference_update(("request_id", "extended_request_id"))
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
    return np.take(lookup, coded.codes), vocabulary


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
    codes, _, _ = pair_codes(
        np.maximum(authorizer, 0).astype(np.int32),
        int(authorizer.max(initial=0)) + 1,
        identity.astype(np.int32),
        missing + 1,
    )
    return np.where(authorizer >= 0, codes, -1).astype(np.int32)


@njit(cache=True, nogil=True)
def _observed(status, int_latency_ms, latency_ms, route, routes):
    """Recorded integration calls per route; the rows that may need a drawn integration outcome
    (429s, and answers below 400 without an integration call: the cache hits among them, on
    routes the configuration caches, do; policy.py step 6); whether any latency is missing."""
    calls = np.zeros(routes, np.int64)
    candidates = 0
    unknown = False
    for i in range(len(status)):
        s = status[i]
        called = not np.isnan(int_latency_ms[i])
        calls[route[i]] += called
        candidates += s == 429 or (0 < s < 400 and not called)
        unknown |= np.isnan(latency_ms[i])
    rows = np.empty(candidates, np.int64)
    j = 0
    for i in range(len(status)):
        s = status[i]
        if s == 429 or (0 < s < 400 and np.isnan(int_latency_ms[i])):
            rows[j] = i
            j += 1
    return rows, calls, unknown


@njit(cache=True)
def _overheads(latency_ms, int_latency_ms, auth_latency_ms, needy, donor):
    """Recorded gateway overhead per arrival (NaN where the latency is missing), for the
    routes' medians: a called 429 counts its drawn integration latency, as in the kernel."""
    values = np.empty(len(latency_ms), np.float64)
    j = 0
    for i in range(len(latency_ms)):
        integration_ms = int_latency_ms[i]
        if j < len(needy) and needy[j] == i:
            integration_ms = int_latency_ms[donor[j]] if donor[j] >= 0 else 0.0
            j += 1
        if np.isnan(int_latency_ms[i]):
            integration_ms = 0.0
        auth_ms = auth_latency_ms[i] if len(auth_latency_ms) else 0.0
        values[i] = overhead_ms(latency_ms[i], integration_ms, auth_ms)
    return values


def _drawn(
    needy: np.ndarray, donor: np.ndarray, status: np.ndarray, recorded_type: np.ndarray,
    int_latency_ms: np.ndarray, response_bytes: np.ndarray,
) -> tuple[np.ndarray, ...]:  # fmt: skip
    """The needy rows that have a donor, and the donor's recorded status, response type,
    integration latency and (with a cache) response size: gathered here in one go, where the
    random reads overlap, rather than one by one in the kernel's loop."""
    has_donor = donor >= 0
    rows, donor = needy[has_donor], donor[has_donor]
    sizes = np.take(response_bytes, donor) if len(response_bytes) else response_bytes
    return (
        rows,
        np.take(status, donor),
        np.take(recorded_type, donor),
        np.take(int_latency_ms, donor),
        sizes,
    )


def canary_draws(columns: arr.ArrivalColumns, seed: int) -> np.ndarray:
    """A uniform draw in [0, 1) per arrival for the canary split: its request key hashed with
    the seed, so whether a request went to the canary does not depend on the other arrivals
    (how many, in what order, at what time resolution they were logged). Arrivals with no
    request id draw from the seeded generator by position."""
    n = len(columns)
    ids = [
        pl.Series(name, columns.request_ids[name].combine_chunks())
        for name in ("extended_request_id", "request_id")
        if name in columns.request_ids
    ]
    by_position = np.random.default_rng([seed, _CANARY_STREAM]).random(n)
    if not ids:
        return by_position
    hashed = pl.select(pl.coalesce(ids).hash(seed)).to_series().to_numpy()
    draws = hashed.astype(np.float64) / 2.0**64
    has_id = pl.select(pl.coalesce(ids).is_not_null()).to_series().to_numpy()
    return np.where(has_id, draws, by_position)


def simulate_columns(
    columns: arr.ArrivalColumns,
    config: GatewayConfig,
    *,
    frame: pl.DataFrame | None = None,
    chunk_rows: int | None = None,
    on_chunk: Callable[[Simulation, int, int], None] | None = None,
) -> Simulation:
    """`simulate` for arrivals already read into columns (the replay's way in); `frame`, when
    given, is the same arrivals as a time-sorted polars frame.

    With `chunk_rows`, the model runs that many arrivals at a time, its state (buckets, quotas,
    caches) carried over, so the outcomes are the same; `on_chunk(sim, start, stop)` is called
    once rows `start` to `stop` have theirs (the replay writes them while the next chunk runs).
    """
    columns = columns.sorted_by_time()
    n = len(columns)
    t_ms = columns.t_ms
    route, routes = encode({name: columns.string(name) for name in arr.ROUTE_COLUMNS}, n)
    route_stage, _ = encode(
        {name: _series_codes(routes[name]) for name in ("api_id", "stage")}, routes.height
    )
    api_key = columns.string("api_key_id")
    status = columns.number("status")
    int_latency = columns.number("integration_latency_ms")
    latency = columns.number("latency_ms")
    with ThreadPoolExecutor(1) as helper:  # passes that need only the routes run beside
        profiled = helper.submit(pair_codes, route, routes.height, api_key.codes, api_key.radix)
        path = columns.strings.get("path")  # read when the configuration caches
        keyed = None
        if path is not None:
            keyed = helper.submit(pair_codes, route, routes.height, path.codes, path.radix)
        typed = helper.submit(_response_type_codes, columns.string("error_response_type"))
        candidates, route_calls, unknown = _observed(
            status, int_latency, latency, route, routes.height
        )
        profile, route_of_profile, key_of_profile = profiled.result()
        recorded_type, vocabulary = typed.result()
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

    auth_latency = columns.numbers.get("authorizer_latency_ms", _NONE_F64)
    route_cacheable = tables.route_cache_ttl_ms > 0
    needy = candidates[(status[candidates] == 429) | route_cacheable[route[candidates]]]
    draw_rng = np.random.default_rng([seed, _DRAW_STREAM])
    donor = draw_donors(int_latency, route, route_stage, route_calls, needy, draw_rng)
    medians = np.zeros(routes.height, np.float64)
    if unknown:
        overheads = _overheads(latency, int_latency, auth_latency, needy, donor)
        medians = route_medians(overheads, route, routes.height)

    canary = _NONE_BOOL
    if tables.route_canary_percent.any():
        canary = canary_draws(columns, seed) * 100.0 < tables.route_canary_percent[route]
    cache_key, invalidate, response_bytes = _NONE_I32, _NONE_BOOL, _NONE_I64
    owner = np.zeros(0, np.int64)
    if route_cacheable.any():
        path = columns.string("path")
        if keyed is not None:
            cache_key, key_route, _ = keyed.result()
        else:
            cache_key, key_route, _ = pair_codes(route, routes.height, path.codes, path.radix)
        owner = np.maximum(tables.route_cache_owner[key_route], 0).astype(np.int64)
        invalidate = columns.invalidate
        response_bytes = columns.number("response_bytes")
    auth_key = _NONE_I32
    if (tables.route_authorizer >= 0).any():
        auth_key = _identity_codes(columns, tables.route_authorizer[route])
        if len(auth_latency) == 0:
            auth_latency = np.zeros(n, np.float64)

    outcome = {
        name: np.zeros(n, dtype)
        for name, dtype in (
            ("status", np.int16), ("type", np.int8), ("layer", np.int8), ("cache", np.int8),
            ("integration", np.bool_), ("authorizer", np.bool_), ("latency", np.float64),
            ("hit", np.bool_), ("drawn", np.bool_),
        )
    }  # fmt: skip
    sim = Simulation(
        columns=columns, frame=frame, t_ms=t_ms, observed_status=status,
        observed_hit=outcome["hit"], status=outcome["status"],
        response_type=outcome["type"], response_types=vocabulary, layer=outcome["layer"],
        cache_result=outcome["cache"], integration_called=outcome["integration"],
        authorizer_called=outcome["authorizer"], latency_ms=outcome["latency"],
        drawn=outcome["drawn"], canary=canary if len(canary) else np.zeros(n, np.bool_),
        route=route, routes=routes, tables=tables,
    )  # fmt: skip
    inputs = (
        t_ms, profile, route, status, recorded_type, int_latency, latency,
        *_drawn(needy, donor, status, recorded_type, int_latency, response_bytes),
        cache_key, canary, invalidate, response_bytes, auth_key, auth_latency,
        route_cacheable, medians, tables.route_timeout_ms, tables.route_cache_ttl_ms,
        tables.route_cc_rule, tables.route_auth_ttl_ms, tables.route_canary_uses_cache,
        tables.cacheable_status_max,
        tables.profile_buckets, tables.profile_quota, tables.bucket_rate_per_ms,
        tables.bucket_burst, tables.quota_limit, tables.quota_offset,
        tables.quota_period.astype(np.int64),
    )  # fmt: skip
    state = (
        *new_limits(tables.bucket_burst, len(tables.quota_limit), t_ms[0] if n else 0),
        *new_cache(owner, tables.cache_capacity_bytes),
        np.zeros(int(auth_key.max(initial=-1)) + 1, np.int64),
    )
    step = max(1, chunk_rows or n)
    for start in range(0, n, step):
        stop = min(n, start + step)
        replay_kernel(start, stop, *inputs, *state, *outcome.values())
        if on_chunk is not None:
            on_chunk(sim, start, stop)
    return sim


def _series_codes(series: pl.Series) -> arr.Coded:
    """Codes of a (small) polars string series."""
    values = series.to_list()
    position: dict[str | None, int] = {}
    codes = np.array([position.setdefault(v, len(position)) for v in values], np.int32)
    return arr.Coded(codes, list(position))
