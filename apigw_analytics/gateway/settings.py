"""Parse and validate the raw (AWS-named) configuration mapping into `GatewayConfig`.

Every error names the setting by its path in the file (`stages.prod.methodSettings."*/*".
throttlingBurstLimit`) and says what is accepted, so a typo in a `--set` is caught, not ignored.
AWS's CLI prints many fields the model does not use (logging, tags, dates); those are accepted and
ignored by name, anything else unknown is an error. HTTP API output uses PascalCase
(`ThrottlingBurstLimit`); both spellings are read.
"""

from __future__ import annotations

import math
from typing import Any

from apigw_analytics.errors import ConfigError
from apigw_analytics.gateway.config import (
    Authorizer,
    Canary,
    GatewayConfig,
    Method,
    MethodSetting,
    ModelSettings,
    PlanStage,
    Quota,
    Stage,
    Throttle,
    UsagePlan,
)

CACHE_CLUSTER_SIZES_GB = ("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237")
CACHE_STRATEGIES = (
    "FAIL_WITH_403",
    "SUCCEED_WITH_RESPONSE_HEADER",
    "SUCCEED_WITHOUT_RESPONSE_HEADER",
)
QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")
AUTHORIZER_TYPES = ("TOKEN", "REQUEST", "COGNITO_USER_POOLS", "JWT")
STAGE_SCOPES = ("per_method", "shared")
MAX_CACHE_TTL_S = 3600
REST_TIMEOUT_MAX_MS = 300_000
HTTP_TIMEOUT_MAX_MS = 30_000
MIN_TIMEOUT_MS = 50
_BYTES_PER_GB = 1 << 30

_IGNORED = frozenset(
    {
        "metricsEnabled", "loggingLevel", "dataTraceEnabled", "cacheDataEncrypted",
        "detailedMetricsEnabled", "deploymentId", "description", "createdDate",
        "lastUpdatedDate", "cacheClusterStatus", "tracingEnabled", "variables", "tags",
        "accessLogSettings", "webAclArn", "clientCertificateId", "documentationVersion",
        "stageVariables", "stageVariableOverrides", "autoDeploy", "apiGatewayManaged",
        "lastDeploymentStatusMessage", "name", "id", "productCode",
    }
)  # fmt: skip
_METHOD_SETTING_KEYS = frozenset(
    {
        "throttlingRateLimit", "throttlingBurstLimit", "cachingEnabled", "cacheTtlInSeconds",
        "requireAuthorizationForCacheControl", "unauthorizedCacheControlHeaderStrategy",
    }
)  # fmt: skip
_STAGE_KEYS = frozenset(
    {
        "stageName", "apiId", "restApiId", "apiType", "cacheClusterEnabled", "cacheClusterSize",
        "methodSettings", "canarySettings", "defaultRouteSettings", "routeSettings",
    }
)  # fmt: skip
_TOP_KEYS = frozenset({"account", "stages", "usagePlans", "methods", "authorizers", "model"})


def _get(mapping: dict[str, Any], name: str) -> Any:
    """A setting by its camelCase name, or the PascalCase spelling apigatewayv2 prints."""
    if name in mapping:
        return mapping[name]
    return mapping.get(name[0].upper() + name[1:])


def _check_keys(where: str, mapping: Any, known: frozenset[str]) -> dict[str, Any]:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a table of settings, got {mapping!r}")
    for key in mapping:
        camel = key[0].lower() + key[1:] if key else key
        if camel not in known and camel not in _IGNORED:
            raise ConfigError(f"{where}.{key}: unknown setting (accepted: {', '.join(known)})")
    return mapping


