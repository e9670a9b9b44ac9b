"""Configuration → the numeric tables the kernels read, built once per distinct route and client.

Settings are resolved in Python, but only once per distinct route (api × stage × method ×
resource) and per distinct (route, API key) pair seen in the arrivals: a few hundred or thousand
rows, not one per request. Each request then carries two small integers (route, profile) and the
compiled loop finds every limit through them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from apigw_analytics.errors import ConfigError
from apigw_analytics.gateway.config import GatewayConfig, MethodSetting, Stage, Throttle
from apigw_analytics.gateway.policy import (
    CC_ALLOW,
    CC_FAIL_403,
    CC_IGNORE,
    DEFAULT_CACHE_TTL_S,
    HTTP_DEFAULT_TIMEOUT_MS,
    REST_DEFAULT_TIMEOUT_MS,
)
from apigw_analytics.gateway.settings import normalise_method_key

QUOTA_PERIOD_CODES = {"DAY": 0, "WEEK": 1, "MONTH": 2}
_NO_SETTING = MethodSetting()


@dataclass
class PolicyTables:
    """Per-route and per-profile settings as arrays, plus the bucket and quota tables."""

    route_timeout_ms: np.ndarray
    route_cache_ttl_ms: np.ndarray
    route_cc_rule: np.ndarray
    route_auth_ttl_ms: np.ndarray
    route_authorizer: np.ndarray
    route_canary_percent: np.ndarray
    route_canary_uses_cache: np.ndarray
    route_cache_owner: np.ndarray
    cache_capacity_bytes: np.ndarray
    profile_buckets: np.ndarray
    profile_quota: np.ndarray
    bucket_rate_per_ms: np.ndarray
    bucket_burst: np.ndarray
    bucket_names: list[tuple[str, ...]]
    quota_limit: np.ndarray
    quota_offset: np.ndarray
    quota_period: np.ndarray
    cacheable_status_max: int


def route_method_key(
    api_type: str | None, method: str, resource: str | None, route: str | None
) -> str:
    """The settings key of a recorded request: `/res/METHOD` (REST) or the route key (HTTP)."""
    if api_type in ("http", "websocket"):
        return route or f"{method} {resource or '/'}"
    return normalise_method_key(f"{resource or '/'}/{method}")


def _find_stage(config: GatewayConfig, api_id: str | None, name: str | None) -> Stage | None:
    for stage in config.stages:
        if stage.name == name and (stage.api_id is None or stage.api_id == api_id):
            return stage
    return None


class _Buckets:
    """Deduplicating registry of token buckets, with the model's slack applied."""

    def __init__(self, slack: float) -> None:
        self.index: dict[tuple[str, ...], int] = {}
        self.throttles: list[Throttle] = []
        self.slack = slack

    def add(self, name: tuple[str, ...], throttle: Throttle | None) -> int:
        if throttle is None or throttle.is_unlimited:
            return -1
        if name not in self.index:
            self.index[name] = len(self.throttles)
            self.throttles.append(throttle)
        return self.index[name]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        scale = 1.0 + self.slack
        rate = np.array([t.rate_rps * scale / 1000.0 for t in self.throttles], np.float64)
        burst = np.array([t.burst * scale for t in self.throttles], np.float64)
        return rate, burst


def _caching(stage: Stage, method: str, specific: MethodSetting, default: MethodSetting) -> int:
    """Cache TTL in ms for a method, 0 when it is not cached."""
    if not stage.cache_cluster_enabled:
        return 0
    if specific.caching_enabled is not None:
        enabled = specific.caching_enabled
    else:
        enabled = method == "GET" and default.caching_enabled is not False
    ttl_s = specific.cache_ttl_s
    if ttl_s is None:
        ttl_s = default.cache_ttl_s if default.cache_ttl_s is not None else DEFAULT_CACHE_TTL_S
    return ttl_s * 1000 if enabled else 0


def _cc_rule(specific: MethodSetting, default: MethodSetting, callers_may: bool) -> int:
    require = specific.require_authorization_for_cache_control
    if require is None:
        require = default.require_authorization_for_cache_control is not False
    strategy = (
        specific.unauthorized_cache_control_strategy or default.unauthorized_cache_control_strategy
    )
    if not require or callers_may:
        return CC_ALLOW
    return CC_FAIL_403 if strategy == "FAIL_WITH_403" else CC_IGNORE


