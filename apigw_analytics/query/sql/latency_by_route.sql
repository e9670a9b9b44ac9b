-- title: Latency by route: percentiles and gateway overhead, slowest first
-- grain: one row per api_id, stage and route, by p99 latency descending
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- param top integer = 1000: how many routes to return
-- Gateway overhead = latency_ms - integration_latency_ms over requests that called the
-- integration.
WITH grouped AS (
    SELECT
        api_id,
        stage,
        route_head(route_key, http_method, resource_path) AS route_head,
        route_tail(route_key, http_method, resource_path) AS route_tail,
        count(*) AS requests,
        avg(latency_ms) AS latency_mean_ms,
        quantile_cont(latency_ms, [0.5, 0.9, 0.99]) AS latency_q,
        max(latency_ms) AS latency_max_ms,
        quantile_cont(integration_latency_ms, [0.5, 0.9, 0.99]) AS integration_q,
        quantile_cont(gateway_overhead_ms, [0.5, 0.99]) AS overhead_q
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
    GROUP BY api_id, stage, route_head, route_tail
)
SELECT
    api_id,
    stage,
    route_from(route_head, route_tail) AS route,
    requests,
    latency_mean_ms,
    latency_q[1] AS latency_p50_ms,
    latency_q[2] AS latency_p90_ms,
    latency_q[3] AS latency_p99_ms,
    latency_max_ms,
    integration_q[1] AS integration_latency_p50_ms,
    integration_q[2] AS integration_latency_p90_ms,
    integration_q[3] AS integration_latency_p99_ms,
    overhead_q[1] AS gateway_overhead_p50_ms,
    overhead_q[2] AS gateway_overhead_p99_ms
FROM grouped
ORDER BY latency_p99_ms DESC, api_id, stage, route
LIMIT $top
