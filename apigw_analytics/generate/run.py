"""One generated run: synthetic arrivals through the reference gateway → requests with known truth.

The model decides every outcome (throttles, quotas, cache hits, timeouts, canary split,
authorizer cache); the backend's answer is drawn beforehand (`traffic.backend_answers`). Clients
retry a share of their 429s after an exponential backoff with jitter; a retry is a new arrival,
so the model runs again until no new retries appear (at most `max_retries` rounds). When the
scenario slows its canary, the canary split is read from a first pass and the canary's backend
latencies are stretched before the final pass; the split is drawn per request from its id and
the model's seed, so it is the same in both passes.

The result is one row per request in arrival order with the canonical access-log columns, the
completion time (when the log line is written) and the ground truth: which limit fired, which
failure caused a 5xx, whether the cache answered. Requests are held as aligned arrays of codes
and numbers; their columns (`run_columns.RunColumns`) are built on first use, so a writer that
logs a few fields pays only for those, and `GeneratedRun.requests` is all of them as a polars
frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import numpy as np
import polars as pl
import pyarrow as pa

from apigw_analytics.gateway import arrivals as arr
from apigw_analytics.gateway.config import GatewayConfig
from apigw_analytics.gateway.engine import Simulation, needed_columns, simulate_columns, small_pages
from apigw_analytics.gateway.settings import normalise_method_key, parse_config
from apigw_analytics.generate import ids, traffic
from apigw_analytics.generate.estate import Estate, IdTexts, Table
from apigw_analytics.generate.rendering import Chars
from apigw_analytics.generate.run_columns import RunColumns
from apigw_analytics.generate.scenarios import Scenario

_ARRIVAL_STREAM = 1
_BACKEND_STREAM = 2
_RETRY_STREAM = 3


def _concat(first: Table, second: Table) -> Table:
    return {name: np.concatenate([first[name], second[name]]) for name in first}


def _authorizer_routes(scenario: Scenario) -> np.ndarray:
    methods = {
        normalise_method_key(key): value
        for key, value in (scenario.config.get("methods") or {}).items()
    }
    return np.array(
        [
            bool(methods.get(f"{r.resource}/{r.method}", {}).get("authorizerId"))
            and scenario.api(r.api).api_type == "rest"
            for r in scenario.routes
        ],
        np.bool_,
    )


def _prepared(scenario: Scenario, arrivals: Table, rng: np.random.Generator) -> Table:
    """Arrivals with the per-request draws that do not depend on the gateway: the backend's
    answer, gateway overhead, authorizer latency, a missing token, the path item and the random
    bytes of the request's ids."""
    route_index = arrivals["route_index"]
    n = len(route_index)
    answers = traffic.backend_answers(scenario, route_index, rng)
    has_authorizer = _authorizer_routes(scenario)[route_index]
    overhead = np.round(4.0 * np.exp(0.5 * rng.standard_normal(n))) + 1.0
    authorizer_ms = np.round(35.0 * np.exp(0.4 * rng.standard_normal(n))) + 2.0
    unauthorized = has_authorizer & (rng.random(n) < scenario.traffic.unauthorized_share)
    route_rows = traffic.rows_by_route(route_index, len(scenario.routes))
    item = traffic.path_items(scenario, route_rows, n, rng)
    uuid_raw = np.frombuffer(rng.bytes(ids.UUID_BYTES * n), np.uint8).reshape(n, ids.UUID_BYTES)
    short_raw = np.frombuffer(rng.bytes(ids.SHORT_ID_BYTES * n), np.uint8)
    return {
        **arrivals,
        **answers,
        "item": item,
        "overhead_ms": overhead,
        "authorizer_step_ms": np.where(has_authorizer & ~unauthorized, authorizer_ms, 0),
        "has_authorizer": has_authorizer,
        "unauthorized": unauthorized,
        "uuid_raw": uuid_raw,
        "short_raw": short_raw.reshape(n, ids.SHORT_ID_BYTES),
        "retried": np.zeros(n, np.bool_),
    }


def _retries(
    scenario: Scenario, requests: Table, sim: Simulation, rng: np.random.Generator
) -> Table | None:
    """New arrivals for the 429s a client retries (each answered 429 once, never again)."""
    t = scenario.traffic
    throttled = (sim.status == 429) & ~requests["retried"]
    throttled &= requests["attempt"] < t.max_retries
    throttled &= rng.random(len(throttled)) < t.retry_share
    rows = np.flatnonzero(throttled)
    if not len(rows):
        return None
    attempt = requests["attempt"][rows]
    delay = t.retry_base_delay_ms * (2**attempt)
    jitter = rng.integers(0, t.retry_base_delay_ms, len(rows))
    return {
        "arrival_ms": requests["arrival_ms"][rows] + delay + jitter,
        **{k: requests[k][rows] for k in ("route_index", "client", "connection", "event")},
        "attempt": attempt + 1,
    }


def _merge(old: Table, new: Table) -> Table:
    combined = _concat(old, new)
    order = np.argsort(combined["arrival_ms"], kind="stable")
    merged = traffic.take(combined, order)
    merged["arrival_ms"] = traffic.distinct_ms(merged["arrival_ms"])
    return merged


def _stretch_canary(scenario: Scenario, requests: Table, canary: np.ndarray) -> Table:
    """Slow the canary deployment's backends by their route's `canary_latency_factor`."""
    factors = np.array([r.backend.canary_latency_factor for r in scenario.routes], np.float64)
    factor = np.where(canary, factors[requests["route_index"]], 1.0)
    return {**requests, "backend_latency_ms": np.round(requests["backend_latency_ms"] * factor)}