def build_tables(
    config: GatewayConfig, routes: pl.DataFrame, profiles: pl.DataFrame
) -> PolicyTables:
    """Resolve settings for each route row and each (route, api_key_id) profile row.

    `routes` has api_id, api_type, stage, http_method, resource_path, route_key (row = route
    code); `profiles` has route and api_key_id (row = profile code).
    """
    model = config.model
    buckets = _Buckets(model.throttle_slack)
    account = buckets.add(("account",), config.account)
    authorizer_ids = sorted(config.authorizers)
    cache_stages: dict[str, int] = {}
    capacities: list[int] = []
    n = routes.height
    route_arrays = {
        "timeout": np.zeros(n, np.int64),
        "ttl": np.zeros(n, np.int64),
        "cc": np.zeros(n, np.int8),
        "auth_ttl": np.zeros(n, np.int64),
        "authorizer": np.full(n, -1, np.int32),
        "canary": np.zeros(n, np.float64),
        "canary_cache": np.zeros(n, np.bool_),
        "owner": np.full(n, -1, np.int32),
    }
    route_layers: list[tuple[int, int]] = []
    route_keys: list[tuple[str, str, str, bool | None]] = []
    for r, row in enumerate(routes.iter_rows(named=True)):
        method = (row["http_method"] or "").upper()
        key = route_method_key(row["api_type"], method, row["resource_path"], row["route_key"])
        stage = _find_stage(config, row["api_id"], row["stage"])
        is_http = row["api_type"] == "http" or (stage is not None and stage.api_type == "http")
        settings = stage.method_settings if stage else {}
        specific = settings.get(key, _NO_SETTING)
        default = settings.get("*/*", _NO_SETTING)
        stage_id = f"{row['api_id']}/{row['stage']}"
        method_bucket = buckets.add(("method", stage_id, key), specific.throttle)
        stage_scope = key if model.stage_throttle_scope == "per_method" else "*"
        stage_bucket = -1
        if specific.throttle is None or model.stage_throttle_scope == "shared":
            stage_bucket = buckets.add(("stage", stage_id, stage_scope), default.throttle)
        route_layers.append((method_bucket, stage_bucket))
        method_config = config.methods.get(key)
        default_timeout = HTTP_DEFAULT_TIMEOUT_MS if is_http else REST_DEFAULT_TIMEOUT_MS
        timeout = method_config.timeout_ms if method_config else None
        route_arrays["timeout"][r] = timeout or default_timeout
        if stage is not None and not is_http:
            route_arrays["ttl"][r] = _caching(stage, method, specific, default)
            route_arrays["cc"][r] = _cc_rule(specific, default, model.callers_may_invalidate)
            if route_arrays["ttl"][r] > 0:
                route_arrays["owner"][r] = cache_stages.setdefault(stage_id, len(capacities))
                if len(capacities) < len(cache_stages):
                    capacities.append(stage.cache_capacity_bytes)
        if stage is not None and stage.canary is not None:
            route_arrays["canary"][r] = stage.canary.percent_traffic
            route_arrays["canary_cache"][r] = stage.canary.use_stage_cache
        authorizer_id = method_config.authorizer_id if method_config else None
        if authorizer_id:
            if authorizer_id not in config.authorizers:
                raise ConfigError(f'methods."{key}".authorizerId: no authorizer {authorizer_id!r}')
            route_arrays["authorizer"][r] = authorizer_ids.index(authorizer_id)
            route_arrays["auth_ttl"][r] = config.authorizers[authorizer_id].result_ttl_s * 1000
        required = method_config.api_key_required if method_config else None
        route_keys.append((stage_id, key, row["stage"] or "", required))
    profile_buckets, profile_quota, quotas = _profiles(
        config, buckets, routes, profiles, route_layers, route_keys, account
    )
    rate, burst = buckets.arrays()
    return PolicyTables(
        route_timeout_ms=route_arrays["timeout"],
        route_cache_ttl_ms=route_arrays["ttl"],
        route_cc_rule=route_arrays["cc"],
        route_auth_ttl_ms=route_arrays["auth_ttl"],
        route_authorizer=route_arrays["authorizer"],
        route_canary_percent=route_arrays["canary"],
        route_canary_uses_cache=route_arrays["canary_cache"],
        route_cache_owner=route_arrays["owner"],
        cache_capacity_bytes=np.array(capacities, np.int64),
        profile_buckets=profile_buckets,
        profile_quota=profile_quota,
        bucket_rate_per_ms=rate,
        bucket_burst=burst,
        bucket_names=list(buckets.index),
        quota_limit=np.array([q[0] for q in quotas], np.int64),
        quota_offset=np.array([q[1] for q in quotas], np.int64),
        quota_period=np.array([q[2] for q in quotas], np.int8),
        cacheable_status_max=model.cacheable_status_max,
    )


def _profiles(
    config: GatewayConfig,
    buckets: _Buckets,
    routes: pl.DataFrame,
    profiles: pl.DataFrame,
    route_layers: list[tuple[int, int]],
    route_keys: list[tuple[str, str, str, bool | None]],
    account: int,
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """Bucket ids per profile in evaluation order: plan-method, plan, method, stage, account."""
    api_ids = routes["api_id"].to_list()
    quota_index: dict[tuple[str, str], int] = {}
    quotas: list[tuple[int, int, int]] = []
    rows = np.full((profiles.height, 5), -1, np.int32)
    quota_of = np.full(profiles.height, -1, np.int32)
    for p, (route, api_key) in enumerate(profiles.select("route", "api_key_id").iter_rows()):
        method_bucket, stage_bucket = route_layers[route]
        rows[p, 2:] = (method_bucket, stage_bucket, account)
        stage_id, key, stage_name, required = route_keys[route]
        counts = required if required is not None else api_key is not None
        if api_key is None or not counts:
            continue
        for plan in config.usage_plans:
            plan_stage = next(
                (
                    s
                    for s in plan.api_stages
                    if s.stage == stage_name and s.api_id in (None, api_ids[route])
                ),
                None,
            )
            if plan_stage is None or api_key not in plan.api_key_ids:
                continue
            rows[p, 0] = buckets.add(
                ("plan_method", plan.plan_id, api_key, stage_id, key),
                plan_stage.method_throttles.get(key),
            )
            rows[p, 1] = buckets.add(("plan", plan.plan_id, api_key), plan.throttle)
            if plan.quota is not None:
                quota_key = (plan.plan_id, api_key)
                if quota_key not in quota_index:
                    quota_index[quota_key] = len(quotas)
                    period = QUOTA_PERIOD_CODES[plan.quota.period]
                    quotas.append((plan.quota.limit, plan.quota.offset, period))
                quota_of[p] = quota_index[quota_key]
            break
    return rows, quota_of, quotas
