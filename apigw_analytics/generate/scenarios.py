"""The scenario catalogue: an estate of APIs, the traffic they receive, and the gateway's settings.

A scenario is declarative: which APIs exist (and how each stage logs), which routes and backends
they have, how clients arrive (a Poisson process with a diurnal rate, bursts, Zipf-distributed
clients, keys and paths, retries after 429) and the gateway configuration in AWS's own setting
names. The generator runs that traffic through the reference gateway, so whatever the logs show
(429s, 504s, cache hits) is what the model predicts for that configuration: the truth is known.

Every scenario uses the same estate, so their outputs can be compared and combined; each differs
in traffic and settings. `incident-day` combines all the stories in one day-long run.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from apigw_analytics.errors import chosen


@dataclass(frozen=True)
class Api:
    """One API stage and how it logs: its access-log format and the container it lands in."""

    name: str
    api_id: str
    api_type: str
    stage: str
    access_format: str
    access_container: str
    execution_logging: bool = False
    detailed_metrics: bool = False

    @property
    def domain_name(self) -> str:
        return f"{self.api_id}.execute-api.eu-west-1.amazonaws.com"


@dataclass(frozen=True)
class Backend:
    """What the integration does with a request it receives, before the gateway's timeout.

    Latency is lognormal (median, sigma). A Lambda backend with `function_timeout_ms` answers 502
    when the function runs longer than that (Lambda's own timeout), before API Gateway's
    integration timeout; the error shares are per call.
    """

    kind: str
    latency_median_ms: float
    latency_sigma: float = 0.5
    function_timeout_ms: int | None = None
    function_error_share: float = 0.0
    malformed_response_share: float = 0.0
    lambda_throttled_share: float = 0.0
    backend_5xx_share: float = 0.0
    response_bytes_median: int = 900
    canary_latency_factor: float = 1.0


@dataclass(frozen=True)
class Route:
    """A route of one API: REST resource template + method, HTTP route, or WebSocket route key."""

    api: str
    method: str
    resource: str
    weight: float
    backend: Backend
    distinct_paths: int = 1


@dataclass(frozen=True)
class Burst:
    """Extra arrivals over a window, all to one route, optionally from one API key's client."""

    start_s: float
    duration_s: float
    rate_rps: float
    route: str
    api_key: str | None = None


@dataclass(frozen=True)
class Traffic:
    """How clients arrive: base rate shape, who they are, and how they retry."""

    diurnal_amplitude: float = 0.0
    clients: int = 200
    client_zipf_exponent: float = 1.1
    path_zipf_exponent: float = 1.2
    bursts: tuple[Burst, ...] = ()
    retry_share: float = 0.5
    max_retries: int = 2
    retry_base_delay_ms: int = 500
    unauthorized_share: float = 0.0
    websocket_messages_per_connection: int = 4


@dataclass(frozen=True)
class Scenario:
    """A named scenario: what it shows, its traffic, and the gateway settings it runs under."""

    name: str
    summary: str
    routes: tuple[Route, ...]
    traffic: Traffic
    config: dict[str, Any]
    start: datetime
    duration_s: int
    rps: float
    seed: int = 1
    api_keys: tuple[str, ...] = ()
    apis: tuple[Api, ...] = field(default=())

    def api(self, name: str) -> Api:
        return next(api for api in self.apis if api.name == name)


def route_label(route: Route) -> str:
    return f"{route.api} {route.method} {route.resource}"


ESTATE = (
    Api("shop", "a1b2c3d4e5", "rest", "prod", "rest-rich-json", "s3-export", True, True),
    Api("partner", "p4r7n3r0k1", "rest", "v1", "rest-clf", "plain"),
    Api("legacy", "l3g4cy0a1b", "rest", "live", "rest-xml", "gzip"),
    Api("billing", "b1ll1ng0c2", "rest", "prod", "rest-csv", "plain"),
    Api("catalog", "h7k9m2p4q6", "http", "$default", "http-json", "subscription"),
    Api("search", "s34rch0h8j", "http", "prod", "http-clf", "plain"),
    Api("chat", "w3s5t7u9v1", "websocket", "production", "websocket-json", "plain"),
)

_LAMBDA = Backend("lambda", 45.0, 0.45, response_bytes_median=1200)
_FAST = Backend("http", 25.0, 0.35, response_bytes_median=2400)
ROUTES = (
    Route("shop", "GET", "/products", 0.30, replace(_FAST, response_bytes_median=8000)),
    Route("shop", "GET", "/products/{id}", 0.20, _FAST, 400),
    Route("shop", "POST", "/orders", 0.12, replace(_LAMBDA, latency_median_ms=120.0)),
    Route("shop", "GET", "/orders/{id}", 0.08, _LAMBDA, 2000),
    Route("shop", "GET", "/reports", 0.03, Backend("http", 900.0, 1.1)),
    Route(
        "shop",
        "POST",
        "/exports",
        0.03,
        Backend(
            "lambda",
            700.0,
            0.9,
            function_timeout_ms=3000,
            function_error_share=0.01,
            malformed_response_share=0.005,
            lambda_throttled_share=0.005,
        ),
    ),
    Route("partner", "GET", "/rates", 0.05, _FAST),
    Route("partner", "POST", "/bookings", 0.02, replace(_LAMBDA, function_error_share=0.01)),
    Route("legacy", "GET", "/accounts/{id}", 0.02, replace(_FAST, backend_5xx_share=0.01), 300),
    Route("billing", "GET", "/invoices", 0.02, _FAST),
    Route("catalog", "GET", "/items", 0.06, _FAST),
    Route("catalog", "GET", "/items/{id}", 0.04, _FAST, 1000),
    Route("search", "GET", "/search", 0.02, _LAMBDA),
    Route(
        "chat",
        "MESSAGE",
        "sendmessage",
        0.01,
        Backend("lambda", 30.0, 0.4, response_bytes_median=0),
    ),
)
API_KEYS = ("key-gold-01", "key-silver-02", "key-free-03", "key-free-04", "key-free-05")

_BASE_CONFIG: dict[str, Any] = {
    "account": {"throttlingRateLimit": 10000, "throttlingBurstLimit": 5000},
    "stages": {
        "shop-prod": {
            "stageName": "prod", "restApiId": "a1b2c3d4e5",
            "methodSettings": {
                "*/*": {"throttlingRateLimit": 500, "throttlingBurstLimit": 250},
                "/orders/POST": {"throttlingRateLimit": 500, "throttlingBurstLimit": 250},
            },
        },
        "partner-v1": {"stageName": "v1", "restApiId": "p4r7n3r0k1"},
        "legacy-live": {"stageName": "live", "restApiId": "l3g4cy0a1b"},
        "billing-prod": {"stageName": "prod", "restApiId": "b1ll1ng0c2"},
        "catalog-default": {
            "stageName": "$default", "apiId": "h7k9m2p4q6", "apiType": "http",
            "defaultRouteSettings": {"ThrottlingRateLimit": 800, "ThrottlingBurstLimit": 400},
        },
        "search-prod": {"stageName": "prod", "apiId": "s34rch0h8j", "apiType": "http"},
    },
    "methods": {
        "/products/GET": {"apiKeyRequired": True},
        "/products/{id}/GET": {"apiKeyRequired": True},
        "/orders/POST": {"apiKeyRequired": True},
        "/orders/{id}/GET": {"apiKeyRequired": True},
        "/reports/GET": {"apiKeyRequired": True, "timeoutInMillis": 29000},
        "/exports/POST": {"apiKeyRequired": True},
    },
    "usagePlans": {
        "pl4n01": {
            "throttle": {"rateLimit": 200, "burstLimit": 100},
            "apiStages": [{"apiId": "a1b2c3d4e5", "stage": "prod"}],
            "apiKeys": list(API_KEYS),
        },
    },
}  # fmt: skip


def _config(*patches: dict[str, Any]) -> dict[str, Any]:
    """The base configuration with nested patches merged in (a patch's dicts merge, values win)."""
    result = copy.deepcopy(_BASE_CONFIG)
    for patch in patches:
        _merge(result, patch)
    return result


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


_METHOD_BURST = {
    "stages": {
        "shop-prod": {
            "methodSettings": {
                "/orders/POST": {"throttlingRateLimit": 20, "throttlingBurstLimit": 40}
            }
        }
    }
}
_QUOTA_AND_KEY_THROTTLE = {
    "usagePlans": {
        "pl4n01": {"apiKeys": ["key-gold-01", "key-silver-02", "key-free-04"]},
        "free": {
            "throttle": {"rateLimit": 5, "burstLimit": 10},
            "quota": {"limit": 2000, "period": "DAY", "offset": 0},
            "apiStages": [{"apiId": "a1b2c3d4e5", "stage": "prod"}],
            "apiKeys": ["key-free-03", "key-free-05"],
        },
    }
}
_SLOW_BACKEND = {"methods": {"/reports/GET": {"timeoutInMillis": 5000}}}
_CACHE = {
    "stages": {
        "shop-prod": {
            "cacheClusterEnabled": True,
            "cacheClusterSize": "0.5",
            "methodSettings": {
                "/products/GET": {"cachingEnabled": True, "cacheTtlInSeconds": 60},
                "/products/{id}/GET": {"cachingEnabled": True, "cacheTtlInSeconds": 30},
                "*/*": {"cachingEnabled": False},
            },
        }
    }
}
_CANARY = {"stages": {"shop-prod": {"canarySettings": {"percentTraffic": 10.0}}}}
_AUTHORIZER = {
    "authorizers": {
        "tok3n1": {
            "type": "TOKEN",
            "authorizerResultTtlInSeconds": 300,
            "identitySource": "method.request.header.Authorization",
        }
    },
    "methods": {"/orders/{id}/GET": {"authorizerId": "tok3n1"}},
}
_START = datetime(2026, 11, 2, 0, 0, 0, tzinfo=UTC)
_MORNING = datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC)


