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

import numpy as np
import polars as pl

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
    return np.minimum(np.searchsorted(cumulative, rng.random(size)), n - 1)


def _clients(scenario: Scenario) -> pl.DataFrame:
    """The client population: address, user agent, API key and authorizer principal."""
    n = scenario.traffic.clients
    index = np.arange(n)
    keys = scenario.api_keys or (None,)
    return pl.DataFrame(
        {
            "client": index,
            "source_ip": [f"198.51.{100 + i // 250}.{i % 250 + 1}" for i in index],
            "user_agent": [_USER_AGENTS[i % len(_USER_AGENTS)] for i in index],
            "client_api_key": [keys[i % len(keys)] for i in index],
            "authorizer_principal_id": [f"user-{i:04d}" for i in index],
        },
        schema_overrides={"client": pl.Int64},
    )


def _route_rows(scenario: Scenario) -> pl.DataFrame:
    """Per route: where it lives and how it is addressed in logs."""
    rows = []
    for index, route in enumerate(scenario.routes):
        api = scenario.api(route.api)
        rows.append(
            {
                "route_index": index,
                "api_name": api.name,
                "api_id": api.api_id,
                "api_type": api.api_type,
                "stage": api.stage,
                "domain_name": api.domain_name,
                "http_method": route.method if api.api_type != "websocket" else None,
                "resource_path": route.resource if api.api_type == "rest" else None,
                "route_key": _route_key(api, route),
                "requires_key": _requires_key(scenario, api, route),
            }
        )
    return pl.DataFrame(rows)


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
) -> pl.DataFrame:
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
    frame = pl.DataFrame(
        {
            "arrival_ms": distinct_ms(t_all[order]),
            "route_index": np.concatenate([p[1] for p in parts])[order].astype(np.int64),
            "client": np.concatenate([p[2] for p in parts])[order].astype(np.int64),
        }
    )
    return _with_connections(scenario, frame, rng)


