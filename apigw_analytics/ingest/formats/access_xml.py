"""XML access logs: the console's REST and HTTP presets, one `<request>` element a line."""

from apigw_analytics.ingest.formats.access_template import PresetFormat
from apigw_analytics.ingest.registry import register

REST_XML = (
    '<request id="$context.requestId"> '
    "<extendedRequestId>$context.extendedRequestId</extendedRequestId> "
    "<ip>$context.identity.sourceIp</ip> <caller>$context.identity.caller</caller> "
    "<user>$context.identity.user</user> <requestTime>$context.requestTime</requestTime> "
    "<httpMethod>$context.httpMethod</httpMethod> "
    "<resourcePath>$context.resourcePath</resourcePath> <status>$context.status</status> "
    "<protocol>$context.protocol</protocol> "
    "<responseLength>$context.responseLength</responseLength> </request>"
)
HTTP_XML = (
    '<request id="$context.requestId"> <ip>$context.identity.sourceIp</ip> '
    "<requestTime>$context.requestTime</requestTime> "
    "<httpMethod>$context.httpMethod</httpMethod> <routeKey>$context.routeKey</routeKey> "
    "<status>$context.status</status> <protocol>$context.protocol</protocol> "
    "<responseLength>$context.responseLength</responseLength> </request>"
)

register(
    PresetFormat(
        "access-xml", "access log, XML presets (REST, HTTP)", [REST_XML, HTTP_XML], xml=True
    )
)
