-- title: Health summary: traffic, error and throttle rates and latency per API and stage
-- grain: one row per api_id and stage, the most requests first
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- The one row per stage that the report job checks its thresholds against. Throttled requests
-- are the 429s (every limit layer; throttle_attribution says which fired); rates are shares of
-- all requests in the row.
WITH filtered AS (
    SELECT api_id, stage, requested_at, status, latency_ms, integration_latency_ms
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
),
grouped AS (
    SELECT
        api_id,
        stage,
        count(*) AS requests,
        count(*) FILTER (WHERE status BETWEEN 400 AND 499) AS client_errors_4xx,
        count(*) FILTER (WHERE status = 429) AS throttled_429,
        count(*) FILTER (WHERE status >= 500) AS server_errors_5xx,
        quantile_cont(latency_ms, [0.5, 0.99]) AS latency_q,
        quantile_cont(integration_latency_ms, 0.99) AS integration_latency_p99_ms,
        min(requested_at) AS first_request_at,
        max(requested_at) AS last_request_at
    FROM filtered
    GROUP BY api_id, stage
)
SELECT
    api_id,
    stage,
    requests,
    client_errors_4xx,
    throttled_429,
    server_errors_5xx,
    client_errors_4xx / requests AS client_error_rate,
    throttled_429 / requests AS throttled_rate,
    server_errors_5xx / requests AS server_error_rate,
    latency_q[1] AS latency_p50_ms,
    latency_q[2] AS latency_p99_ms,
    integration_latency_p99_ms,
    first_request_at,
    last_request_at
FROM grouped
ORDER BY requests DESC, api_id, stage