def _with_connections(
    scenario: Scenario, frame: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """WebSocket messages grouped into connections, each opened by a `$connect` just before its
    first message and closed by a `$disconnect` just after its last."""
    frame = frame.with_columns(
        pl.lit(None, pl.Int64).alias("connection"),
        pl.lit(None, pl.String).alias("connection_id"),
        pl.lit("MESSAGE").alias("event_type"),
    )
    ws_routes = [
        i for i, r in enumerate(scenario.routes) if scenario.api(r.api).api_type == "websocket"
    ]
    if not ws_routes:
        return frame.with_columns(pl.lit(None, pl.String).alias("event_type"))
    per_connection = max(scenario.traffic.websocket_messages_per_connection, 1)
    messages = frame.filter(pl.col("route_index").is_in(ws_routes))
    messages = messages.with_columns((pl.int_range(pl.len()) // per_connection).alias("connection"))
    edges = messages.group_by("connection", maintain_order=True).agg(
        pl.col("arrival_ms").min().alias("first_ms"),
        pl.col("arrival_ms").max().alias("last_ms"),
        pl.col("client").first(),
        pl.col("route_index").first(),
    )
    n = edges.height
    ids = base64.urlsafe_b64encode(rng.bytes(12 * n))
    edges = edges.with_columns(
        pl.Series("connection_id", [ids[16 * i : 16 * i + 15].decode() + "=" for i in range(n)])
    )
    messages = (
        messages.drop("connection_id")
        .join(edges.select("connection", "connection_id"), on="connection", maintain_order="left")
        .select(frame.columns)
    )
    opened = edges.select(
        (pl.col("first_ms") - pl.Series(rng.integers(1, 500, n))).alias("arrival_ms"),
        "route_index", "client", "connection", "connection_id",
        pl.lit("CONNECT").alias("event_type"),
    )  # fmt: skip
    closed = edges.select(
        (pl.col("last_ms") + pl.Series(rng.integers(1, 2000, n))).alias("arrival_ms"),
        "route_index", "client", "connection", "connection_id",
        pl.lit("DISCONNECT").alias("event_type"),
    )  # fmt: skip
    others = frame.filter(~pl.col("route_index").is_in(ws_routes)).with_columns(
        pl.lit(None, pl.String).alias("event_type")
    )
    combined = pl.concat([others, messages, opened, closed], how="vertical_relaxed")
    combined = combined.sort("arrival_ms", "route_index", "client", maintain_order=True)
    return combined.with_columns(
        pl.Series("arrival_ms", distinct_ms(combined["arrival_ms"].to_numpy()))
    )


def backend_answers(
    scenario: Scenario, route_index: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """What each request's backend would answer: latency (ms), outcome code, status, bytes."""
    n = len(route_index)
    latency = np.zeros(n, np.float64)
    outcome = np.full(n, BACKEND_OK, np.int8)
    response_bytes = np.zeros(n, np.int64)
    u_latency = rng.standard_normal(n)
    u_outcome = rng.random(n)
    u_bytes = rng.standard_normal(n)
    for index, route in enumerate(scenario.routes):
        rows = np.flatnonzero(route_index == index)
        if not len(rows):
            continue
        backend = route.backend
        latency[rows] = backend.latency_median_ms * np.exp(backend.latency_sigma * u_latency[rows])
        outcome[rows] = _outcomes(backend, u_outcome[rows])
        if backend.function_timeout_ms is not None:
            timed_out = latency[rows] > backend.function_timeout_ms
            outcome[rows[timed_out]] = BACKEND_FUNCTION_TIMEOUT
        response_bytes[rows] = np.round(
            backend.response_bytes_median * np.exp(0.6 * u_bytes[rows])
        ).astype(np.int64)
    return {
        "backend_latency_ms": np.maximum(np.round(latency), 1.0),
        "backend_outcome": outcome,
        "backend_status": _BACKEND_STATUS[outcome],
        "backend_response_bytes": response_bytes,
    }


def _outcomes(backend: Backend, u: np.ndarray) -> np.ndarray:
    """Failure kinds by their shares, stacked on one uniform draw per request."""
    edges = np.cumsum(
        [
            backend.function_error_share,
            backend.malformed_response_share,
            backend.lambda_throttled_share,
            backend.backend_5xx_share,
        ]
    )
    kinds = np.array(
        [BACKEND_FUNCTION_ERROR, BACKEND_MALFORMED, BACKEND_LAMBDA_THROTTLED, BACKEND_5XX, 0],
        np.int8,
    )
    return kinds[np.searchsorted(edges, u, side="right")]


def describe(scenario: Scenario, frame: pl.DataFrame) -> pl.DataFrame:
    """Join the route and client attributes the logs show onto the arrivals."""
    routes = _route_rows(scenario)
    clients = _clients(scenario)
    return (
        frame.join(routes, on="route_index", how="left", maintain_order="left")
        .join(clients, on="client", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("requires_key"))
            .then(pl.col("client_api_key"))
            .otherwise(None)
            .alias("api_key_id")
        )
        .with_columns(
            pl.when(pl.col("event_type") == "CONNECT")
            .then(pl.lit("$connect"))
            .when(pl.col("event_type") == "DISCONNECT")
            .then(pl.lit("$disconnect"))
            .otherwise(pl.col("route_key"))
            .alias("route_key")
        )
        .drop("client_api_key", "requires_key")
    )


def request_paths(
    scenario: Scenario, route_index: np.ndarray, rng: np.random.Generator
) -> pl.Series:
    """Concrete request paths: the template with `{id}` filled by a Zipf draw over the route's
    distinct items (a few items are hot, which is what makes a cache worth having)."""
    exponent = scenario.traffic.path_zipf_exponent
    item = np.zeros(len(route_index), np.int64)
    for index, route in enumerate(scenario.routes):
        rows = np.flatnonzero(route_index == index)
        if route.distinct_paths > 1 and len(rows):
            item[rows] = zipf_choice(rng, len(rows), route.distinct_paths, exponent)
    templates = pl.Series([_path_template(scenario, r) for r in scenario.routes], dtype=pl.String)
    frame = pl.DataFrame({"template": templates.gather(route_index), "item": item + 1000})
    return (
        frame.select(
            pl.col("template").str.replace("{id}", pl.col("item").cast(pl.String), literal=True)
        )
        .to_series()
        .alias("path")
    )
