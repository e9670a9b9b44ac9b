"""REST execution-log writer: each request's messages in the reference's wording (§2.3–§2.4),
timed through the request's phases and interleaved across requests as CloudWatch stores them.

Only messages with a documented wording are written. Where AWS documents none (a cache hit, an
account-level throttle) the request's lines simply lack that step, as real logs do: a cache hit
goes from `HTTP Method: ...` to `Successfully completed execution` with no endpoint lines; an
account throttle has only `Method completed with status: 429` after the usage-plan check. A
method or stage throttle writes the keyless `Key throttle limit exceeded for RestApi ...` line
(the reference's inference for that real line). Bodies and headers (dataTrace) are not logged.

Phases of one request (times in ms from its arrival): authorizer (1 ms to 1 + its latency),
usage plan, execution start, the endpoint call (sent halfway through the gateway's overhead,
answered after the integration latency), and the final status at the logged latency.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import polars as pl

from apigw_analytics.gateway.config import GatewayConfig, Throttle
from apigw_analytics.gateway.settings import normalise_method_key
from apigw_analytics.generate import traffic

REGION = "eu-west-1"
_MASK = "**********"
_OK = traffic.BACKEND_OK


@dataclass(frozen=True)
class _Limit:
    plan_id: str | None
    throttle: Throttle | None
    quota_text: str | None


def resource_id(resource: str) -> str:
    """A stable 6-character resource id, as API Gateway shows (`k0w8mc`)."""
    digest = hashlib.sha256(resource.encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % 36] for b in digest[:6])


def log_group(api_id: str, stage: str) -> str:
    return f"API-Gateway-Execution-Logs_{api_id}/{stage}"


def _limits(config: GatewayConfig, requests: pl.DataFrame) -> pl.DataFrame:
    """For each distinct (stage, method key, API key, layer): the stated plan id and limits."""
    combos = requests.select(
        "api_id", "stage", "http_method", "resource_path", "api_key_id", "limit_layer"
    ).unique(maintain_order=True)
    rows = []
    for api_id, stage_name, method, resource, key, layer in combos.iter_rows():
        limit = _limit_of(config, api_id, stage_name, f"{resource}/{method}", key, layer)
        rows.append(
            {
                "api_id": api_id, "stage": stage_name, "http_method": method,
                "resource_path": resource, "api_key_id": key, "limit_layer": layer,
                "plan_id": limit.plan_id,
                "limit_text": None if limit.throttle is None else (
                    f"Limit: {limit.throttle.rate_rps:.2f} Burst: {int(limit.throttle.burst)}"
                ),
                "quota_text": limit.quota_text,
            }
        )  # fmt: skip
    schema = {c: pl.String for c in ("plan_id", "limit_text", "quota_text")}
    schema.update({c: requests.schema[c] for c in combos.columns})
    return pl.DataFrame(rows, schema_overrides=schema, infer_schema_length=None)


def _limit_of(
    config: GatewayConfig,
    api_id: str,
    stage_name: str,
    method_key: str,
    api_key: str | None,
    layer: str | None,
) -> _Limit:
    key = normalise_method_key(method_key)
    if layer in ("usage_plan", "usage_plan_method", "quota"):
        for plan in config.usage_plans:
            plan_stage = next(
                (
                    s
                    for s in plan.api_stages
                    if s.stage == stage_name and s.api_id in (None, api_id)
                ),
                None,
            )
            if plan_stage is None or api_key not in plan.api_key_ids:
                continue
            if layer == "quota" and plan.quota is not None:
                text = f"Limit: {plan.quota.limit} Period: {plan.quota.period}"
                return _Limit(plan.plan_id, None, text)
            throttle = plan.throttle if layer == "usage_plan" else plan_stage.method_throttles[key]
            return _Limit(plan.plan_id, throttle, None)
    if layer in ("method", "stage"):
        stage = next(
            (s for s in config.stages if s.name == stage_name and s.api_id in (None, api_id)), None
        )
        if stage is not None:
            setting = stage.method_settings.get(key if layer == "method" else "*/*")
            return _Limit(None, setting.throttle if setting else None, None)
    return _Limit(None, None, None)


def _endpoint_uri(requests: pl.DataFrame) -> pl.Expr:
    function = (
        pl.col("resource_path").str.replace_all(r"[{}]", "").str.strip_chars("/")
        .str.replace_all("/", "-")
    )  # fmt: skip
    lambda_uri = pl.format(
        "https://lambda.{}.amazonaws.com/2015-03-31/functions/arn:aws:lambda:{}:123456789012:"
        "function:{}-{}/invocations",
        pl.lit(REGION), pl.lit(REGION), pl.col("api_name"), function,
    )  # fmt: skip
    http_uri = pl.format("https://{}-backend.internal.example.com{}", pl.col("api_name"), "path")
    return pl.when(pl.col("lambda_backend")).then(lambda_uri).otherwise(http_uri)


def execution_events(requests: pl.DataFrame, config: GatewayConfig) -> pl.DataFrame:
    """Every execution-log event of REST `requests`: `timestamp_ms` and `message`, in the order
    CloudWatch holds them (time, then the request's own order)."""
    rest = requests.filter(pl.col("api_type") == "rest").with_row_index("order")
    if rest.is_empty():
        return pl.DataFrame(schema={"timestamp_ms": pl.Int64, "message": pl.String})
    rest = rest.join(
        _limits(config, rest),
        on=["api_id", "stage", "http_method", "resource_path", "api_key_id", "limit_layer"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    t0 = pl.col("requested_at").dt.epoch("ms")
    auth = pl.col("authorizer_called").cast(pl.Int64) * pl.col("authorizer_latency_ms").fill_null(0)
    send = t0 + pl.col("overhead_ms").cast(pl.Int64) // 2 + auth
    receive = send + pl.col("integration_latency_ms").fill_null(0)
    done = pl.col("completed_at").dt.epoch("ms")
    masked = pl.format("{}{}", pl.lit(_MASK), pl.col("api_key_id").str.slice(-6))
    api_stage = pl.format("{}/{}", "api_id", "stage")
    layer = pl.col("limit_layer")
    outcome = pl.col("backend_outcome_code")
    served = pl.col("integration_called") & (
        pl.col("error_response_type").fill_null("") != "INTEGRATION_TIMEOUT"
    )
    uri = _endpoint_uri(rest)
    every = pl.col("order") >= 0
    rest = rest.with_columns(
        pl.col("resource_path").map_elements(resource_id, return_dtype=pl.String)
        .alias("resource_id"),
        pl.col("path").str.replace(r"^/[^/]+", "").alias("concrete_path"),
    )  # fmt: skip
    steps: list[tuple[pl.Expr, pl.Expr, pl.Expr]] = [
        (every, t0, pl.format("Extended Request Id: {}", "extended_request_id")),
        (pl.col("authorizer_called"), t0 + 1,
         pl.format("Starting authorizer: tok3n1 for request: {}", "request_id")),
        (pl.col("authorizer_called"), t0 + 1,
         pl.format("Incoming identity: {}{}", pl.lit(_MASK), pl.col("source_ip").str.slice(-4))),
        (pl.col("authorizer_called"), t0 + auth,
         pl.concat_str([
             pl.lit('Authorizer result body before parsing: {"principalId":"'),
             pl.col("authorizer_principal_id"),
             pl.lit('","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":'
                    '"execute-api:Invoke","Effect":"Allow","Resource":"*"}]}}'),
         ])),
        (pl.col("authorizer_called"), t0 + auth,
         pl.format("Using valid authorizer policy for principal: {}{}", pl.lit(_MASK),
                   pl.col("authorizer_principal_id").str.slice(-4))),
        (pl.col("authorizer_called"), t0 + auth,
         pl.lit("Successfully completed authorizer execution")),
        (pl.col("status") == 401, t0 + 1, pl.format("Unauthorized request: {}", "request_id")),
        (pl.col("status") != 401, t0 + auth + 1,
         pl.format("Verifying Usage Plan for request: {}. API Key: {} API Stage: {}",
                   "request_id", masked.fill_null(""), api_stage)),
        (layer.is_in(["usage_plan", "usage_plan_method"]), t0 + auth + 1,
         pl.format("API Key {} exceeded throttle limit for API Stage {}: Key throttle limit "
                   "exceeded for Usage Plan ID {}, RestApi {}, Stage {}, Resource {}, "
                   "HttpMethod {}. {}", masked, api_stage, "plan_id", "api_id", "stage",
                   "resource_id", "http_method", "limit_text")),
        (layer == "quota", t0 + auth + 1,
         pl.format("API Key {} exceeded quota limit for API Stage {}: Key quota exhausted for "
                   "Usage Plan ID {}. {}", masked, api_stage, "plan_id", "quota_text")),
        ((pl.col("status") != 401) & layer.is_null() & pl.col("api_key_id").is_not_null(),
         t0 + auth + 1,
         pl.format("Usage Plan check succeeded for API Key {} and API Stage {}", masked,
                   api_stage)),
        ((pl.col("status") != 401) & pl.col("api_key_id").is_null(), t0 + auth + 1,
         pl.format("API Key  authorized because method '{} {}' does not require API Key. Request"
                   " will not contribute to throttle or quota limits", "http_method",
                   "resource_path")),
        (layer.is_in(["method", "stage"]) & pl.col("limit_text").is_not_null(), t0 + auth + 1,
         pl.format("Key throttle limit exceeded for RestApi {}, Stage {}, Resource {}, "
                   "HttpMethod {}. {}", "api_id", "stage", "resource_id", "http_method",
                   "limit_text")),
        (layer.is_null() & (pl.col("status") != 401), t0 + auth + 1,
         pl.format("Starting execution for request: {}", "request_id")),
        (layer.is_null() & (pl.col("status") != 401), t0 + auth + 1,
         pl.format("HTTP Method: {}, Resource Path: {}", "http_method", "concrete_path")),
        (pl.col("integration_called"), send, pl.format("Endpoint request URI: {}", uri)),
        (pl.col("integration_called"), send, pl.format("Sending request to {}", uri)),
        (pl.col("integration_called") & ~served, receive,
         pl.lit("Execution failed due to a timeout error")),
        (served & (outcome == traffic.BACKEND_LAMBDA_THROTTLED), receive,
         pl.format("Lambda invocation failed with status: 429. Lambda request id: {}",
                   "integration_request_id")),
        (served & (outcome == traffic.BACKEND_LAMBDA_THROTTLED), receive,
         pl.lit("Execution failed due to configuration error: Rate Exceeded.")),
        (served & (outcome != traffic.BACKEND_LAMBDA_THROTTLED), receive,
         pl.format("Received response. Status: {}, Integration latency: {} ms",
                   pl.coalesce("integration_service_status", "integration_status"),
                   "integration_latency_ms")),
        (served & outcome.is_in([traffic.BACKEND_FUNCTION_ERROR, traffic.BACKEND_FUNCTION_TIMEOUT]),
         receive, pl.format("{}. Lambda request id: {}", "integration_error",
                            "integration_request_id")),
        (served & (outcome == traffic.BACKEND_MALFORMED), receive,
         pl.lit("Execution failed due to configuration error: Malformed Lambda proxy response")),
        (pl.col("status") < 400, done, pl.lit("Successfully completed execution")),
        (every, done, pl.format("Method completed with status: {}", "status")),
        (served & pl.col("lambda_backend") & (outcome == _OK), done,
         pl.format("AWS Integration Endpoint RequestId : {}", "integration_request_id")),
        (layer.is_null() & (pl.col("status") != 401), done,
         pl.format("X-ray Tracing ID : {}", "xray_trace_id")),
    ]  # fmt: skip
    events = pl.concat(
        [
            rest.filter(condition.fill_null(False)).select(
                pl.col("order"),
                pl.lit(step, pl.Int32).alias("step"),
                timestamp.cast(pl.Int64).alias("timestamp_ms"),
                pl.format("({}) {}", "request_id", message).alias("message"),
            )
            for step, (condition, timestamp, message) in enumerate(steps)
        ]
    )
    return events.sort("timestamp_ms", "order", "step").select("timestamp_ms", "message")
