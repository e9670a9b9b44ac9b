"""Synthetic arrivals: who calls which route when, and what the backend would do with each call.

Arrival times form a Poisson process whose rate follows the day (a sinusoid peaking at 15:00
UTC, `diurnal_amplitude` deep), drawn by thinning, plus the scenario's bursts as homogeneous
processes over their windows. Clients, paths and routes are Zipf-distributed (a few clients and
items take most of the traffic, as in real APIs). Times are whole milliseconds and made distinct
where the rate allows it (< 1 per ms): the access log's `requestTimeEpoch` has millisecond
resolution, so two arrivals in one millisecond could not be put back in order by a reader.

The backend's answer to each request is drawn here, independently of the gateway: its latency
(lognormal per route), and whether the function fails, times out on its own, returns a malformed
proxy response or is throttled by Lambda. The gateway model decides later whether the backend is
called at all (throttle, cache) and whether the answer arrives in time (integration timeout).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
from numba import njit

from apigw_analytics.generate.scenarios import Api, Backend, Route, Scenario, route_label

_DAY_S = 86_400.0
_PEAK_HOUR_UTC = 15.0
_USER_AGENTS = (
    "shop-web/4.2 (+https://example.com)",
    "shop-ios/3.9.1 CFNetwork/1490",
    "shop-android/3.9.0 okhttp/4.12.0",
    "python-requests/2.32.3",
    "partner-sync/1.4",
)

# Backend outcome codes (the integration's answer, before the gateway's timeout).
BACKEND_OK = 0
BACKEND_FUNCTION_ERROR = 1
BACKEND_FUNCTION_TIMEOUT = 2
BACKEND_MALFORMED = 3
BACKEND_LAMBDA_THROTTLED = 4
BACKEND_5XX = 5
BACKEND_OUTCOMES = (
    "ok", "lambda_function_error", "lambda_function_timeout", "malformed_proxy_response",
    "lambda_throttled", "backend_5xx_passed_through",
)  # fmt: skip
_BACKEND_STATUS = np.array([200, 502, 502, 502, 500, 503], np.int16)
_GUIDE_BUCKETS = 4096


def _rate_factor(t_s: np.ndarray, start_s: float, amplitude: float) -> np.ndarray:
    """Relative arrival rate at times `t_s` (from the start) for a diurnal amplitude in [0, 1]."""
    hour = ((start_s + t_s) % _DAY_S) / 3600.0
    return 1.0 + amplitude * np.cos(2 * np.pi * (hour - _PEAK_HOUR_UTC) / 24.0)


def arrival_times_ms(
    rng: np.random.Generator, duration_s: float, rps: float, start_s: float, amplitude: float
) -> np.ndarray:
    """Times (ms from the start) of a Poisson process with a diurnal rate, by thinning."""
    peak = rps * (1.0 + amplitude)
    count = rng.poisson(peak * duration_s)
    t_s = rng.random(count) * duration_s
    keep = rng.random(count) * (1.0 + amplitude) < _rate_factor(t_s, start_s, amplitude)
    return np.sort((t_s[keep] * 1000.0).astype(np.int64))


def distinct_ms(t_ms: np.ndarray) -> np.ndarray:
    """Sorted times moved forward by whole ms until no two share one (bounded effort)."""
    t_ms = np.sort(t_ms)
    for _ in range(64):
        clash = np.flatnonzero(t_ms[1:] <= t_ms[:-1]) + 1
        if not len(clash):
            break
        t_ms[clash] = t_ms[clash - 1] + 1
    return t_ms


def zipf_choice(rng: np.random.Generator, size: int, n: int, exponent: float) -> np.ndarray:
    """`size` draws of 0..n-1 with P(k) proportional to 1/(k+1)^exponent."""
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    cumulative = np.cumsum(weights / weights.sum())
    u = rng.random(size)
    buckets = _GUIDE_BUCKETS
    guide = np.searchsorted(cumulative, np.arange(buckets) / buckets)
    out = np.empty(size, np.int64)
    _inverse_cdf(cumulative, u, np.minimum(guide, n - 1), out)
    return out


@njit(nogil=True, cache=True)
def _inverse_cdf(cumulative, u, guide, out):
    """out[i] = min(first k with cumulative[k] >= u[i], n - 1), as `np.searchsorted` would
    find it, but started from the guide table's entry for u's bucket (the first k whose
    cumulative reaches the bucket's lower edge), so each draw takes a step or two rather than a
    binary search."""
    buckets = len(guide)
    last = len(cumulative) - 1
    for i in range(len(u)):
        k = guide[min(int(u[i] * buckets), buckets - 1)]
        while k < last and cumulative[k] < u[i]:
            k += 1
        out[i] = k


EVENT_TYPES = ("MESSAGE", "CONNECT", "DISCONNECT")
EVENT_MESSAGE, EVENT_CONNECT, EVENT_DISCONNECT = 0, 1, 2


@dataclass
class Arrivals:
    """Arrivals in time order as aligned arrays: `arrival_ms`, `route_index`, `client`,
    `connection` (-1: none) and `event` (a code into EVENT_TYPES, -1 for a non-WebSocket
    request); `connection_ids[k]` is the id of connection k."""

    columns: dict[str, np.ndarray]
    connection_ids: list[str]


def client_fields(scenario: Scenario) -> dict[str, list[str | None]]:
    """The client population: per client, its address, user agent, API key and principal."""
    n = scenario.traffic.clients
    keys = scenario.api_keys or (None,)
    return {
        "source_ip": [f"198.51.{100 + i // 250}.{i % 250 + 1}" for i in range(n)],
        "user_agent": [_USER_AGENTS[i % len(_USER_AGENTS)] for i in range(n)],
        "api_key_id": [keys[i % len(keys)] for i in range(n)],
        "authorizer_principal_id": [f"user-{i:04d}" for i in range(n)],
    }


def route_fields(scenario: Scenario) -> dict[str, list[str | None]]:
    """Per route: where it lives and how it is addressed in logs."""
    fields: dict[str, list[str | None]] = {
        name: []
        for name in (
            "api_name", "api_id", "api_type", "stage", "domain_name", "http_method",
            "resource_path", "route_key",
        )
    }  # fmt: skip
    for route in scenario.routes:
        api = scenario.api(route.api)
        fields["api_name"].append(api.name)
        fields["api_id"].append(api.api_id)
        fields["api_type"].append(api.api_type)
        fields["stage"].append(api.stage)
        fields["domain_name"].append(api.domain_name)
        fields["http_method"].append(route.method if api.api_type != "websocket" else None)
        fields["resource_path"].append(route.resource if api.api_type == "rest" else None)
        fields["route_key"].append(_route_key(api, route))
    return fields


def requires_key(scenario: Scenario) -> np.ndarray:
    """Per route, whether its method requires an API key (the key is logged only then)."""
    return np.array(
        [_requires_key(scenario, scenario.api(r.api), r) for r in scenario.routes], np.bool_
    )


def _route_key(api: Api, route: Route) -> str | None:
    if api.api_type == "http":
        return f"{route.method} {route.resource}"
    if api.api_type == "websocket":
        return route.resource
    return None


def _requires_key(scenario: Scenario, api: Api, route: Route) -> bool:
    if api.api_type != "rest":
        return False
    method = scenario.config.get("methods", {}).get(f"{route.resource}/{route.method}", {})
    return bool(method.get("apiKeyRequired", False))


def _path_template(scenario: Scenario, route: Route) -> str | None:
    """The request path as logged: on the default execute-api endpoint it starts with the
    stage (HTTP's `$default` stage adds nothing); WebSocket messages have no path."""
    api = scenario.api(route.api)
    if api.api_type == "websocket":
        return None
    return ("" if api.stage == "$default" else f"/{api.stage}") + route.resource


def base_arrivals(
    scenario: Scenario, duration_s: float, rps: float, rng: np.random.Generator
) -> Arrivals:
    """Arrival time, route and client of every request, base traffic and bursts together."""
    traffic = scenario.traffic
    start_s = scenario.start.timestamp()
    t_ms = arrival_times_ms(rng, duration_s, rps, start_s, traffic.diurnal_amplitude)
    weights = np.array([r.weight for r in scenario.routes], np.float64)
    route_index = rng.choice(len(weights), size=len(t_ms), p=weights / weights.sum())
    client = zipf_choice(rng, len(t_ms), traffic.clients, traffic.client_zipf_exponent)
    parts = [(t_ms, route_index, client)]
    labels = [route_label(r) for r in scenario.routes]
    keys = scenario.api_keys or (None,)
    for burst in traffic.bursts:
        if burst.start_s >= duration_s:
            continue
        span_s = min(burst.duration_s, duration_s - burst.start_s)
        count = rng.poisson(burst.rate_rps * span_s)
        burst_ms = ((burst.start_s + rng.random(count) * span_s) * 1000.0).astype(np.int64)
        if burst.api_key is None:
            burst_client = zipf_choice(rng, count, traffic.clients, traffic.client_zipf_exponent)
        else:
            burst_client = np.full(count, keys.index(burst.api_key), np.int64)
        parts.append((burst_ms, np.full(count, labels.index(burst.route)), burst_client))
    t_all = np.concatenate([p[0] for p in parts]) + int(start_s * 1000)
    order = np.argsort(t_all, kind="stable")
    columns = {
        "arrival_ms": distinct_ms(t_all[order]),
        "route_index": np.concatenate([p[1] for p in parts])[order].astype(np.int64),
        "client": np.concatenate([p[2] for p in parts])[order].astype(np.int64),
    }
    return _with_connections(scenario, columns, rng)


def _with_connections(
    scenario: Scenario, columns: dict[str, np.ndarray], rng: np.random.Generator
) -> Arrivals:
    """WebSocket messages grouped into connections, each opened by a `$connect` just before its
    first message and closed by a `$disconnect` just after its last."""
    n = len(columns["arrival_ms"])
    ws_routes = [
        i for i, r in enumerate(scenario.routes) if scenario.api(r.api).api_type == "websocket"
    ]
    is_message = np.isin(columns["route_index"], ws_routes)
    columns["connection"] = np.full(n, -1, np.int64)
    columns["event"] = np.where(is_message, EVENT_MESSAGE, -1).astype(np.int8)
    if not ws_routes:
        return Arrivals(columns, [])
    per_connection = max(scenario.traffic.websocket_messages_per_connection, 1)
    messages = np.flatnonzero(is_message)
    columns["connection"][messages] = np.arange(len(messages)) // per_connection
    starts = np.arange(0, len(messages), per_connection)
    first = messages[starts]
    last = messages[np.minimum(starts + per_connection - 1, len(messages) - 1)]
    count = len(first)
    ids = base64.urlsafe_b64encode(rng.bytes(12 * count))
    connection_ids = [ids[16 * i : 16 * i + 15].decode() + "=" for i in range(count)]
    opened_ms = columns["arrival_ms"][first] - rng.integers(1, 500, count)
    closed_ms = columns["arrival_ms"][last] + rng.integers(1, 2000, count)
    # Other requests and messages stay in time order; the opens and closes join them.
    edges = {
        "arrival_ms": np.concatenate([opened_ms, closed_ms]),
        "route_index": np.tile(columns["route_index"][first], 2),
        "client": np.tile(columns["client"][first], 2),
        "connection": np.tile(np.arange(count, dtype=np.int64), 2),
        "event": np.repeat(np.array([EVENT_CONNECT, EVENT_DISCONNECT], np.int8), count),
    }
    combined = {name: np.concatenate([columns[name], edges[name]]) for name in columns}
    order = _time_route_client_order(
        combined["arrival_ms"], combined["route_index"], combined["client"]
    )
    combined = take(combined, order)
    combined["arrival_ms"] = distinct_ms(combined["arrival_ms"])
    return Arrivals(combined, connection_ids)


def _time_route_client_order(
    arrival_ms: np.ndarray, route_index: np.ndarray, client: np.ndarray
) -> np.ndarray:
    """The stable sort order by (time, route, client): by time, then only the rows that share
    a millisecond are ordered by route and client (they are few: times are mostly distinct)."""
    order = np.argsort(arrival_ms, kind="stable")
    ordered_ms = arrival_ms[order]
    tie = np.flatnonzero(ordered_ms[1:] == ordered_ms[:-1])
    if len(tie):
        tied = np.zeros(len(order), np.bool_)
        tied[tie] = tied[tie + 1] = True
        slots = np.flatnonzero(tied)
        rows = order[slots]
        order[slots] = rows[np.lexsort((client[rows], route_index[rows], ordered_ms[slots]))]
    return order


def take(columns: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """The given rows of aligned arrays."""
    return {name: values[rows] for name, values in columns.items()}


def rows_by_route(route_index: np.ndarray, routes: int) -> list[np.ndarray]:
    """The rows of each route, ascending (one stable sort, rather than one pass per route)."""
    order = np.argsort(route_index.astype(np.int16 if routes < 2**15 else np.int64), kind="stable")
    bounds = np.searchsorted(route_index[order], np.arange(routes + 1))
    return [order[bounds[r] : bounds[r + 1]] for r in range(routes)]


def backend_answers(
    scenario: Scenario, route_index: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """What each request's backend would answer: latency (ms), outcome code, status, bytes.
    Each route's parameters are gathered per request, so one vectorised pass serves them all."""
    n = len(route_index)
    backends = [route.backend for route in scenario.routes]
    u_latency = rng.standard_normal(n)
    u_outcome = rng.random(n)
    u_bytes = rng.standard_normal(n)

    def per_request(values: list[float]) -> np.ndarray:
        return np.array(values, np.float64)[route_index]

    median_ms = per_request([b.latency_median_ms for b in backends])
    latency = median_ms * np.exp(per_request([b.latency_sigma for b in backends]) * u_latency)
    outcome = _outcomes(backends, route_index, u_outcome)
    timeout_ms = [
        np.inf if b.function_timeout_ms is None else b.function_timeout_ms for b in backends
    ]
    outcome[latency > per_request(timeout_ms)] = BACKEND_FUNCTION_TIMEOUT
    bytes_median = per_request([b.response_bytes_median for b in backends])
    return {
        "backend_latency_ms": np.maximum(np.round(latency), 1.0),
        "backend_outcome": outcome,
        "backend_status": _BACKEND_STATUS[outcome],
        "backend_response_bytes": np.round(bytes_median * np.exp(0.6 * u_bytes)).astype(np.int64),
    }


_FAILURE_KINDS = np.array(
    [BACKEND_FUNCTION_ERROR, BACKEND_MALFORMED, BACKEND_LAMBDA_THROTTLED, BACKEND_5XX, BACKEND_OK],
    np.int8,
)


def _outcomes(backends: list[Backend], route_index: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Failure kinds by their route's shares, stacked on one uniform draw per request: the
    kind is the number of cumulative shares at or below the draw."""
    edges = np.array(
        [
            np.cumsum(
                [
                    b.function_error_share,
                    b.malformed_response_share,
                    b.lambda_throttled_share,
                    b.backend_5xx_share,
                ]
            )
            for b in backends
        ],
        np.float64,
    )
    kind = np.zeros(len(u), np.int8)
    for column in edges.T:
        kind += column[route_index] <= u
    return _FAILURE_KINDS[kind]


def path_items(
    scenario: Scenario, route_rows: list[np.ndarray], n: int, rng: np.random.Generator
) -> np.ndarray:
    """Which of its route's distinct items each of `n` requests asks for: a Zipf draw over the
    route's items (a few items are hot, which is what makes a cache worth having); 0 for a
    route with one path."""
    exponent = scenario.traffic.path_zipf_exponent
    item = np.zeros(n, np.int64)
    for route, rows in zip(scenario.routes, route_rows, strict=True):
        if route.distinct_paths > 1 and len(rows):
            item[rows] = zipf_choice(rng, len(rows), route.distinct_paths, exponent)
    return item


def path_table(scenario: Scenario) -> tuple[list[str | None], np.ndarray, np.ndarray]:
    """Every concrete request path, route by route (the template with `{id}` filled by item
    number + 1000), with each route's first entry and its number of entries (one for a route
    whose template has no `{id}`)."""
    values: list[str | None] = []
    first, count = [], []
    for route in scenario.routes:
        template = _path_template(scenario, route)
        items = route.distinct_paths if template and "{id}" in template else 1
        first.append(len(values))
        count.append(items)
        values += [
            None if template is None else template.replace("{id}", str(1000 + item))
            for item in range(max(items, 1))
        ]
    return values, np.array(first, np.int64), np.array(count, np.int64)
