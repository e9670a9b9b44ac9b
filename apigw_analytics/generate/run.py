"""One generated run: synthetic arrivals through the reference gateway → requests with known truth.

The model decides every outcome (throttles, quotas, cache hits, timeouts, canary split,
authorizer cache); the backend's answer is drawn beforehand (`traffic.backend_answers`). Clients
retry a share of their 429s after an exponential backoff with jitter; a retry is a new arrival,
so the model runs again until no new retries appear (at most `max_retries` rounds). When the
scenario slows its canary, the canary split is read from a first pass and the canary's backend
latencies are stretched before the final pass; the split is drawn per arrival index from the
model's seed, so it is the same in both passes.

The result is one row per request in arrival order with the canonical access-log columns, the
completion time (when the log line is written) and the ground truth: which limit fired, which
failure caused a 5xx, whether the cache answered.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from apigw_analytics.gateway.config import GatewayConfig
from apigw_analytics.gateway.engine import Simulation, simulate
from apigw_analytics.gateway.policy import CACHE_RESULTS, LAYER_NAMES
from apigw_analytics.gateway.settings import normalise_method_key, parse_config
from apigw_analytics.generate import traffic
from apigw_analytics.generate.scenarios import Scenario
from apigw_analytics.schema import UTC_MS

_ARRIVAL_STREAM = 1
_BACKEND_STREAM = 2
_RETRY_STREAM = 3
_ID_STREAM = 4
_GATEWAY_MESSAGES = {
    "THROTTLED": "Too Many Requests",
    "QUOTA_EXCEEDED": "Limit Exceeded",
    "INTEGRATION_TIMEOUT": "Endpoint request timed out",
    "ACCESS_DENIED": "Forbidden",
    "UNAUTHORIZED": "Unauthorized",
}
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


@dataclass
class GeneratedRun:
    """A scenario's requests with their logged fields and the truth behind each outcome."""

    scenario: Scenario
    config: GatewayConfig
    duration_s: float
    rps: float
    seed: int
    requests: pl.DataFrame

    @property
    def start(self) -> datetime:
        return self.scenario.start


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


