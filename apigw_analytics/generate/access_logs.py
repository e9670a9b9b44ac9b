"""Access-log writers: any `$context` template rendered over generated requests.

The inverse of the ingestor's template compiler: the same template string that a stage's
`accessLogSettings.format` holds is rendered for every request, a variable with no value
becoming `-` as API Gateway writes it. Values are rendered as API Gateway does, without escaping
(a quote in a value would break a JSON line in AWS too; the generator produces none). The
console presets come from the ingestors themselves, so writer and reader share one definition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from apigw_analytics.errors import chosen
from apigw_analytics.generate.rendering import Column, Rendering, Step
from apigw_analytics.ingest.access_fields import (
    REQUEST_TIME,
    REQUEST_TIME_EPOCH,
    column_for_variable,
)
from apigw_analytics.ingest.formats.access_clf import HTTP_CLF, REST_CLF
from apigw_analytics.ingest.formats.access_csv import HTTP_CSV, REST_CSV
from apigw_analytics.ingest.formats.access_xml import HTTP_XML, REST_XML

_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")

REST_JSON = (
    '{ "requestId":"$context.requestId", "extendedRequestId":"$context.extendedRequestId", '
    '"ip": "$context.identity.sourceIp", "caller":"$context.identity.caller", '
    '"user":"$context.identity.user", "requestTime":"$context.requestTime", '
    '"httpMethod":"$context.httpMethod", "resourcePath":"$context.resourcePath", '
    '"status":"$context.status", "protocol":"$context.protocol", '
    '"responseLength":"$context.responseLength" }'
)
HTTP_JSON = (
    '{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", '
    '"requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod",'
    '"routeKey":"$context.routeKey", "status":"$context.status",'
    '"protocol":"$context.protocol", "responseLength":"$context.responseLength" }'
)
WEBSOCKET_JSON = (
    '{ "requestId":"$context.requestId", "ip": "$context.identity.sourceIp", '
    '"caller":"$context.identity.caller", "user":"$context.identity.user", '
    '"requestTime":"$context.requestTime", "eventType":"$context.eventType", '
    '"routeKey":"$context.routeKey", "status":"$context.status", '
    '"connectionId":"$context.connectionId" }'
)
REST_RICH_JSON = (
    '{"requestId":"$context.requestId","extendedRequestId":"$context.extendedRequestId",'
    '"apiId":"$context.apiId","stage":"$context.stage","domainName":"$context.domainName",'
    '"ip":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent",'
    '"caller":"$context.identity.caller","user":"$context.identity.user",'
    '"apiKeyId":"$context.identity.apiKeyId","requestTime":"$context.requestTime",'
    '"requestTimeEpoch":"$context.requestTimeEpoch","httpMethod":"$context.httpMethod",'
    '"resourcePath":"$context.resourcePath","path":"$context.path",'
    '"protocol":"$context.protocol","status":"$context.status",'
    '"responseLength":"$context.responseLength","responseLatency":"$context.responseLatency",'
    '"integrationLatency":"$context.integrationLatency",'
    '"integration.status":"$context.integration.status",'
    '"integrationStatus":"$context.integrationStatus",'
    '"integrationErrorMessage":"$context.integrationErrorMessage",'
    '"integrationRequestId":"$context.integration.requestId",'
    '"errorMessage":"$context.error.message","errorResponseType":"$context.error.responseType",'
    '"authorizerPrincipalId":"$context.authorizer.principalId",'
    '"authorizerLatency":"$context.authorizer.latency",'
    '"authorizerIntegrationLatency":"$context.authorizer.integrationLatency",'
    '"authorizerStatus":"$context.authorizer.status","xrayTraceId":"$context.xrayTraceId",'
    '"isCanaryRequest":"$context.isCanaryRequest"}'
)

ACCESS_TEMPLATES: dict[str, str] = {
    "rest-json": REST_JSON,
    "rest-rich-json": REST_RICH_JSON,
    "rest-clf": REST_CLF,
    "rest-csv": REST_CSV,
    "rest-xml": REST_XML,
    "http-json": HTTP_JSON,
    "http-clf": HTTP_CLF,
    "http-csv": HTTP_CSV,
    "http-xml": HTTP_XML,
    "websocket-json": WEBSOCKET_JSON,
}


def template_named(name: str) -> str:
    """The template of an access-log format name; unknown names list the known ones."""
    return chosen(ACCESS_TEMPLATES, name, "access-log format")


def _column_of(variable: str) -> str | None:
    """The column (rendering form) of a variable: `requestTime` is the CLF form of the request
    time, `requestTimeEpoch` its ms."""
    column = column_for_variable(variable)
    if column == REQUEST_TIME:
        return "requested_at:clf"
    if column == REQUEST_TIME_EPOCH:
        return "requested_at"
    return column


def template_steps(template: str) -> list[Step]:
    """The template as rendering steps: each literal piece and the column that follows it."""
    pieces = _VARIABLE.split(template.strip())
    steps: list[Step] = [
        (pieces[index], _column_of(pieces[index + 1])) for index in range(0, len(pieces) - 1, 2)
    ]
    return [*steps, (pieces[-1], None)]


def render(template: str, columns: Mapping[str, Column], rows: np.ndarray) -> Rendering:
    """`template` rendered for each of `rows` (indices into `columns`, in output order);
    a variable with no column or no value renders as `-`."""
    return Rendering(template_steps(template), columns, rows)
