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
and numbers (`RunColumns`); each logged column is built on first use, so a writer that logs a
few fields pays only for those, and `GeneratedRun.requests` is all of them as a polars frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import numpy as np
import polars as pl
import pyarrow as pa

from apigw_analytics.gateway import arrivals as arr
from apigw_analytics.gateway.config import GatewayConfig
from apigw_analytics.gateway.engine import Simulation, needed_columns, simulate_columns, small_pages
from apigw_analytics.gateway.policy import CACHE_RESULTS, LAYER_NAMES
from apigw_analytics.gateway.settings import normalise_method_key, parse_config
from apigw_analytics.generate import ids, traffic
from apigw_analytics.generate.rendering import NO_NUMBER, Chars, Codes, Column, Flags, Numbers
from apigw_analytics.generate.scenarios import Scenario
from apigw_analytics.schema import UTC_MS

_ARRIVAL_STREAM = 1
_BACKEND_STREAM = 2
_RETRY_STREAM = 3
_GATEWAY_MESSAGES = {
    "THROTTLED": "Too Many Requests",
    "QUOTA_EXCEEDED": "Limit Exceeded",
    "INTEGRATION_TIMEOUT": "Endpoint request timed out",
    "ACCESS_DENIED": "Forbidden",
    "UNAUTHORIZED": "Unauthorized",
}
_INTERNAL_ERROR = "Internal server error"
_INTEGRATION_ERRORS = {
    traffic.BACKEND_FUNCTION_ERROR: (
        "Lambda execution failed with status 200 due to customer function error: "
        "TypeError: Cannot read properties of undefined (reading 'id')"
    ),
    traffic.BACKEND_FUNCTION_TIMEOUT: (
        "Lambda execution failed with status 200 due to customer function error: "
        "Task timed out after {seconds} seconds"
    ),
    traffic.BACKEND_MALFORMED: "Malformed Lambda proxy response",
    traffic.BACKEND_LAMBDA_THROTTLED: "Lambda invocation failed with status: 429. Rate Exceeded.",
}
TIMEOUT_ERROR = "Execution failed due to a timeout error"
_PROTOCOL = "HTTP/1.1"

Table = dict[str, np.ndarray]
"""Aligned per-request arrays, one per name."""


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


class _Estate:
    """The scenario's per-route and per-client tables, and the run's connection ids."""

    def __init__(self, scenario: Scenario, connection_ids: list[str]) -> None:
        self.scenario = scenario
        self.routes = traffic.route_fields(scenario)
        self.clients = traffic.client_fields(scenario)
        self.requires_key = traffic.requires_key(scenario)
        self.paths, self.path_first, self.path_count = traffic.path_table(scenario)
        self.lambda_route = np.array([r.backend.kind == "lambda" for r in scenario.routes])
        self.connection_ids = connection_ids

    def api_key_codes(self, requests: Table) -> np.ndarray:
        """Codes into `clients["api_key_id"]`: the client's key where the route requires one."""
        required = self.requires_key[requests["route_index"]]
        return np.where(required, requests["client"], -1).astype(np.int32)

    def rest(self, requests: Table) -> np.ndarray:
        """Whether each request is to a REST API."""
        return np.array([t == "rest" for t in self.routes["api_type"]])[requests["route_index"]]

    def path_codes(self, requests: Table) -> np.ndarray:
        route = requests["route_index"]
        item = np.where(self.path_count[route] > 1, requests["item"], 0)
        return (self.path_first[route] + item).astype(np.int32)


def _coded(codes: np.ndarray, values: list[str | None]) -> arr.Coded:
    """Codes into `values` (-1: none) as the model reads a string column: one code per
    distinct value, None among the values when a row has none."""
    distinct = list(dict.fromkeys([*values, None]))
    lookup = np.array([distinct.index(v) for v in [*values, None]], np.int32)
    return arr.Coded(lookup[codes], distinct)


def _model_columns(estate: _Estate, requests: Table, config: GatewayConfig) -> arr.ArrivalColumns:
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
    routes = len(estate.routes["route_key"])
    strings["route_key"] = _coded(_route_key_codes(requests, routes), _route_keys(estate))
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
        texts = _IdTexts(requests)
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


def _route_keys(estate: _Estate) -> list[str | None]:
    """Each route's route key, then the WebSocket connect and disconnect keys."""
    return [*estate.routes["route_key"], "$connect", "$disconnect"]


def _route_key_codes(requests: Table, routes: int) -> np.ndarray:
    event = requests["event"]
    codes = np.where(event == traffic.EVENT_CONNECT, routes, requests["route_index"])
    return np.where(event == traffic.EVENT_DISCONNECT, routes + 1, codes).astype(np.int32)


