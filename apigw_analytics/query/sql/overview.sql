-- title: Overview: traffic, error rates and latency percentiles
-- grain: one row per api_id, stage and interval_start
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- param interval_s integer = 3600: width of each interval in seconds
-- Gateway overhead is latency_ms - integration_latency_ms, over requests that called the
-- integration; rates are shares of all requests in the row.
WITH filtered AS (
    SELECT
        api_id,
        stage,
        bucket_start(requested_at, $interval_s) AS interval_start,
        status,
        latency_ms,
        integration_latency_ms,
        gateway_overhead_ms
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
),
grouped AS (
    SELECT
        api_id,
        stage,
        interval_start,
        count(*) AS requests,
        count(*) FILTER (WHERE status BETWEEN 400 AND 499) AS client_errors_4xx,
        count(*) FILTER (WHERE status >= 500) AS server_errors_5xx,
        quantile_cont(latency_ms, [0.5, 0.9, 0.99]) AS latency_q,
        quantile_cont(integration_latency_ms, [0.5, 0.9, 0.99]) AS integration_q,
        quantile_cont(gateway_overhead_ms, [0.5, 0.9, 0.99]) AS overhead_q
    FROM filtered
    GROUP BY api_id, stage, interval_start
)
SELECT
    api_id,
    stage,
    interval_start,
    requests,
    client_errors_4xx,
    server_errors_5xx,
    client_errors_4xx / requests AS client_error_rate,
    server_errors_5xx / requests AS server_error_rate,
    latency_q[1] AS latency_p50_ms,
    latency_q[2] AS latency_p90_ms,
    latency_q[3] AS latency_p99_ms,
    integration_q[1] AS integration_latency_p50_ms,
    integration_q[2] AS integration_latency_p90_ms,
    integration_q[3] AS integration_latency_p99_ms,
    overhead_q[1] AS gateway_overhead_p50_ms,
    overhead_q[2] AS gateway_overhead_p90_ms,
    overhead_q[3] AS gateway_overhead_p99_ms
FROM grouped
ORDER BY api_id, stage, interval_start
