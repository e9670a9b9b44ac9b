-- title: Latency histogram per route
-- grain: one row per api_id, stage, route and latency bucket (buckets with requests only)
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- Fixed buckets, lower bound inclusive, upper exclusive (NULL = no upper bound), chosen to
-- separate cache hits, typical calls, slow calls and integration timeouts (29 s).
WITH bucketed AS (
    SELECT
        api_id,
        stage,
        route_head(route_key, http_method, resource_path) AS route_head,
        route_tail(route_key, http_method, resource_path) AS route_tail,
        CASE
            WHEN latency_ms < 10 THEN 0
            WHEN latency_ms < 25 THEN 10
            WHEN latency_ms < 50 THEN 25
            WHEN latency_ms < 100 THEN 50
            WHEN latency_ms < 250 THEN 100
            WHEN latency_ms < 500 THEN 250
            WHEN latency_ms < 1000 THEN 500
            WHEN latency_ms < 2500 THEN 1000
            WHEN latency_ms < 5000 THEN 2500
            WHEN latency_ms < 10000 THEN 5000
            WHEN latency_ms < 29000 THEN 10000
            ELSE 29000
        END AS bucket_lower_ms
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
    WHERE
        latency_ms IS NOT NULL
),
counted AS (
    SELECT
        api_id,
        stage,
        route_from(route_head, route_tail) AS route,
        bucket_lower_ms,
        count(*) AS requests
    FROM bucketed
    GROUP BY api_id, stage, route_head, route_tail, bucket_lower_ms
)
SELECT
    api_id,
    stage,
    route,
    bucket_lower_ms,
    CASE bucket_lower_ms
        WHEN 0 THEN 10 WHEN 10 THEN 25 WHEN 25 THEN 50 WHEN 50 THEN 100 WHEN 100 THEN 250
        WHEN 250 THEN 500 WHEN 500 THEN 1000 WHEN 1000 THEN 2500 WHEN 2500 THEN 5000
        WHEN 5000 THEN 10000 WHEN 10000 THEN 29000
    END AS bucket_upper_ms,
    requests,
    requests / sum(requests) OVER route_total AS share,
    sum(requests) OVER bounds / sum(requests) OVER route_total AS cumulative_share
FROM counted
WINDOW
    route_total AS (PARTITION BY api_id, stage, route),
    bounds AS (PARTITION BY api_id, stage, route ORDER BY bucket_lower_ms)
ORDER BY api_id, stage, route, bucket_lower_ms
