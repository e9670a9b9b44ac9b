-- title: Canary versus production
-- grain: one row per api_id, stage and release (canary or production)
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- A request is canary when the access log says so (isCanaryRequest) or came from a /Canary
-- log group; REST stages only.
WITH grouped AS MATERIALIZED (
    SELECT
        api_id,
        stage,
        coalesce(is_canary, false) AS canary,
        count(*) AS requests,
        count(*) FILTER (WHERE status BETWEEN 400 AND 499) AS client_errors_4xx,
        count(*) FILTER (WHERE status >= 500) AS server_errors_5xx,
        quantile_cont(latency_ms, [0.5, 0.99]) AS latency_q,
        quantile_cont(integration_latency_ms, [0.5, 0.99]) AS integration_q
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
    GROUP BY api_id, stage, canary
)
SELECT
    api_id,
    stage,
    CASE WHEN canary THEN 'canary' ELSE 'production' END AS release,
    requests,
    requests / sum(requests) OVER (PARTITION BY api_id, stage) AS traffic_share,
    client_errors_4xx / requests AS client_error_rate,
    server_errors_5xx / requests AS server_error_rate,
    latency_q[1] AS latency_p50_ms,
    latency_q[2] AS latency_p99_ms,
    integration_q[1] AS integration_latency_p50_ms,
    integration_q[2] AS integration_latency_p99_ms
FROM grouped
ORDER BY api_id, stage, release
