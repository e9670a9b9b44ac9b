"""Ground truth: arrivals recorded through an independent pure-Python gateway, then replayed.

The recorder below is written from the documented semantics (policy.py), not from the kernels:
token buckets that start full, every layer must admit, a per-path cache with a TTL, an
integration timeout. Replaying its recording with the same configuration must agree on at least
99.9 % of requests.
"""

from __future__ import annotations

import numpy as np

from apigw_analytics.gateway.config import load_config
from apigw_analytics.gateway.replay import run_replay

T0_MS = 1_767_225_600_000
CONFIG = [
    "account.throttlingRateLimit=400",
    "account.throttlingBurstLimit=200",
    'stages.prod.methodSettings."*/*".throttlingRateLimit=150',
    'stages.prod.methodSettings."*/*".throttlingBurstLimit=60',
    'stages.prod.methodSettings."*/*".cachingEnabled=false',
    'stages.prod.methodSettings."/orders/GET".throttlingRateLimit=80',
    'stages.prod.methodSettings."/orders/GET".throttlingBurstLimit=40',
    'stages.prod.methodSettings."/items/GET".cachingEnabled=true',
    'stages.prod.methodSettings."/items/GET".cacheTtlInSeconds=2',
    "stages.prod.cacheClusterEnabled=true",
    'usagePlans.p1={"throttle": {"rateLimit": 30, "burstLimit": 15},'
    ' "apiStages": [{"stage": "prod"}], "apiKeys": ["k0", "k1", "k2"]}',
    'methods."/orders/POST".timeoutInMillis=300',
]
ROUTES = [("GET", "/orders"), ("POST", "/orders"), ("GET", "/items"), ("GET", "/users")]
LIMITS = {
    "account": (400.0, 200.0),
    "/orders/GET": (80.0, 40.0),
    "/orders/POST": (150.0, 60.0),
    "/items/GET": (150.0, 60.0),
    "/users/GET": (150.0, 60.0),
}


class Bucket:
    def __init__(self, rate_rps: float, burst: float) -> None:
        self.rate_per_ms, self.burst, self.tokens, self.last_ms = (
            rate_rps / 1000,
            burst,
            burst,
            None,
        )

    def has_token(self, now_ms: int) -> bool:
        if self.last_ms is not None and now_ms > self.last_ms:
            self.tokens = min(self.burst, self.tokens + (now_ms - self.last_ms) * self.rate_per_ms)
        self.last_ms = now_ms if self.last_ms is None else max(self.last_ms, now_ms)
        return self.tokens >= 1


def record(count: int, seed: int) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    t_ms = T0_MS + np.sort(rng.integers(0, 60_000, count))
    buckets = {name: Bucket(*limits) for name, limits in LIMITS.items()}
    key_buckets = {key: Bucket(30.0, 15.0) for key in ("k0", "k1", "k2")}
    cache_expiry: dict[str, int] = {}
    rows: dict[str, list] = {
        c: [] for c in ("t", "method", "resource", "path", "key", "status", "integration", "type")
    }
    for t in t_ms.tolist():
        method, resource = ROUTES[rng.integers(len(ROUTES))]
        key = ["k0", "k1", "k2", None][rng.integers(4)]
        path = f"/prod{resource}/{rng.integers(3)}"
        latency = int(rng.gamma(2.0, 80.0))
        layers = [key_buckets[key]] if key else []
        layers += [buckets[f"{resource}/{method}"], buckets["account"]]
        status, integration, kind = 200, latency, None
        if not all(layer.has_token(t) for layer in layers):
            status, integration, kind = 429, None, "THROTTLED"
        else:
            for layer in layers:
                layer.tokens -= 1
            if resource == "/items" and cache_expiry.get(path, -1) > t:
                integration = None
            elif method == "POST" and latency >= 300:
                status, integration, kind = 504, 300, "INTEGRATION_TIMEOUT"
            elif resource == "/items":
                cache_expiry[path] = t + 2_000
        for column, value in zip(
            rows, (t, method, resource, path, key, status, integration, kind), strict=True
        ):
            rows[column].append(value)
    return rows


def test_replay_agrees_with_recording_of_known_configuration(
    tmp_path, access_frame, write_warehouse
):
    rows = record(20_000, seed=11)
    frame = access_frame(
        np.array(rows["t"]),
        http_method=rows["method"],
        resource_path=rows["resource"],
        path=rows["path"],
        api_key_id=rows["key"],
        status=rows["status"],
        integration_latency_ms=rows["integration"],
        error_response_type=rows["type"],
        latency_ms=[(v or 0) + 5 for v in rows["integration"]],
    )
    statuses = np.array(rows["status"])
    assert (statuses == 429).sum() > 500 and (statuses == 504).sum() > 100
    assert (
        sum(1 for s, i in zip(statuses, rows["integration"], strict=True) if s == 200 and i is None)
        > 500
    )
    root = write_warehouse(tmp_path / "data", frame)
    report = run_replay(root, load_config(None, CONFIG), "truth")
    assert report.requests == 20_000
    assert report.status_agreement >= 0.999
    confusion = report.confusion
    assert confusion.trace() / confusion.sum() >= 0.999