def _routes(*changes: tuple[str, dict[str, Any]]) -> tuple[Route, ...]:
    """The estate's routes with some backends changed: (label, backend field overrides)."""
    changed = dict(changes)
    return tuple(
        replace(r, backend=replace(r.backend, **changed[route_label(r)]))
        if route_label(r) in changed
        else r
        for r in ROUTES
    )


_SLOW_ROUTES = (
    ("shop GET /reports", {"latency_median_ms": 1800.0, "latency_sigma": 1.0}),
    ("shop POST /exports", {"latency_median_ms": 1200.0, "latency_sigma": 0.8}),
)
_CANARY_ROUTES = tuple(
    (route_label(r), {"canary_latency_factor": 1.8}) for r in ROUTES if r.api == "shop"
)
_BURST = Burst(600.0, 90.0, 45.0, "shop POST /orders")
_QUOTA_BURN = Burst(300.0, 1200.0, 1.5, "shop GET /products/{id}", "key-free-03")
_KEY_THROTTLE = Burst(1200.0, 60.0, 12.0, "shop GET /products", "key-free-05")


def _scenario(name: str, summary: str, **fields: Any) -> Scenario:
    defaults: dict[str, Any] = {
        "routes": ROUTES, "traffic": Traffic(), "config": _config(), "start": _MORNING,
        "duration_s": 1800, "rps": 20.0, "api_keys": API_KEYS, "apis": ESTATE,
    }  # fmt: skip
    defaults.update(fields)
    return Scenario(name=name, summary=summary, **defaults)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _scenario(
            "steady",
            "steady diurnal traffic over the whole estate; nothing goes wrong",
            traffic=Traffic(diurnal_amplitude=0.6),
            start=_START,
            duration_s=86_400,
            rps=1.0,
        ),
        _scenario(
            "method-burst",
            "a burst on POST /orders trips its method throttle (20 rps, burst 40): 429 THROTTLED",
            traffic=Traffic(bursts=(_BURST,)),
            config=_config(_METHOD_BURST),
        ),
        _scenario(
            "key-limits",
            "key-free-03 exhausts its daily quota of 2,000 (429 QUOTA_EXCEEDED); key-free-05 "
            "trips its key throttle (5 rps, burst 10) with a 12 rps burst (429 THROTTLED)",
            traffic=Traffic(bursts=(_QUOTA_BURN, _KEY_THROTTLE)),
            config=_config(_QUOTA_AND_KEY_THROTTLE),
        ),
        _scenario(
            "slow-backend",
            "GET /reports outlives its 5 s integration timeout (504); POST /exports hits its "
            "Lambda's own 3 s timeout first (502)",
            routes=_routes(*_SLOW_ROUTES),
            config=_config(_SLOW_BACKEND),
        ),
        _scenario(
            "cache-ttl",
            "GET /products (TTL 60 s) and GET /products/{id} (TTL 30 s) served from the stage "
            "cache; entries expire and are fetched again",
            config=_config(_CACHE),
        ),
        _scenario(
            "canary",
            "10 % of shop traffic goes to a canary deployment whose backends are 1.8x slower",
            routes=_routes(*_CANARY_ROUTES),
            config=_config(_CANARY),
        ),
        _scenario(
            "authorizer",
            "GET /orders/{id} uses a TOKEN authorizer whose results are cached for 300 s; 2 % of "
            "requests carry a bad token (401)",
            traffic=Traffic(unauthorized_share=0.02),
            config=_config(_AUTHORIZER),
        ),
        _scenario(
            "incident-day",
            "a day with everything: diurnal traffic, an order burst, a key burning its quota, a "
            "slow report backend, the product cache, a slow canary and a cached authorizer",
            routes=_routes(*_SLOW_ROUTES, *_CANARY_ROUTES),
            traffic=Traffic(
                diurnal_amplitude=0.5,
                bursts=(
                    replace(_BURST, start_s=10 * 3600.0),
                    replace(_QUOTA_BURN, start_s=8 * 3600.0, duration_s=1800.0),
                    replace(_KEY_THROTTLE, start_s=13 * 3600.0),
                ),
                unauthorized_share=0.02,
            ),
            config=_config(
                _METHOD_BURST,
                _QUOTA_AND_KEY_THROTTLE,
                _SLOW_BACKEND,
                _CACHE,
                _CANARY,
                _AUTHORIZER,
            ),
            start=_START,
            duration_s=86_400,
            rps=0.3,
        ),
    )
}


def scenario_named(name: str) -> Scenario:
    """The scenario called `name`; an unknown name is a ConfigError listing the known ones."""
    return chosen(SCENARIOS, name, "scenario")
