"""Build a gateway configuration from what `aws apigateway ...` / `aws apigatewayv2 ...` print.

Each file is recognised by its content, not its name: `get-stage` (one stage object),
`get-stages` (`item`/`Items`), `get-usage-plans` (`items` of plans), `get-usage-plan-keys`
(`items` of `API_KEY` entries), `get-resources` (`items` with `resourceMethods`) and
`get-authorizers` (`items` with `authorizerResultTtlInSeconds` or `identitySource`).
`get-usage-plan-keys` does not say which plan it lists, so its file name must contain the plan
id, unless there is exactly one usage plan. The result is the raw, AWS-named mapping that
`settings.parse_config` validates; it is validated before it is returned.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from apigw_analytics.errors import ConfigError
from apigw_analytics.gateway.settings import parse_config

_STAGE_FIELDS = (
    "cacheClusterEnabled", "cacheClusterSize", "methodSettings", "canarySettings",
    "defaultRouteSettings", "routeSettings",
)  # fmt: skip
_METHOD_SETTING_FIELDS = (
    "throttlingRateLimit", "throttlingBurstLimit", "cachingEnabled", "cacheTtlInSeconds",
    "requireAuthorizationForCacheControl", "unauthorizedCacheControlHeaderStrategy",
)  # fmt: skip
_ROUTE_SETTING_FIELDS = ("ThrottlingRateLimit", "ThrottlingBurstLimit")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except ValueError as error:
        raise ConfigError(f"{path}: not the JSON the AWS CLI prints: {error}") from None


def _kind(document: Any) -> tuple[str, list[dict[str, Any]]]:
    """What a CLI output holds: stage, usage_plan, usage_plan_key, resource or authorizer."""
    if isinstance(document, dict) and ("stageName" in document or "StageName" in document):
        return "stage", [document]
    items = None
    if isinstance(document, dict):
        items = document.get("item") or document.get("items") or document.get("Items")
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        return "unknown", []
    first = items[0]
    if "stageName" in first or "StageName" in first:
        return "stage", items
    if "apiStages" in first or "quota" in first or "throttle" in first:
        return "usage_plan", items
    if first.get("type") == "API_KEY":
        return "usage_plan_key", items
    if "resourceMethods" in first or "pathPart" in first or first.get("path") == "/":
        return "resource", items
    if "identitySource" in first or "authorizerResultTtlInSeconds" in first:
        return "authorizer", items
    return "unknown", []


def _stage(item: dict[str, Any], api_id: str | None) -> dict[str, Any]:
    is_http = "StageName" in item
    stage: dict[str, Any] = {"apiType": "http" if is_http else "rest"}
    if api_id:
        stage["apiId"] = api_id
    for name in _STAGE_FIELDS:
        value = item.get(name, item.get(name[0].upper() + name[1:]))
        if value is None:
            continue
        if name == "methodSettings":
            value = {
                key: {f: v for f, v in entry.items() if f in _METHOD_SETTING_FIELDS}
                for key, entry in value.items()
            }
        elif name == "routeSettings":
            value = {
                key: {f: v for f, v in entry.items() if f in _ROUTE_SETTING_FIELDS}
                for key, entry in value.items()
            }
        elif name == "defaultRouteSettings":
            value = {f: v for f, v in value.items() if f in _ROUTE_SETTING_FIELDS}
        elif name == "canarySettings":
            value = {f: v for f, v in value.items() if f in ("percentTraffic", "useStageCache")}
        stage[name] = value
    return stage


def _methods(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    methods: dict[str, dict[str, Any]] = {}
    for resource in items:
        for verb, method in (resource.get("resourceMethods") or {}).items():
            entry: dict[str, Any] = {}
            if "apiKeyRequired" in method:
                entry["apiKeyRequired"] = method["apiKeyRequired"]
            if method.get("authorizerId"):
                entry["authorizerId"] = method["authorizerId"]
            timeout = (method.get("methodIntegration") or {}).get("timeoutInMillis")
            if timeout is not None:
                entry["timeoutInMillis"] = timeout
            methods[f"{resource.get('path', '/')}/{verb}"] = entry
    return methods


def _usage_plan(item: dict[str, Any]) -> dict[str, Any]:
    plan: dict[str, Any] = {"apiKeys": []}
    if item.get("throttle"):
        plan["throttle"] = dict(item["throttle"])
    if item.get("quota"):
        plan["quota"] = dict(item["quota"])
    plan["apiStages"] = [
        {k: v for k, v in stage.items() if k in ("apiId", "stage", "throttle")}
        for stage in item.get("apiStages") or []
    ]
    return plan


def import_aws_json(paths: list[Path], api_id: str | None = None) -> dict[str, Any]:
    """The raw configuration built from AWS CLI outputs (validated; AWS defaults elsewhere)."""
    raw: dict[str, Any] = {}
    key_files: list[tuple[Path, list[dict[str, Any]]]] = []
    for path in paths:
        kind, items = _kind(_read_json(path))
        if kind == "unknown":
            raise ConfigError(
                f"{path}: not recognised as get-stage(s), get-usage-plans, get-usage-plan-keys,"
                " get-resources or get-authorizers output"
            )
        if kind == "stage":
            for item in items:
                name = item.get("stageName") or item.get("StageName")
                raw.setdefault("stages", {})[name] = _stage(item, api_id)
        elif kind == "usage_plan":
            for item in items:
                raw.setdefault("usagePlans", {})[item["id"]] = _usage_plan(item)
        elif kind == "resource":
            raw.setdefault("methods", {}).update(_methods(items))
        elif kind == "authorizer":
            for item in items:
                raw.setdefault("authorizers", {})[item["id"]] = {
                    k: item[k]
                    for k in ("type", "authorizerResultTtlInSeconds", "identitySource")
                    if k in item
                }
        else:
            key_files.append((path, items))
    plans = raw.get("usagePlans", {})
    for path, items in key_files:
        named = [plan_id for plan_id in plans if plan_id in path.name]
        if len(named) != 1 and len(plans) != 1:
            raise ConfigError(
                f"{path}: get-usage-plan-keys output does not name its plan; put the plan id"
                f" in the file name (plans: {', '.join(plans) or 'none imported'})"
            )
        plan_id = named[0] if len(named) == 1 else next(iter(plans))
        plans[plan_id]["apiKeys"].extend(item["id"] for item in items)
    parse_config(raw)
    return raw