def _number(where: str, value: Any, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"{where}: expected a number ≥ {minimum:g}, got {value!r}")
    return float(value)


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _choice(where: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _limit(where: str, value: Any) -> float:
    """A rate or burst; absent or -1 (AWS's 'not set') means no limit at this layer."""
    if value is None or value == -1:
        return math.inf
    return _number(where, value)


def _throttle(where: str, mapping: dict[str, Any], rate_name: str, burst_name: str) -> Throttle:
    rate = _limit(f"{where}.{rate_name}", _get(mapping, rate_name))
    burst = _limit(f"{where}.{burst_name}", _get(mapping, burst_name))
    if not math.isinf(burst) and burst != int(burst):
        raise ConfigError(f"{where}.{burst_name}: expected a whole number, got {burst!r}")
    return Throttle(rate, burst)


def normalise_method_key(key: str) -> str:
    """`*/*`, `~1orders/GET`, `orders/GET` and `/orders/GET` → `/orders/GET`; route keys as is."""
    if key == "*/*" or " " in key or key.startswith("$"):
        return key
    resource, _, method = key.replace("~1", "/").rpartition("/")
    if not method:
        raise ConfigError(f"{key!r}: a method key is 'resource/METHOD' or '*/*'")
    trimmed = resource.strip("/")
    return f"/{trimmed}/{method.upper()}" if trimmed else f"//{method.upper()}"


def _method_setting(where: str, mapping: Any) -> MethodSetting:
    _check_keys(where, mapping, _METHOD_SETTING_KEYS)
    throttle = _throttle(where, mapping, "throttlingRateLimit", "throttlingBurstLimit")
    ttl = _get(mapping, "cacheTtlInSeconds")
    if ttl is not None:
        ttl = int(_number(f"{where}.cacheTtlInSeconds", ttl))
        if ttl > MAX_CACHE_TTL_S:
            raise ConfigError(f"{where}.cacheTtlInSeconds: at most {MAX_CACHE_TTL_S}, got {ttl}")
    caching = _get(mapping, "cachingEnabled")
    require = _get(mapping, "requireAuthorizationForCacheControl")
    strategy = _get(mapping, "unauthorizedCacheControlHeaderStrategy")
    return MethodSetting(
        throttle=None if throttle.is_unlimited else throttle,
        caching_enabled=None if caching is None else _bool(f"{where}.cachingEnabled", caching),
        cache_ttl_s=ttl,
        require_authorization_for_cache_control=None
        if require is None
        else _bool(f"{where}.requireAuthorizationForCacheControl", require),
        unauthorized_cache_control_strategy=None
        if strategy is None
        else _choice(f"{where}.unauthorizedCacheControlHeaderStrategy", strategy, CACHE_STRATEGIES),
    )


def _stage(key: str, mapping: Any) -> Stage:
    where = f"stages.{key}"
    _check_keys(where, mapping, _STAGE_KEYS)
    api_type = _choice(f"{where}.apiType", _get(mapping, "apiType") or "rest", ("rest", "http"))
    settings: dict[str, MethodSetting] = {}
    if api_type == "http":
        default = _get(mapping, "defaultRouteSettings")
        if default is not None:
            settings["*/*"] = _method_setting(f"{where}.defaultRouteSettings", default)
        for route, entry in (_get(mapping, "routeSettings") or {}).items():
            settings[route] = _method_setting(f'{where}.routeSettings."{route}"', entry)
    for method_key, entry in (_get(mapping, "methodSettings") or {}).items():
        settings[normalise_method_key(method_key)] = _method_setting(
            f'{where}.methodSettings."{method_key}"', entry
        )
    size = str(_get(mapping, "cacheClusterSize") or "0.5")
    size = _choice(f"{where}.cacheClusterSize", size, CACHE_CLUSTER_SIZES_GB)
    cache_enabled = _bool(
        f"{where}.cacheClusterEnabled", bool(_get(mapping, "cacheClusterEnabled") or False)
    )
    if cache_enabled and api_type == "http":
        raise ConfigError(f"{where}.cacheClusterEnabled: HTTP APIs have no stage cache")
    return Stage(
        name=str(_get(mapping, "stageName") or key),
        api_id=_get(mapping, "apiId") or _get(mapping, "restApiId"),
        api_type=api_type,
        cache_cluster_enabled=cache_enabled,
        cache_capacity_bytes=int(float(size) * _BYTES_PER_GB),
        method_settings=settings,
        canary=_canary(f"{where}.canarySettings", _get(mapping, "canarySettings")),
    )


def _canary(where: str, mapping: Any) -> Canary | None:
    if mapping is None:
        return None
    _check_keys(where, mapping, frozenset({"percentTraffic", "useStageCache"}))
    percent = _number(f"{where}.percentTraffic", _get(mapping, "percentTraffic") or 0.0)
    if percent > 100.0:
        raise ConfigError(f"{where}.percentTraffic: between 0 and 100, got {percent}")
    use_cache = _get(mapping, "useStageCache")
    return Canary(percent, _bool(f"{where}.useStageCache", bool(use_cache)))


def _usage_plan(key: str, mapping: Any) -> UsagePlan:
    where = f"usagePlans.{key}"
    known = frozenset({"throttle", "quota", "apiStages", "apiKeys"})
    _check_keys(where, mapping, known)
    throttle = None
    if (raw_throttle := mapping.get("throttle")) is not None:
        _check_keys(f"{where}.throttle", raw_throttle, frozenset({"rateLimit", "burstLimit"}))
        throttle = _throttle(f"{where}.throttle", raw_throttle, "rateLimit", "burstLimit")
    quota = None
    if (raw_quota := mapping.get("quota")) is not None:
        _check_keys(f"{where}.quota", raw_quota, frozenset({"limit", "period", "offset"}))
        quota = Quota(
            limit=int(_number(f"{where}.quota.limit", raw_quota.get("limit"))),
            period=_choice(f"{where}.quota.period", raw_quota.get("period"), QUOTA_PERIODS),
            offset=int(_number(f"{where}.quota.offset", raw_quota.get("offset", 0))),
        )
    stages = []
    for index, entry in enumerate(mapping.get("apiStages") or []):
        stage_where = f"{where}.apiStages.{index}"
        _check_keys(stage_where, entry, frozenset({"apiId", "stage", "throttle"}))
        if not entry.get("stage"):
            raise ConfigError(f"{stage_where}.stage: required")
        throttles = {
            normalise_method_key(method): _throttle(
                f'{stage_where}.throttle."{method}"', limits, "rateLimit", "burstLimit"
            )
            for method, limits in (entry.get("throttle") or {}).items()
        }
        stages.append(PlanStage(entry.get("apiId"), str(entry["stage"]), throttles))
    keys = mapping.get("apiKeys") or []
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"{where}.apiKeys: expected a list of API key ids")
    return UsagePlan(str(key), throttle, quota, tuple(stages), frozenset(keys))


