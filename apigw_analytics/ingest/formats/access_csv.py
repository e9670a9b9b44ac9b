"""CSV access logs: the console's REST and HTTP presets (no header, no quoting)."""

from apigw_analytics.ingest.formats.access_template import PresetFormat
from apigw_analytics.ingest.registry import register

REST_CSV = (
    "$context.identity.sourceIp,$context.identity.caller,$context.identity.user,"
    "$context.requestTime,$context.httpMethod,$context.resourcePath,$context.protocol,"
    "$context.status,$context.responseLength,$context.requestId,$context.extendedRequestId"
)
HTTP_CSV = (
    "$context.identity.sourceIp,$context.requestTime,$context.httpMethod,$context.routeKey,"
    "$context.protocol,$context.status,$context.responseLength,$context.requestId"
)

register(PresetFormat("access-csv", "access log, CSV presets (REST, HTTP)", [REST_CSV, HTTP_CSV]))
