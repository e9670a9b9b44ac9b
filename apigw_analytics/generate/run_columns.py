"""The logged fields and the ground truth of a generated run's requests, each built when asked.

Requests are held as aligned arrays of codes and numbers (see `estate.py`); each logged column
is built on first use and kept, so a writer that logs a few fields pays only for those, and
`GeneratedRun.requests` is all of them as a polars frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import cached_property

import numpy as np
import polars as pl

from apigw_analytics.gateway.engine import Simulation
from apigw_analytics.gateway.policy import CACHE_RESULTS, LAYER_NAMES
from apigw_analytics.generate import ids, traffic
from apigw_analytics.generate.estate import Estate, IdTexts, Table
from apigw_analytics.generate.rendering import NO_NUMBER, Chars, Codes, Column, Flags, Numbers
from apigw_analytics.generate.scenarios import Scenario
from apigw_analytics.schema import UTC_MS

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

    def __init__(self, estate: Estate, requests: Table, sim: Simulation) -> None:
        self.estate = estate
        self.requests = requests
        self.sim = sim
        self.route = requests["route_index"].astype(np.int32)
        self.client = requests["client"].astype(np.int32)
        self.outcome = requests["backend_outcome"]
        self.texts = IdTexts(requests)
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
        return Codes(self.estate.route_key_codes(self.requests), self.estate.route_keys())

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
