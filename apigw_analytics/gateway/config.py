"""The gateway configuration: AWS's own setting names in, typed dataclasses out.

A configuration file (TOML, JSON, or YAML when PyYAML is installed) holds the account limits,
the stages (REST `methodSettings`, HTTP `defaultRouteSettings`/`routeSettings`, cache, canary),
the API's methods (`apiKeyRequired`, `authorizerId`, `timeoutInMillis`), authorizers and usage
plans, spelled as `aws apigateway` prints them, plus a `model` table for the choices AWS leaves
undocumented (see `policy.py`). The raw mapping is kept so that `--set path=value` overrides are
applied in the same names the user reads in the AWS console, before parsing and validation.
Parsing and validation live in `settings.py`; this module loads files and applies overrides.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apigw_analytics.errors import ConfigError

UNLIMITED_RPS = math.inf


@dataclass(frozen=True)
class Throttle:
    """A token bucket: refill rate (tokens/s) and capacity (burst)."""

    rate_rps: float
    burst: float

    @property
    def is_unlimited(self) -> bool:
        return math.isinf(self.rate_rps) and math.isinf(self.burst)


UNLIMITED = Throttle(UNLIMITED_RPS, math.inf)


@dataclass(frozen=True)
class MethodSetting:
    """One `methodSettings` entry (REST) or route setting (HTTP); None = not set here."""

    throttle: Throttle | None = None
    caching_enabled: bool | None = None
    cache_ttl_s: int | None = None
    require_authorization_for_cache_control: bool | None = None
    unauthorized_cache_control_strategy: str | None = None


@dataclass(frozen=True)
class Canary:
    """`canarySettings`: the share of requests sent to the canary and whether it uses the cache."""

    percent_traffic: float
    use_stage_cache: bool


@dataclass(frozen=True)
class Stage:
    """One stage. `method_settings` keys are normalised: `*/*` or `/resource/METHOD`."""

    name: str
    api_id: str | None
    api_type: str
    cache_cluster_enabled: bool
    cache_capacity_bytes: int
    method_settings: dict[str, MethodSetting]
    canary: Canary | None


@dataclass(frozen=True)
class Quota:
    """Usage-plan quota: `limit` requests per calendar `period`, first period reduced by offset."""

    limit: int
    period: str
    offset: int


@dataclass(frozen=True)
class PlanStage:
    """One of a usage plan's `apiStages`, with its per-method throttles."""

    api_id: str | None
    stage: str
    method_throttles: dict[str, Throttle]


@dataclass(frozen=True)
class UsagePlan:
    """A usage plan: per-key throttle and quota over its stages, and the API keys in it."""

    plan_id: str
    throttle: Throttle | None
    quota: Quota | None
    api_stages: tuple[PlanStage, ...]
    api_key_ids: frozenset[str]


@dataclass(frozen=True)
class Method:
    """API-level method settings (the same in every stage of one deployment)."""

    api_key_required: bool | None = None
    authorizer_id: str | None = None
    timeout_ms: int | None = None


@dataclass(frozen=True)
class Authorizer:
    """A Lambda (TOKEN/REQUEST), Cognito or JWT authorizer and its result cache TTL."""

    authorizer_id: str
    kind: str
    result_ttl_s: int
    identity_sources: tuple[str, ...]


@dataclass(frozen=True)
class ModelSettings:
    """Settings for behaviour AWS does not document; defaults and reasons in `policy.py`."""

    throttle_slack: float = 0.0
    stage_throttle_scope: str = "per_method"
    seed: int = 0
    cacheable_status_max: int = 299
    callers_may_invalidate: bool = False


@dataclass(frozen=True)
class GatewayConfig:
    """The whole model configuration; `raw` is the AWS-named mapping it was parsed from."""

    account: Throttle
    stages: tuple[Stage, ...]
    usage_plans: tuple[UsagePlan, ...]
    methods: dict[str, Method]
    authorizers: dict[str, Authorizer]
    model: ModelSettings
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw mapping of a TOML, JSON or YAML file; a clear error when it cannot be read."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration: {error.strerror}") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = _load_yaml(path, text)
        else:
            data = json.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as error:
        raise ConfigError(f"{path}: not valid {suffix.lstrip('.') or 'JSON'}: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a table/object at the top level")
    return data


def _load_yaml(path: Path, text: str) -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError(f"{path}: YAML needs PyYAML installed; use TOML or JSON") from None
    return yaml.safe_load(text)


def split_setting_path(path: str) -> list[str]:
    """Split `a.b."/x/GET".c` into parts; double quotes protect dots and slashes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in path:
        if char == '"':
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    if quoted or any(part == "" for part in parts):
        raise ConfigError(f"--set {path!r}: malformed setting path")
    return parts


def _parse_value(text: str) -> Any:
    """A --set value: JSON when it parses (numbers, booleans, null, lists), else a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `path=value` overrides (AWS names) to a copy of the raw mapping."""
    result: dict[str, Any] = json.loads(json.dumps(raw))
    for override in overrides:
        path, sep, value = override.partition("=")
        if not sep:
            raise ConfigError(f"--set {override!r}: expected path=value")
        parts = split_setting_path(path.strip())
        node: Any = result
        for depth, part in enumerate(parts[:-1]):
            if isinstance(node, list):
                node = node[_list_index(node, part, parts[: depth + 1])]
            else:
                node = node.setdefault(part, {})
            if not isinstance(node, dict | list):
                raise ConfigError(f"--set {path}: {'.'.join(parts[: depth + 1])} is not a table")
        if isinstance(node, list):
            node[_list_index(node, parts[-1], parts)] = _parse_value(value)
        else:
            node[parts[-1]] = _parse_value(value)
    return result


def _list_index(node: list[Any], part: str, parts: list[str]) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {'.'.join(parts)}: {part!r} is not an index of that list")
    return int(part)


def load_config(path: Path | None, overrides: list[str] | None = None) -> GatewayConfig:
    """Read a configuration file (or start from AWS defaults), apply overrides, validate."""
    from apigw_analytics.gateway.settings import parse_config

    raw = read_config_file(path) if path is not None else {}
    return parse_config(apply_overrides(raw, overrides or []))