class _IdTexts:
    """The text of the ids of requests (from their random bytes), made once each."""

    def __init__(self, requests: Table) -> None:
        self.uuid_raw = requests["uuid_raw"]
        self.short_raw = requests["short_raw"]

    @cached_property
    def short(self) -> np.ndarray:
        return ids.short_id_chars(self.short_raw)

    def request_id(self, rest: np.ndarray) -> Chars:
        """REST requests have UUID request ids, HTTP and WebSocket ones the short id."""
        chars, lengths = ids.request_id_chars(self.uuid_raw, self.short, rest)
        return Chars(chars, None if rest.all() else lengths)


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
        estate = _Estate(scenario, arrivals.connection_ids)
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


def _error_texts(scenario: Scenario) -> list[str | None]:
    """The integration error text of each (route, backend outcome), route-major."""
    texts: list[str | None] = []
    for route in scenario.routes:
        seconds = f"{(route.backend.function_timeout_ms or 0) / 1000:.2f}"
        texts += [
            _INTEGRATION_ERRORS.get(code, "").replace("{seconds}", seconds) or None
            for code in range(len(traffic.BACKEND_OUTCOMES))
        ]
    return texts


def _where(condition: np.ndarray, values: np.ndarray | int) -> np.ndarray:
    """`values` where `condition` holds, else no value (NO_NUMBER)."""
    return np.where(condition, np.asarray(values).astype(np.int64), NO_NUMBER)


_Builder = Callable[["RunColumns"], Column]
_BUILDERS: dict[str, tuple[_Builder, pl.DataType]] = {}


def _column(dtype: pl.DataType, name: str | None = None) -> Callable[[_Builder], _Builder]:
    """Register a method as the builder of column `name` (default: the method's name), held in
    the frame as `dtype`; the order of registration is the frame's column order."""

    def register(build: _Builder) -> _Builder:
        _BUILDERS[name or build.__name__] = (build, dtype)
        return build

    return register


