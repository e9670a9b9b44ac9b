-- title: Authorizer latency and the share of requests served from its result cache
-- grain: one row per api_id, stage and route with authorizer data
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- From access-log fields: authorizer_latency_ms is the whole authorizer step,
-- authorizer_integration_latency_ms the Lambda call, NULL when the cached policy was used, so
-- a request with a step latency but no Lambda latency did not invoke the authorizer.
WITH grouped AS (
    SELECT
        api_id,
        stage,
        route_head(route_key, http_method, resource_path) AS route_head,
        route_tail(route_key, http_method, resource_path) AS route_tail,
        count(*) AS requests,
        count(authorizer_latency_ms) AS authorized_requests,
        count(*) FILTER (
            WHERE authorizer_latency_ms IS NOT NULL AND authorizer_integration_latency_ms IS NULL
        ) AS not_invoked,
        quantile_cont(authorizer_latency_ms, [0.5, 0.9, 0.99]) AS authorizer_q,
        quantile_cont(authorizer_integration_latency_ms, [0.5, 0.99]) AS lambda_q
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
    GROUP BY api_id, stage, route_head, route_tail
)
SELECT
    api_id,
    stage,
    route_from(route_head, route_tail) AS route,
    requests,
    authorized_requests,
    not_invoked,
    not_invoked / authorized_requests AS not_invoked_share,
    authorizer_q[1] AS authorizer_latency_p50_ms,
    authorizer_q[2] AS authorizer_latency_p90_ms,
    authorizer_q[3] AS authorizer_latency_p99_ms,
    lambda_q[1] AS authorizer_integration_latency_p50_ms,
    lambda_q[2] AS authorizer_integration_latency_p99_ms
FROM grouped
WHERE authorized_requests > 0
ORDER BY api_id, stage, route