def _draws(scenario: Scenario, arrivals: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Per-request draws that do not depend on the gateway: backend answer, gateway overhead,
    authorizer latency, a missing token, the path."""
    route_index = arrivals["route_index"].to_numpy()
    n = len(route_index)
    answers = traffic.backend_answers(scenario, route_index, rng)
    has_authorizer = _authorizer_routes(scenario)[route_index]
    overhead = np.round(4.0 * np.exp(0.5 * rng.standard_normal(n))) + 1.0
    authorizer_ms = np.round(35.0 * np.exp(0.4 * rng.standard_normal(n))) + 2.0
    unauthorized = has_authorizer & (rng.random(n) < scenario.traffic.unauthorized_share)
    return arrivals.with_columns(
        traffic.request_paths(scenario, route_index, rng),
        *(pl.Series(name, values) for name, values in answers.items()),
        pl.Series("overhead_ms", overhead),
        pl.Series("authorizer_step_ms", np.where(has_authorizer & ~unauthorized, authorizer_ms, 0)),
        pl.Series("has_authorizer", has_authorizer),
        pl.Series("unauthorized", unauthorized),
    )


def _model_input(requests: pl.DataFrame) -> pl.DataFrame:
    """The frame the engine reads, as if the backend's answer had been recorded for every call."""
    integration = pl.col("backend_latency_ms")
    return requests.select(
        pl.col("request_id"),
        pl.col("extended_request_id"),
        "api_id", "api_type", "stage", "http_method", "resource_path", "route_key", "path",
        pl.col("arrival_ms").cast(UTC_MS).alias("requested_at"),
        pl.when(pl.col("unauthorized")).then(401).otherwise(pl.col("backend_status"))
        .cast(pl.Int32).alias("status"),
        pl.col("backend_response_bytes").alias("response_bytes"),
        (pl.col("overhead_ms") + pl.col("authorizer_step_ms")
         + pl.when(pl.col("unauthorized")).then(0.0).otherwise(integration)).alias("latency_ms"),
        pl.when(pl.col("unauthorized")).then(None).otherwise(integration)
        .alias("integration_latency_ms"),
        pl.when(pl.col("unauthorized")).then(pl.lit("UNAUTHORIZED")).otherwise(None)
        .alias("error_response_type"),
        "api_key_id", "authorizer_principal_id",
        pl.col("authorizer_step_ms").alias("authorizer_latency_ms"),
        "source_ip",
    )  # fmt: skip


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
_UUID_HEX_POSITIONS = [i for i in range(36) if i not in (8, 13, 18, 23)]
_UUID_HEX_RUNS = tuple(
    pl.col("request_id").str.slice(start, length)
    for start, length in ((9, 4), (14, 4), (19, 4), (24, 12))
)


def _fixed_width_strings(chars: np.ndarray) -> pl.Series:
    """Rows of an (n, width) uint8 array of ASCII as a string Series, without Python objects."""
    width = chars.shape[1]
    return pl.Series(np.ascontiguousarray(chars).view(f"S{width}").ravel()).cast(pl.String)


def _ids(rng: np.random.Generator, n: int) -> tuple[pl.Series, pl.Series]:
    """REST-style request ids (UUIDs) and API-Gateway ids (16 base64url chars ending in `=`),
    assembled as byte arrays in numpy (a million ids in a fraction of a second)."""
    raw = np.frombuffer(rng.bytes(16 * n), np.uint8).reshape(n, 16)
    uuid = np.full((n, 36), ord("-"), np.uint8)
    nibbles = np.empty((n, 32), np.uint8)
    nibbles[:, 0::2] = _HEX_DIGITS[raw >> 4]
    nibbles[:, 1::2] = _HEX_DIGITS[raw & 15]
    uuid[:, _UUID_HEX_POSITIONS] = nibbles
    short = np.frombuffer(base64.urlsafe_b64encode(rng.bytes(12 * n)), np.uint8).reshape(n, 16)
    short = short.copy()
    short[:, 15] = ord("=")
    return _fixed_width_strings(uuid).alias("uuid"), _fixed_width_strings(short).alias("short")


def _with_ids(arrivals: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    uuid, short = _ids(rng, arrivals.height)
    rest = pl.col("api_type") == "rest"
    return (
        arrivals.with_columns(uuid, short)
        .with_columns(
            pl.when(rest).then(pl.col("uuid")).otherwise(pl.col("short")).alias("request_id"),
            pl.col("short").alias("extended_request_id"),
        )
        .drop("uuid", "short")
    )


def _retries(
    scenario: Scenario, requests: pl.DataFrame, sim: Simulation, rng: np.random.Generator
) -> pl.DataFrame:
    """New arrivals for the 429s a client retries (each answered 429 once, never again)."""
    t = scenario.traffic
    throttled = (sim.status == 429) & ~requests["retried"].to_numpy()
    throttled &= requests["attempt"].to_numpy() < t.max_retries
    throttled &= rng.random(len(throttled)) < t.retry_share
    rows = requests.filter(pl.Series(throttled))
    if rows.is_empty():
        return rows
    delay = t.retry_base_delay_ms * (2 ** rows["attempt"].to_numpy())
    jitter = rng.integers(0, t.retry_base_delay_ms, rows.height)
    return rows.select(
        (pl.col("arrival_ms") + pl.Series(delay + jitter)).alias("arrival_ms"),
        "route_index", "client", "connection", "connection_id", "event_type",
        (pl.col("attempt") + 1).alias("attempt"),
    )  # fmt: skip


def _prepared(scenario: Scenario, arrivals: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    described = traffic.describe(scenario, arrivals)
    return _with_ids(_draws(scenario, described, rng), rng).with_columns(
        pl.lit(False).alias("retried")
    )


def _merge(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    combined = pl.concat([old, new], how="vertical_relaxed").sort("arrival_ms", maintain_order=True)
    return combined.with_columns(
        pl.Series("arrival_ms", traffic.distinct_ms(combined["arrival_ms"].to_numpy()))
    )


def _stretch_canary(scenario: Scenario, requests: pl.DataFrame, canary: np.ndarray) -> pl.DataFrame:
    """Slow the canary deployment's backends by their route's `canary_latency_factor`."""
    factors = np.array([r.backend.canary_latency_factor for r in scenario.routes], np.float64)
    factor = np.where(canary, factors[requests["route_index"].to_numpy()], 1.0)
    latency = np.round(requests["backend_latency_ms"].to_numpy() * factor)
    return requests.with_columns(pl.Series("backend_latency_ms", latency))


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
    arrivals = traffic.base_arrivals(scenario, duration_s, rps, arrival_rng)
    arrivals = arrivals.with_columns(pl.lit(0, pl.Int64).alias("attempt"))
    requests = _prepared(scenario, arrivals, draw_rng)
    sim = simulate(_model_input(requests), config)
    for _ in range(scenario.traffic.max_retries):
        retries = _retries(scenario, requests, sim, retry_rng)
        if retries.is_empty():
            break
        requests = requests.with_columns(
            pl.Series("retried", requests["retried"].to_numpy() | (sim.status == 429))
        )
        requests = _merge(requests, _prepared(scenario, retries, draw_rng))
        sim = simulate(_model_input(requests), config)
    if any(r.backend.canary_latency_factor != 1.0 for r in scenario.routes) and sim.canary.any():
        requests = _stretch_canary(scenario, requests, sim.canary)
        sim = simulate(_model_input(requests), config)
    records = _records(scenario, requests, sim, config)
    return GeneratedRun(scenario, config, duration_s, rps, seed, records)


def _error_texts(scenario: Scenario) -> pl.Series:
    """The integration error text of each (route, backend outcome), route-major."""
    texts = []
    for route in scenario.routes:
        seconds = f"{(route.backend.function_timeout_ms or 0) / 1000:.2f}"
        texts += [
            _INTEGRATION_ERRORS.get(code, "").replace("{seconds}", seconds) or None
            for code in range(len(traffic.BACKEND_OUTCOMES))
        ]
    return pl.Series("_backend_error", texts, dtype=pl.String)


def _epoch_seconds_hex(arrival_ms: np.ndarray) -> pl.Series:
    """Each arrival's epoch second as 8 hex digits (the time part of an X-Ray trace id),
    formatted once per distinct second."""
    seconds, index = np.unique(arrival_ms // 1000, return_inverse=True)
    return pl.Series("_epoch_hex", [f"{int(v):08x}" for v in seconds], pl.String).gather(index)


def _records(
    scenario: Scenario, requests: pl.DataFrame, sim: Simulation, config: GatewayConfig
) -> pl.DataFrame:
    """The logged fields and the truth of every request, from the model's outcome."""
    types = pl.Series(sim.response_types, dtype=pl.String).gather(sim.response_type)
    called = sim.integration_called
    auth_called = sim.authorizer_called
    auth_ms = requests["authorizer_step_ms"].to_numpy()
    integration_ms = sim.latency_ms - requests["overhead_ms"].to_numpy() - auth_ms * auth_called
    outcome = requests["backend_outcome"].to_numpy()
    frame = requests.with_columns(
        pl.Series("status", sim.status.astype(np.int32)),
        types.alias("error_response_type"),
        pl.Series("limit_layer", LAYER_NAMES, dtype=pl.String).gather(sim.layer),
        pl.Series("cache_result", CACHE_RESULTS).gather(sim.cache_result),
        pl.Series("integration_called", called),
        pl.Series("authorizer_called", auth_called),
        pl.Series("is_canary", sim.canary),
        pl.Series("latency_ms", np.round(sim.latency_ms).astype(np.int64)),
        pl.Series("integration_latency_ms", np.where(called, np.round(integration_ms), np.nan))
        .fill_nan(None)
        .cast(pl.Int64),
        pl.Series("backend_outcome_code", outcome),
        _epoch_seconds_hex(requests["arrival_ms"].to_numpy()),
    )
    timed_out = (pl.col("error_response_type") == "INTEGRATION_TIMEOUT").fill_null(False)
    served_by_backend = pl.col("integration_called") & ~timed_out
    failure = (
        pl.when(timed_out)
        .then(pl.lit("integration_timeout"))
        .when(served_by_backend & (pl.col("backend_outcome_code") != traffic.BACKEND_OK))
        .then(
            pl.Series(traffic.BACKEND_OUTCOMES, dtype=pl.String).gather(
                frame["backend_outcome_code"]
            )
        )
    )
    lambda_backend = pl.Series(
        [r.backend.kind == "lambda" for r in scenario.routes], dtype=pl.Boolean
    ).gather(requests["route_index"])
    error_text = _error_texts(scenario).gather(
        requests["route_index"].to_numpy() * len(traffic.BACKEND_OUTCOMES) + outcome
    )
    return frame.with_columns(
        failure.alias("failure"),
        pl.lit(lambda_backend).alias("lambda_backend"),
        pl.lit(error_text).alias("_backend_error"),
    ).select(_logged_columns(timed_out, served_by_backend))


def _logged_columns(timed_out: pl.Expr, served: pl.Expr) -> list[pl.Expr]:
    """Canonical access-log columns (what a rich template would log) plus the truth columns."""
    status = pl.col("status")
    ok_call = served & (pl.col("backend_outcome_code") == traffic.BACKEND_OK)
    gateway_message = pl.col("error_response_type").replace_strict(
        _GATEWAY_MESSAGES, default=None, return_dtype=pl.String
    )
    message = (
        pl.when(gateway_message.is_not_null())
        .then(gateway_message)
        .when(served & (pl.col("backend_outcome_code") != traffic.BACKEND_OK)
              & (pl.col("backend_outcome_code") != traffic.BACKEND_5XX))
        .then(pl.lit("Internal server error"))
    )  # fmt: skip
    gateway_bytes = pl.when(message.is_not_null()).then(
        pl.format('{{"message":"{}"}}', message).str.len_bytes().cast(pl.Int64)
    )
    service_status = (
        pl.when(~served)
        .then(None)
        .when(pl.col("backend_outcome_code") == traffic.BACKEND_LAMBDA_THROTTLED)
        .then(429)
        .when(pl.col("lambda_backend"))
        .then(200)
        .otherwise(pl.col("backend_status"))
    )
    integration_status = (
        pl.when(ok_call | (served & ~pl.col("lambda_backend")))
        .then(pl.col("backend_status"))
        .otherwise(None)
    )
    auth_step = pl.col("authorizer_step_ms")
    has_auth = pl.col("has_authorizer") & (status != 429)
    millisecond = pl.col("arrival_ms")
    return [
        "request_id", "extended_request_id", "api_id", "api_type", "stage", "domain_name",
        millisecond.cast(UTC_MS).alias("requested_at"),
        (millisecond + pl.col("latency_ms")).cast(UTC_MS).alias("completed_at"),
        "http_method", "resource_path", "route_key", "path",
        pl.when(pl.col("api_type") == "websocket").then(None).otherwise(pl.lit("HTTP/1.1"))
        .alias("protocol"),
        "status",
        pl.coalesce(gateway_bytes, pl.col("backend_response_bytes")).alias("response_bytes"),
        "latency_ms", "integration_latency_ms",
        integration_status.cast(pl.Int32).alias("integration_status"),
        service_status.cast(pl.Int32).alias("integration_service_status"),
        pl.when(timed_out).then(pl.lit(TIMEOUT_ERROR)).when(served).then(pl.col("_backend_error"))
        .alias("integration_error"),
        message.alias("error_message"),
        "error_response_type", "source_ip", "user_agent", "api_key_id",
        pl.when(has_auth).then(pl.col("authorizer_principal_id")).alias("authorizer_principal_id"),
        pl.when(has_auth & pl.col("authorizer_called")).then(auth_step)
        .when(has_auth & ~pl.col("unauthorized")).then(1)
        .cast(pl.Int64).alias("authorizer_latency_ms"),
        pl.when(has_auth & pl.col("authorizer_called")).then(auth_step - 1)
        .cast(pl.Int64).alias("authorizer_integration_latency_ms"),
        pl.when(has_auth & ~pl.col("unauthorized")).then(200)
        .when(has_auth).then(401).cast(pl.Int32).alias("authorizer_status"),
        "connection_id",
        "event_type",
        pl.when(pl.col("event_type") == "MESSAGE").then(pl.col("extended_request_id"))
        .alias("message_id"),
        pl.when(pl.col("api_type") == "http").then(pl.col("backend_response_bytes"))
        .alias("data_processed_bytes"),
        pl.when(served & pl.col("lambda_backend"))
        .then(pl.col("request_id").str.reverse())
        .alias("integration_request_id"),
        pl.when(pl.col("api_type") == "rest")
        .then(pl.format("1-{}-{}{}{}{}", "_epoch_hex", *_UUID_HEX_RUNS))
        .alias("xray_trace_id"),
        "is_canary",
        # truth
        "route_index", "api_name", "attempt", "limit_layer", "cache_result",
        "integration_called", "authorizer_called", "failure",
        pl.col("backend_latency_ms").cast(pl.Int64),
        pl.col("overhead_ms").cast(pl.Int64), "backend_outcome_code", "lambda_backend",
    ]  # fmt: skip