class RunColumns(Mapping[str, Column]):
    """The logged fields and the truth of every request (arrival order), by column name; a
    column is built when first asked for and kept. The logged columns carry the canonical
    access-log names (what a rich template would log); then come the truth columns."""

    def __init__(self, estate: _Estate, requests: Table, sim: Simulation) -> None:
        self.estate = estate
        self.requests = requests
        self.sim = sim
        self.route = requests["route_index"].astype(np.int32)
        self.client = requests["client"].astype(np.int32)
        self.outcome = requests["backend_outcome"]
        self.texts = _IdTexts(requests)
        self._built: dict[str, Column] = {}

    def __getitem__(self, name: str) -> Column:
        if name not in self._built:
            self._built[name] = _BUILDERS[name][0](self)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_BUILDERS)

    def __len__(self) -> int:
        return len(_BUILDERS)

    def frame(self) -> pl.DataFrame:
        """Every column as a polars frame (strings decoded, the canonical dtypes)."""
        return pl.DataFrame(
            [self[name].to_series(name, dtype) for name, (_, dtype) in _BUILDERS.items()]
        )

    # Per-request facts the columns share.

    def _route_values(self, name: str) -> Codes:
        return Codes(self.route, self.estate.routes[name])

    @cached_property
    def api_type_code(self) -> np.ndarray:
        types = np.array([{"rest": 0, "http": 1}.get(t, 2) for t in self.estate.routes["api_type"]])
        return types[self.route]

    @cached_property
    def latency_ms(self) -> np.ndarray:
        return np.round(self.sim.latency_ms).astype(np.int64)

    @cached_property
    def completed_ms(self) -> np.ndarray:
        return self.requests["arrival_ms"] + self.latency_ms

    @cached_property
    def timed_out(self) -> np.ndarray:
        timeout = np.array([t == "INTEGRATION_TIMEOUT" for t in self.sim.response_types])
        return timeout[self.sim.response_type]

    @cached_property
    def served(self) -> np.ndarray:
        """The backend's answer reached the gateway (called, and no integration timeout)."""
        return self.sim.integration_called & ~self.timed_out

    @cached_property
    def lambda_backend(self) -> np.ndarray:
        return self.estate.lambda_route[self.route]

    @cached_property
    def messages(self) -> tuple[np.ndarray, list[str]]:
        """Codes of the gateway's response message (`{"message": ...}`) and the messages."""
        values = [*dict.fromkeys(_GATEWAY_MESSAGES.values()), _INTERNAL_ERROR]
        by_type = np.array(
            [values.index(_GATEWAY_MESSAGES[t]) if t in _GATEWAY_MESSAGES else -1
             for t in self.sim.response_types],
            np.int32,
        )  # fmt: skip
        gateway = by_type[self.sim.response_type]
        failed = self.served & ~np.isin(self.outcome, [traffic.BACKEND_OK, traffic.BACKEND_5XX])
        internal = np.where(failed, len(values) - 1, -1)
        return np.where(gateway >= 0, gateway, internal).astype(np.int32), values

    @cached_property
    def has_auth(self) -> np.ndarray:
        return self.requests["has_authorizer"] & (self.sim.status != 429)

    @cached_property
    def auth_step_ms(self) -> np.ndarray:
        return self.requests["authorizer_step_ms"].astype(np.int64)

    # Logged columns.

    @_column(pl.String)
    def request_id(self) -> Column:
        return self.texts.request_id(self.api_type_code == 0)

    @_column(pl.String)
    def extended_request_id(self) -> Column:
        return Chars(self.texts.short)

    @_column(pl.String)
    def api_id(self) -> Column:
        return self._route_values("api_id")

    @_column(pl.String)
    def api_type(self) -> Column:
        return self._route_values("api_type")

    @_column(pl.String)
    def stage(self) -> Column:
        return self._route_values("stage")

    @_column(pl.String)
    def domain_name(self) -> Column:
        return self._route_values("domain_name")

    @_column(UTC_MS)
    def requested_at(self) -> Column:
        return Numbers(self.requests["arrival_ms"])

    @_column(UTC_MS)
    def completed_at(self) -> Column:
        return Numbers(self.completed_ms)

    @_column(pl.String)
    def http_method(self) -> Column:
        return self._route_values("http_method")

    @_column(pl.String)
    def resource_path(self) -> Column:
        return self._route_values("resource_path")

    @_column(pl.String)
    def route_key(self) -> Column:
        codes = _route_key_codes(self.requests, len(self.estate.routes["route_key"]))
        return Codes(codes, _route_keys(self.estate))

    @_column(pl.String)
    def path(self) -> Column:
        return Codes(self.estate.path_codes(self.requests), self.estate.paths)

    @_column(pl.String)
    def protocol(self) -> Column:
        return Codes(np.where(self.api_type_code == 2, -1, 0).astype(np.int32), [_PROTOCOL])

    @_column(pl.Int32)
    def status(self) -> Column:
        return Numbers(self.sim.status.astype(np.int64))

    @_column(pl.Int64)
    def response_bytes(self) -> Column:
        codes, values = self.messages
        gateway_bytes = np.array([len(f'{{"message":"{v}"}}'.encode()) for v in values])
        body = np.where(codes >= 0, gateway_bytes[codes], self.requests["backend_response_bytes"])
        return Numbers(body.astype(np.int64))

    @_column(pl.Int64, "latency_ms")
    def logged_latency_ms(self) -> Column:
        return Numbers(self.latency_ms)

    @_column(pl.Int64)
    def integration_latency_ms(self) -> Column:
        auth_ms = self.requests["authorizer_step_ms"] * self.sim.authorizer_called
        integration_ms = self.sim.latency_ms - self.requests["overhead_ms"] - auth_ms
        return Numbers(_where(self.sim.integration_called, np.round(integration_ms)))

    @_column(pl.Int32)
    def integration_status(self) -> Column:
        ok_call = self.served & (self.outcome == traffic.BACKEND_OK)
        shown = ok_call | (self.served & ~self.lambda_backend)
        return Numbers(_where(shown, self.requests["backend_status"]))

    @_column(pl.Int32)
    def integration_service_status(self) -> Column:
        status = np.where(self.lambda_backend, 200, self.requests["backend_status"])
        status = np.where(self.outcome == traffic.BACKEND_LAMBDA_THROTTLED, 429, status)
        return Numbers(_where(self.served, status))

    @_column(pl.String)
    def integration_error(self) -> Column:
        outcomes = len(traffic.BACKEND_OUTCOMES)
        backend = 1 + self.route.astype(np.int64) * outcomes + self.outcome
        codes = np.where(self.timed_out, 0, np.where(self.served, backend, -1))
        return Codes(codes.astype(np.int32), [TIMEOUT_ERROR, *_error_texts(self.estate.scenario)])

    @_column(pl.String)
    def error_message(self) -> Column:
        return Codes(*self.messages)

    @_column(pl.String)
    def error_response_type(self) -> Column:
        return Codes(self.sim.response_type.astype(np.int32), self.sim.response_types)

    @_column(pl.String)
    def source_ip(self) -> Column:
        return Codes(self.client, self.estate.clients["source_ip"])

    @_column(pl.String)
    def user_agent(self) -> Column:
        return Codes(self.client, self.estate.clients["user_agent"])

    @_column(pl.String)
    def api_key_id(self) -> Column:
        return Codes(self.estate.api_key_codes(self.requests), self.estate.clients["api_key_id"])

    @_column(pl.String)
    def authorizer_principal_id(self) -> Column:
        codes = np.where(self.has_auth, self.client, -1).astype(np.int32)
        return Codes(codes, self.estate.clients["authorizer_principal_id"])

    @_column(pl.Int64)
    def authorizer_latency_ms(self) -> Column:
        valid = self.has_auth & ~self.requests["unauthorized"]
        called = self.has_auth & self.sim.authorizer_called
        return Numbers(np.where(called, self.auth_step_ms, _where(valid, 1)))

    @_column(pl.Int64)
    def authorizer_integration_latency_ms(self) -> Column:
        return Numbers(_where(self.has_auth & self.sim.authorizer_called, self.auth_step_ms - 1))

    @_column(pl.Int32)
    def authorizer_status(self) -> Column:
        status = np.where(self.requests["unauthorized"], 401, 200)
        return Numbers(_where(self.has_auth, status))

    @_column(pl.String)
    def connection_id(self) -> Column:
        return Codes(self.requests["connection"].astype(np.int32), self.estate.connection_ids)

    @_column(pl.String)
    def event_type(self) -> Column:
        return Codes(self.requests["event"].astype(np.int32), traffic.EVENT_TYPES)

    @_column(pl.String)
    def message_id(self) -> Column:
        message = self.requests["event"] == traffic.EVENT_MESSAGE
        return Chars(self.texts.short, np.where(message, ids.SHORT_ID_WIDTH, -1).astype(np.int32))

    @_column(pl.Int64)
    def data_processed_bytes(self) -> Column:
        return Numbers(_where(self.api_type_code == 1, self.requests["backend_response_bytes"]))

    @_column(pl.String)
    def integration_request_id(self) -> Column:
        request_id = self["request_id"]
        assert isinstance(request_id, Chars)
        width = request_id.chars.shape[1]
        lengths = np.full(len(self.route), width, np.int32)
        if request_id.lengths is not None:
            lengths = request_id.lengths
        shown = self.served & self.lambda_backend
        return Chars(ids.reversed_chars(request_id.chars, lengths), np.where(shown, lengths, -1))

    @_column(pl.String)
    def xray_trace_id(self) -> Column:
        rest = self.api_type_code == 0
        chars = ids.xray_chars(self.requests["arrival_ms"] // 1000, self.texts.uuid_raw)
        return Chars(chars, None if rest.all() else np.where(rest, ids.XRAY_WIDTH, -1))

    @_column(pl.Boolean)
    def is_canary(self) -> Column:
        return Flags(self.sim.canary)

    # Truth columns.

    @_column(pl.Int64)
    def route_index(self) -> Column:
        return Numbers(self.requests["route_index"])

    @_column(pl.String)
    def api_name(self) -> Column:
        return self._route_values("api_name")

    @_column(pl.Int64)
    def attempt(self) -> Column:
        return Numbers(self.requests["attempt"])

    @_column(pl.String)
    def limit_layer(self) -> Column:
        return Codes(self.sim.layer.astype(np.int32), LAYER_NAMES)

    @_column(pl.String)
    def cache_result(self) -> Column:
        return Codes(self.sim.cache_result.astype(np.int32), CACHE_RESULTS)

    @_column(pl.Boolean)
    def integration_called(self) -> Column:
        return Flags(self.sim.integration_called)

    @_column(pl.Boolean)
    def authorizer_called(self) -> Column:
        return Flags(self.sim.authorizer_called)

    @_column(pl.String)
    def failure(self) -> Column:
        failed = self.served & (self.outcome != traffic.BACKEND_OK)
        codes = np.where(self.timed_out, 0, np.where(failed, 1 + self.outcome, -1))
        return Codes(codes.astype(np.int32), ["integration_timeout", *traffic.BACKEND_OUTCOMES])

    @_column(pl.Int64)
    def backend_latency_ms(self) -> Column:
        return Numbers(self.requests["backend_latency_ms"].astype(np.int64))

    @_column(pl.Int64)
    def overhead_ms(self) -> Column:
        return Numbers(self.requests["overhead_ms"].astype(np.int64))

    @_column(pl.Int8)
    def backend_outcome_code(self) -> Column:
        return Numbers(self.outcome.astype(np.int64))

    @_column(pl.Boolean, "lambda_backend")
    def lambda_backend_truth(self) -> Column:
        return Flags(self.lambda_backend)