def _coded(codes: np.ndarray, values: list[str | None]) -> arr.Coded:
    """Codes into `values` (-1: none) as the model reads a string column: one code per
    distinct value, None among the values when a row has none."""
    distinct = list(dict.fromkeys([*values, None]))
    lookup = np.array([distinct.index(v) for v in [*values, None]], np.int32)
    return arr.Coded(lookup[codes], distinct)


def _model_columns(estate: Estate, requests: Table, config: GatewayConfig) -> arr.ArrivalColumns:
    """The requests as the engine reads recorded arrivals, as if the backend's answer had been
    recorded for every call; only the columns the model needs under `config`."""
    needed = set(needed_columns(config))
    route = requests["route_index"]
    client = requests["client"]
    unauthorized = requests["unauthorized"]
    backend = requests["backend_latency_ms"]
    route_codes = route.astype(np.int32)
    strings = {
        name: _coded(route_codes, estate.routes[name])
        for name in arr.ROUTE_COLUMNS
        if name in needed and name != "route_key"
    }
    strings["route_key"] = _coded(estate.route_key_codes(requests), estate.route_keys())
    optional = {
        "api_key_id": lambda: _coded(estate.api_key_codes(requests), estate.clients["api_key_id"]),
        "path": lambda: _coded(estate.path_codes(requests), estate.paths),
        "error_response_type": lambda: _coded(unauthorized.astype(np.int32) - 1, ["UNAUTHORIZED"]),
        "authorizer_principal_id": lambda: _coded(
            client.astype(np.int32), estate.clients["authorizer_principal_id"]
        ),
        "source_ip": lambda: _coded(client.astype(np.int32), estate.clients["source_ip"]),
    }
    strings.update({name: make() for name, make in optional.items() if name in needed})
    numbers = {
        "status": np.where(unauthorized, 401, requests["backend_status"]).astype(np.int16),
        "response_bytes": requests["backend_response_bytes"],
        "latency_ms": requests["overhead_ms"]
        + requests["authorizer_step_ms"]
        + np.where(unauthorized, 0.0, backend),
        "integration_latency_ms": np.where(unauthorized, np.nan, backend),
        "authorizer_latency_ms": requests["authorizer_step_ms"].astype(np.float64),
    }
    request_ids = {}
    if "request_id" in needed:
        texts = IdTexts(requests)
        request_id = texts.request_id(estate.rest(requests))
        request_ids = {
            "request_id": pa.chunked_array([_arrow_strings(request_id)]),
            "extended_request_id": pa.chunked_array([_arrow_strings(Chars(texts.short))]),
        }
    return arr.ArrivalColumns(
        t_ms=requests["arrival_ms"],
        strings=strings,
        numbers={name: values for name, values in numbers.items() if name in needed},
        invalidate=np.zeros(0, np.bool_),
        request_ids=request_ids,
    )


def _arrow_strings(chars: Chars) -> pa.Array:
    return chars.to_series("id").to_arrow()


@dataclass
class GeneratedRun:
    """A scenario's requests with their logged fields and the truth behind each outcome."""

    scenario: Scenario
    config: GatewayConfig
    duration_s: float
    rps: float
    seed: int
    columns: RunColumns

    @property
    def start(self) -> datetime:
        return self.scenario.start

    @cached_property
    def requests(self) -> pl.DataFrame:
        """Every request (arrival order) with every logged and truth column."""
        return self.columns.frame()

    def completion_order(self, rows: np.ndarray | None = None) -> np.ndarray:
        """`rows` (default: all) in the order their log lines are written: by completion time,
        then arrival (rows are in arrival order, so a stable sort keeps ties in it)."""
        completed = self.columns.completed_ms
        if rows is None:
            return np.argsort(completed, kind="stable")
        return rows[np.argsort(completed[rows], kind="stable")]


def generate_run(
    scenario: Scenario,
    *,
    duration_s: float | None = None,
    rps: float | None = None,
    seed: int | None = None,
) -> GeneratedRun:
    """Run `scenario` through the reference gateway; deterministic for a seed."""
    duration_s = float(duration_s if duration_s is not None else scenario.duration_s)
    rps = float(rps if rps is not None else scenario.rps)
    seed = scenario.seed if seed is None else seed
    raw = dict(scenario.config)
    raw["model"] = {**raw.get("model", {}), "seed": seed}
    config = parse_config(raw)
    arrival_rng = np.random.default_rng([seed, _ARRIVAL_STREAM])
    draw_rng = np.random.default_rng([seed, _BACKEND_STREAM])
    retry_rng = np.random.default_rng([seed, _RETRY_STREAM])
    with small_pages():
        arrivals = traffic.base_arrivals(scenario, duration_s, rps, arrival_rng)
        estate = Estate(scenario, arrivals.connection_ids)
        base = arrivals.columns
        base["attempt"] = np.zeros(len(base["arrival_ms"]), np.int64)
        requests = _prepared(scenario, base, draw_rng)
        sim = simulate_columns(_model_columns(estate, requests, config), config)
        for _ in range(scenario.traffic.max_retries):
            retries = _retries(scenario, requests, sim, retry_rng)
            if retries is None:
                break
            requests["retried"] = requests["retried"] | (sim.status == 429)
            requests = _merge(requests, _prepared(scenario, retries, draw_rng))
            sim = simulate_columns(_model_columns(estate, requests, config), config)
        if (
            any(r.backend.canary_latency_factor != 1.0 for r in scenario.routes)
            and sim.canary.any()
        ):
            requests = _stretch_canary(scenario, requests, sim.canary)
            sim = simulate_columns(_model_columns(estate, requests, config), config)
    columns = RunColumns(estate, requests, sim)
    return GeneratedRun(scenario, config, duration_s, rps, seed, columns)
