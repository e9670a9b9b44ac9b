-- title: Routes near their integration timeout
-- grain: one row per api_id, stage and route with integration calls, the closest first
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- param timeout_ms integer = 29000: the integration timeout (REST default 29 s, HTTP API 30 s)
-- param warn_share float = 0.8: warn when p99 integration latency >= warn_share * timeout_ms
WITH grouped AS (
    SELECT
        api_id,
        stage,
        route_head(route_key, http_method, resource_path) AS route_head,
        route_tail(route_key, http_method, resource_path) AS route_tail,
        count(integration_latency_ms) AS integration_calls,
        quantile_cont(integration_latency_ms, [0.5, 0.99]) AS integration_q,
        max(integration_latency_ms) AS integration_latency_max_ms,
        count(*) FILTER (WHERE integration_latency_ms >= $warn_share * $timeout_ms)
            AS calls_over_warn_share,
        count(*) FILTER (
            WHERE status = 504 OR error_response_type = 'INTEGRATION_TIMEOUT'
        ) AS timeouts_504
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
    GROUP BY api_id, stage, route_head, route_tail
)
SELECT
    api_id,
    stage,
    route_from(route_head, route_tail) AS route,
    integration_calls,
    integration_q[1] AS integration_latency_p50_ms,
    integration_q[2] AS integration_latency_p99_ms,
    integration_latency_max_ms,
    $timeout_ms AS timeout_ms,
    integration_q[2] / $timeout_ms AS p99_share_of_timeout,
    integration_q[2] >= $warn_share * $timeout_ms AS near_timeout,
    calls_over_warn_share,
    timeouts_504
FROM grouped
WHERE integration_calls > 0
ORDER BY p99_share_of_timeout DESC, api_id, stage, route
