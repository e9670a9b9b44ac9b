"""The REST execution-log message catalogue: which message is which, decided for a whole chunk.

API Gateway writes free text, and its wording is the only schema there is (reference §2.3). Each
catalogue entry is a constant phrase that starts the message (after an optional `API Key <key>`,
which is variable and may be empty), so one anchored regex alternation over the column finds the
phrase of every message in a single pass, and a dictionary lookup turns the phrase into a kind.
That keeps classification vectorised: one regex pass, whatever the number of kinds.

Longer phrases must come before their own prefixes (the regex takes the first alternative that
matches), which is why the table is ordered. Unknown messages are `other`, never dropped.
"""

from __future__ import annotations

import re

import polars as pl

OTHER_KIND = "other"

# (kind, phrase the message starts with) — after an optional "API Key <key> " for the usage-plan
# lines whose key is variable. Order matters where one phrase is a prefix of another.
CATALOGUE: tuple[tuple[str, str], ...] = (
    ("extended_request_id", "Extended Request Id:"),
    ("usage_plan_verify", "Verifying Usage Plan for request:"),
    ("api_key_not_required", "authorized because method"),
    ("api_key_no_usage_plan", "not authorized because method"),
    ("key_throttle_exceeded", "exceeded throttle limit for API Stage"),
    ("key_quota_exceeded", "exceeded quota limit for API Stage"),
    ("usage_plan_check_succeeded", "Usage Plan check succeeded for API Key"),
    ("usage_plan_internal_error", "Usage Plan check failed due to an internal error"),
    ("throttle_exceeded", "Key throttle limit exceeded for RestApi"),
    ("authorizer_start", "Starting authorizer:"),
    ("incoming_identity", "Incoming identity:"),
    ("authorizer_result_body", "Authorizer result body before parsing:"),
    ("authorizer_policy", "Using valid authorizer policy for principal:"),
    ("authorizer_succeeded", "Successfully completed authorizer execution"),
    ("unauthorized", "Unauthorized request:"),
    ("not_authorized", "The client is not authorized to perform this operation"),
    ("execution_log_header", "Execution log for request"),
    ("execution_start", "Starting execution for request:"),
    ("http_method_resource_path", "HTTP Method:"),
    ("api_key", "API Key:"),
    ("method_request_path", "Method request path:"),
    ("method_request_query_string", "Method request query string:"),
    ("method_request_headers", "Method request headers:"),
    ("method_request_body", "Method request body before transformations:"),
    ("request_validation", "Request validation"),
    ("endpoint_request_uri", "Endpoint request URI:"),
    ("endpoint_request_headers", "Endpoint request headers:"),
    ("endpoint_request_body", "Endpoint request body after transformations:"),
    ("sending_request", "Sending request to"),
    ("endpoint_response_received", "Received response."),
    ("endpoint_response_body", "Endpoint response body before transformations:"),
    ("endpoint_response_headers", "Endpoint response headers:"),
    ("method_response_body", "Method response body after transformations:"),
    ("method_response_headers", "Method response headers:"),
    ("execution_succeeded", "Successfully completed execution"),
    ("method_completed", "Method completed with status:"),
    ("integration_request_id", "AWS Integration Endpoint RequestId :"),
    ("xray_trace_id", "X-ray Tracing ID :"),
    ("timeout_error", "Execution failed due to a timeout error"),
    ("lambda_function_error", "Lambda execution failed with status"),
    ("lambda_invocation_failed", "Lambda invocation failed with status"),
    (
        "malformed_proxy_response",
        "Execution failed due to configuration error: Malformed Lambda proxy response",
    ),
    ("configuration_error", "Execution failed due to configuration error:"),
)

KINDS: frozenset[str] = frozenset({kind for kind, _ in CATALOGUE} | {OTHER_KIND})

_PHRASE_TO_KIND = {phrase: kind for kind, phrase in CATALOGUE}

# "API Key <key> authorized…", "API Key  authorized…" (empty key) and "API Key authorized…"
# (empty key, one space) all reach the phrase: the optional group may match a key or nothing.
_CLASSIFIER = r"^(?:API Key \S* ?)?(" + "|".join(re.escape(phrase) for _, phrase in CATALOGUE) + ")"


def message_kind(body: pl.Expr) -> pl.Expr:
    """The kind of every message in a column (the text after any time/request-id prefix)."""
    return (
        body.str.extract(_CLASSIFIER, 1)
        .replace_strict(_PHRASE_TO_KIND, default=OTHER_KIND, return_dtype=pl.String)
        .alias("message_kind")
    )


def classify(message: str) -> str:
    """The kind of one message (tests and sniffing; parsing uses `message_kind` on columns)."""
    frame = pl.DataFrame({"body": [message]}, schema={"body": pl.String})
    return frame.select(message_kind(pl.col("body")))["message_kind"][0]


# Evidence that Lambda itself refused the call (throttled) rather than the function failing:
# the 2018 proxy case logs Lambda's own error body/headers, then "Malformed Lambda proxy response".
LAMBDA_THROTTLE_EVIDENCE = (
    r"ReservedFunctionConcurrentInvocationLimitExceeded|TooManyRequestsException"
    r"|Rate Exceeded|Lambda invocation failed with status: 429"
)
LAMBDA_THROTTLE_EVIDENCE_KINDS = (
    "endpoint_response_body",
    "endpoint_response_headers",
    "lambda_invocation_failed",
    "configuration_error",
    "malformed_proxy_response",
)
