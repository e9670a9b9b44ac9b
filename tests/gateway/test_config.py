"""Configuration in AWS's names: files, --set overrides, clear errors, import from the AWS CLI."""

from __future__ import annotations

import json

import pytest

from apigw_analytics.errors import ConfigError
from apigw_analytics.gateway.aws_import import import_aws_json
from apigw_analytics.gateway.config import load_config
from apigw_analytics.gateway.settings import normalise_method_key

TOML = """
[account]
throttlingRateLimit = 5000
throttlingBurstLimit = 2500

[model]
throttleSlack = 0.05

[stages.prod]
cacheClusterEnabled = true
cacheClusterSize = "1.6"

[stages.prod.methodSettings."*/*"]
throttlingRateLimit = 1000
throttlingBurstLimit = 500

[stages.prod.methodSettings."/orders/GET"]
throttlingBurstLimit = 100
cacheTtlInSeconds = 60
unauthorizedCacheControlHeaderStrategy = "FAIL_WITH_403"

[usagePlans.gold]
apiKeys = ["k1"]
quota = { limit = 1000, period = "DAY", offset = 0 }
apiStages = [{ stage = "prod", throttle = { "/orders/GET" = { rateLimit = 5, burstLimit = 10 } } }]
"""


def test_toml_and_set_override(tmp_path):
    path = tmp_path / "gw.toml"
    path.write_text(TOML)
    config = load_config(
        path, ['stages.prod.methodSettings."/orders/GET".throttlingBurstLimit=2000']
    )
    prod = config.stages[0]
    assert config.account.rate_rps == 5000 and config.model.throttle_slack == 0.05
    assert prod.cache_capacity_bytes == int(1.6 * (1 << 30))
    assert prod.method_settings["/orders/GET"].throttle.burst == 2000
    assert prod.method_settings["/orders/GET"].cache_ttl_s == 60
    plan = config.usage_plans[0]
    assert (
        plan.quota.limit == 1000 and plan.api_stages[0].method_throttles["/orders/GET"].burst == 10
    )


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ('stages.prod.methodSettings."*/*".throttlingBurstLimit=-5', "throttlingBurstLimit"),
        ("stages.prod.cacheClusterSize=2", "cacheClusterSize"),
        ('stages.prod.methodSettings."*/*".cacheTtlInSeconds=4000', "cacheTtlInSeconds"),
        ('stages.prod.methodSettings."*/*".throttlingRateLimt=5', "throttlingRateLimt"),
        ("stages.prod.canarySettings.percentTraffic=120", "percentTraffic"),
        ('methods."/a/GET".timeoutInMillis=10', "timeoutInMillis"),
        ('usagePlans.p.quota={"limit": 5, "period": "YEAR"}', "quota.period"),
        ("model.stageThrottleScope=global", "stageThrottleScope"),
        (
            'stages.prod.methodSettings."*/*".unauthorizedCacheControlHeaderStrategy="x"',
            "Strategy",
        ),
    ],
)
def test_invalid_setting_is_named(override, named):
    with pytest.raises(ConfigError, match=named):
        load_config(None, [override])


def test_method_keys_normalised():
    assert normalise_method_key("~1pets~1{petId}/get") == "/pets/{petId}/GET"
    assert normalise_method_key("~1/GET") == "//GET"
    assert normalise_method_key("GET /pets") == "GET /pets"


def _write(tmp_path, name, document):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def test_import_from_aws_cli_output(tmp_path):
    files = [
        _write(
            tmp_path,
            "stage.json",
            {
                "stageName": "prod",
                "deploymentId": "d1",
                "cacheClusterEnabled": True,
                "cacheClusterSize": "0.5",
                "methodSettings": {
                    "~1orders/GET": {
                        "throttlingRateLimit": 100.0,
                        "throttlingBurstLimit": 50,
                        "loggingLevel": "INFO",
                    }
                },
            },
        ),
        _write(
            tmp_path,
            "plans.json",
            {
                "items": [
                    {
                        "id": "up1",
                        "name": "gold",
                        "throttle": {"rateLimit": 10.0, "burstLimit": 20},
                        "quota": {"limit": 500, "offset": 0, "period": "WEEK"},
                        "apiStages": [{"apiId": "abc123", "stage": "prod"}],
                    }
                ]
            },
        ),
        _write(
            tmp_path, "keys-up1.json", {"items": [{"id": "key1", "type": "API_KEY", "name": "a"}]}
        ),
        _write(
            tmp_path,
            "resources.json",
            {
                "items": [
                    {
                        "id": "r1",
                        "path": "/orders",
                        "resourceMethods": {
                            "GET": {
                                "apiKeyRequired": True,
                                "authorizerId": "au1",
                                "methodIntegration": {"timeoutInMillis": 5000},
                            }
                        },
                    }
                ]
            },
        ),
        _write(
            tmp_path,
            "authorizers.json",
            {
                "items": [
                    {
                        "id": "au1",
                        "type": "TOKEN",
                        "authorizerResultTtlInSeconds": 60,
                        "identitySource": "method.request.header.Authorization",
                    }
                ]
            },
        ),
        _write(
            tmp_path,
            "http-stages.json",
            {
                "Items": [
                    {
                        "StageName": "$default",
                        "DefaultRouteSettings": {
                            "ThrottlingBurstLimit": 30,
                            "ThrottlingRateLimit": 60.0,
                        },
                        "RouteSettings": {"GET /pets": {"ThrottlingBurstLimit": 5}},
                    }
                ]
            },
        ),
    ]
    raw = import_aws_json(files, api_id="abc123")
    assert raw["usagePlans"]["up1"]["apiKeys"] == ["key1"]
    config = load_config(_write(tmp_path, "gw.json", raw))
    stages = {stage.name: stage for stage in config.stages}
    assert stages["prod"].method_settings["/orders/GET"].throttle.rate_rps == 100.0
    assert stages["$default"].method_settings["GET /pets"].throttle.burst == 5
    assert config.methods["/orders/GET"].timeout_ms == 5000
    assert config.authorizers["au1"].result_ttl_s == 60


def test_import_rejects_unknown_file(tmp_path):
    with pytest.raises(ConfigError, match="not recognised"):
        import_aws_json([_write(tmp_path, "x.json", {"hello": 1})])
