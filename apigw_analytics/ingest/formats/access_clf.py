"""Common Log Format access logs: the console's REST and HTTP presets.

REST comes with and without `extendedRequestId`, and in the CloudFormation example's order
(extendedRequestId first). In the HTTP preset the quoted request holds the route key, which
already contains the method (`"GET GET /pets HTTP/1.1"`, `"GET $default HTTP/1.1"`).
"""

from apigw_analytics.ingest.formats.access_template import PresetFormat
from apigw_analytics.ingest.registry import register

REST_CLF = (
    "$context.identity.sourceIp $context.identity.caller $context.identity.user "
    '[$context.requestTime] "$context.httpMethod $context.resourcePath $context.protocol" '
    "$context.status $context.responseLength $context.requestId $context.extendedRequestId"
)
REST_CLF_WITHOUT_EXTENDED_ID = REST_CLF.removesuffix(" $context.extendedRequestId")
REST_CLF_EXTENDED_ID_FIRST = (
    "$context.extendedRequestId $context.identity.sourceIp $context.identity.caller "
    '$context.identity.user [$context.requestTime] "$context.httpMethod $context.resourcePath '
    '$context.protocol" $context.status $context.responseLength $context.requestId'
)
HTTP_CLF = (
    '$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod '
    '$context.routeKey $context.protocol" $context.status $context.responseLength '
    "$context.requestId"
)

register(
    PresetFormat(
        "access-clf",
        "access log, CLF presets (REST with/without extendedRequestId, HTTP)",
        [REST_CLF, REST_CLF_EXTENDED_ID_FIRST, HTTP_CLF, REST_CLF_WITHOUT_EXTENDED_ID],
    )
)