def _method(key: str, mapping: Any) -> Method:
    where = f'methods."{key}"'
    _check_keys(where, mapping, frozenset({"apiKeyRequired", "authorizerId", "timeoutInMillis"}))
    required = _get(mapping, "apiKeyRequired")
    timeout = _get(mapping, "timeoutInMillis")
    if timeout is not None:
        maximum = HTTP_TIMEOUT_MAX_MS if " " in key else REST_TIMEOUT_MAX_MS
        timeout = int(_number(f"{where}.timeoutInMillis", timeout, minimum=MIN_TIMEOUT_MS))
        if timeout > maximum:
            raise ConfigError(f"{where}.timeoutInMillis: at most {maximum}, got {timeout}")
    return Method(
        api_key_required=None if required is None else _bool(f"{where}.apiKeyRequired", required),
        authorizer_id=_get(mapping, "authorizerId"),
        timeout_ms=timeout,
    )


def _authorizer(key: str, mapping: Any) -> Authorizer:
    where = f"authorizers.{key}"
    known = frozenset({"type", "authorizerResultTtlInSeconds", "identitySource"})
    _check_keys(where, mapping, known)
    kind = _choice(f"{where}.type", _get(mapping, "type") or "TOKEN", AUTHORIZER_TYPES)
    raw_ttl = _get(mapping, "authorizerResultTtlInSeconds")
    ttl = int(_number(f"{where}.authorizerResultTtlInSeconds", 300 if raw_ttl is None else raw_ttl))
    if ttl > MAX_CACHE_TTL_S:
        raise ConfigError(f"{where}.authorizerResultTtlInSeconds: at most 3600, got {ttl}")
    sources = _get(mapping, "identitySource") or ""
    if isinstance(sources, str):
        sources = [part.strip() for part in sources.split(",") if part.strip()]
    return Authorizer(str(key), kind, ttl, tuple(sources))


def _model(mapping: Any) -> ModelSettings:
    known = frozenset(
        {"throttleSlack", "stageThrottleScope", "seed", "cacheableStatusMax"}
        | {"callersMayInvalidate"}
    )
    _check_keys("model", mapping, known)
    defaults = ModelSettings()
    return ModelSettings(
        throttle_slack=_number("model.throttleSlack", mapping.get("throttleSlack", 0.0)),
        stage_throttle_scope=_choice(
            "model.stageThrottleScope",
            mapping.get("stageThrottleScope", defaults.stage_throttle_scope),
            STAGE_SCOPES,
        ),
        seed=int(_number("model.seed", mapping.get("seed", defaults.seed))),
        cacheable_status_max=int(
            _number("model.cacheableStatusMax", mapping.get("cacheableStatusMax", 299))
        ),
        callers_may_invalidate=_bool(
            "model.callersMayInvalidate", mapping.get("callersMayInvalidate", False)
        ),
    )


def parse_config(raw: dict[str, Any]) -> GatewayConfig:
    """Validate the raw mapping and build the typed configuration (AWS defaults fill gaps)."""
    _check_keys("(top level)", raw, _TOP_KEYS)
    account_raw = raw.get("account") or {}
    _check_keys("account", account_raw, frozenset({"throttlingRateLimit", "throttlingBurstLimit"}))
    account = Throttle(
        _number("account.throttlingRateLimit", account_raw.get("throttlingRateLimit", 10_000.0)),
        _number("account.throttlingBurstLimit", account_raw.get("throttlingBurstLimit", 5_000)),
    )
    sections = {name: raw.get(name) or {} for name in ("stages", "usagePlans", "methods")}
    for name, section in sections.items():
        if not isinstance(section, dict):
            raise ConfigError(f"{name}: expected a table keyed by name/id")
    return GatewayConfig(
        account=account,
        stages=tuple(_stage(key, value) for key, value in sections["stages"].items()),
        usage_plans=tuple(_usage_plan(k, v) for k, v in sections["usagePlans"].items()),
        methods={
            normalise_method_key(key): _method(key, value)
            for key, value in sections["methods"].items()
        },
        authorizers={
            key: _authorizer(key, value) for key, value in (raw.get("authorizers") or {}).items()
        },
        model=_model(raw.get("model") or {}),
        raw=raw,
    )
