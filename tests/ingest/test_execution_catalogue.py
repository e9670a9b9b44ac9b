"""Every message of the reference's execution-log catalogue (§2.3) gets its kind."""

from __future__ import annotations

import pytest

from apigw_analytics.ingest.execution_catalogue import CATALOGUE, KINDS, OTHER_KIND, classify

RID = "4f3e3b0f-39db-11e9-9c2e-5bd7c2de5998"
KEY = "**********bMZHBg"

# (message as AWS writes it, expected kind) — one row per §2.3 wording, with key variants.
MESSAGES = [
    ("Extended Request Id: Vts2FFmArPEFh8g=", "extended_request_id"),
    (f"Verifying Usage Plan for request: {RID}. API Key: {KEY} API Stage: uwe3g5jm54/Prod",
     "usage_plan_verify"),
    (f"Verifying Usage Plan for request: {RID}. API Key:  API Stage: uwe3g5jm54/Prod",
     "usage_plan_verify"),
    ("API Key  authorized because method 'GET /echo' does not require API Key. Request will not "
     "contribute to throttle or quota limits", "api_key_not_required"),
    ("API Key authorized because method 'GET /echo' does not require API Key. Request will not "
     "contribute to throttle or quota limits", "api_key_not_required"),
    (f"Usage Plan check succeeded for API Key {KEY} and API Stage uwe3g5jm54/Prod",
     "usage_plan_check_succeeded"),
    (f"API Key {KEY} not authorized because method 'GET /pets' requires API Key and API Key is "
     "not associated with a Usage Plan for API Stage uwe3g5jm54/Prod: No Usage Plan found for "
     "key and API Stage", "api_key_no_usage_plan"),
    (f"API Key {KEY} exceeded throttle limit for API Stage uwe3g5jm54/Prod: Key throttle limit "
     "exceeded for Usage Plan ID abc123, RestApi uwe3g5jm54, Stage Prod, Resource k0w8mc, "
     "HttpMethod GET. Limit: 5.00 Burst: 10", "key_throttle_exceeded"),
    ("Key throttle limit exceeded for RestApi uwe3g5jm54, Stage Prod, Resource k0w8mc, "
     "HttpMethod POST. Limit: 1.00 Burst: 1", "throttle_exceeded"),
    (f"API Key {KEY} exceeded quota limit for API Stage uwe3g5jm54/Prod: Key quota exhausted "
     "for Usage Plan ID abc123. Limit: 500 Period: DAY", "key_quota_exceeded"),
    ("Usage Plan check failed due to an internal error", "usage_plan_internal_error"),
    (f"Starting authorizer: elkw5b for request: {RID}", "authorizer_start"),
    ("Incoming identity: ***************I1BUdE", "incoming_identity"),
    ('Authorizer result body before parsing: {"principalId": "x"}', "authorizer_result_body"),
    ("Using valid authorizer policy for principal: ****bkwef5", "authorizer_policy"),
    ("Successfully completed authorizer execution", "authorizer_succeeded"),
    (f"Unauthorized request: {RID}", "unauthorized"),
    ("The client is not authorized to perform this operation.", "not_authorized"),
    ("Execution log for request test-request", "execution_log_header"),
    (f"Starting execution for request: {RID}", "execution_start"),
    ("HTTP Method: GET, Resource Path: /user_info", "http_method_resource_path"),
    (f"API Key: {KEY}", "api_key"),
    ("Method request path: {id=hello}", "method_request_path"),
    ("Method request query string: {q=koa-oop}", "method_request_query_string"),
    ("Method request headers: {Accept=*/*, X-Forwarded-For=1.2.3.4, 5.6.7.8}",
     "method_request_headers"),
    ("Method request body before transformations: null", "method_request_body"),
    ("Method request body before transformations:", "method_request_body"),
    ("Request validation succeeded for content type application/json", "request_validation"),
    ("Endpoint request URI: https://example.com/pets", "endpoint_request_uri"),
    ("Endpoint request headers: {Accept=application/json}", "endpoint_request_headers"),
    ('Endpoint request body after transformations: {"type":"TOKEN"}', "endpoint_request_body"),
    ("Sending request to https://example.com/pets", "sending_request"),
    ("Received response. Integration latency: 11 ms", "endpoint_response_received"),
    ("Received response. Status: 200, Integration latency: 426 ms", "endpoint_response_received"),
    ('Endpoint response body before transformations: {"a":1}', "endpoint_response_body"),
    ("Endpoint response headers: {Connection=keep-alive}", "endpoint_response_headers"),
    ('Method response body after transformations: {"a":1}', "method_response_body"),
    ("Method response headers: {Content-Type=application/json}", "method_response_headers"),
    ("Successfully completed execution", "execution_succeeded"),
    ("Method completed with status: 200", "method_completed"),
    ("AWS Integration Endpoint RequestId : 15aba189-6719-4153-b214-46824db50ffa",
     "integration_request_id"),
    ("X-ray Tracing ID : 1-5c756de5-f69ee0aea16ccb26b0eb5c51", "xray_trace_id"),
    ("Execution failed due to a timeout error", "timeout_error"),
    ("Lambda execution failed with status 200 due to customer function error: Task timed out "
     "after 10.00 seconds. Lambda request id: 71952965", "lambda_function_error"),
    ("Execution failed due to configuration error: Malformed Lambda proxy response",
     "malformed_proxy_response"),
    ("Lambda invocation failed with status: 429. Lambda request id: 71952965",
     "lambda_invocation_failed"),
    ("Execution failed due to configuration error: Rate Exceeded.", "configuration_error"),
    ("Execution failed due to configuration error: Invalid permissions on Lambda function",
     "configuration_error"),
    ("Execution failed due to configuration error: Output mapping refers to an invalid method "
     "response: 200", "configuration_error"),
    ("Execution failed due to configuration error: Unable to transform request",
     "configuration_error"),
    ("%%% not an API Gateway message", OTHER_KIND),
    ("", OTHER_KIND),
]  # fmt: skip


@pytest.mark.parametrize(("message", "kind"), MESSAGES)
def test_catalogue_message_is_classified(message, kind):
    assert classify(message) == kind


def test_every_catalogue_kind_is_exercised():
    assert {kind for _, kind in MESSAGES} == KINDS


def test_kinds_are_snake_case_and_unique():
    kinds = [kind for kind, _ in CATALOGUE]
    assert len(kinds) == len(set(kinds))
    assert all(kind.replace("_", "").isalpha() and kind.islower() for kind in kinds)
