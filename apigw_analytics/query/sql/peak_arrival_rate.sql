-- title: Peak per-second arrival rate per route
-- grain: one row per api_id, stage and route, the busiest first
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- Arrivals are counted per whole UTC second of requested_at; logs with second precision
-- (CLF requestTime) give the same answer, logs with ms epochs place requests exactly.
-- Seconds are grouped by a hash of the route's columns (fewer bytes per group than the names);
-- the names are looked up once per route afterwards.
WITH filtered AS (
    SELECT
        api_id,
        stage,
        route_key,
        http_method,
        resource_path,
        route,
        status,
        requested_at
    FROM requests
    WHERE
        requested_at >= $start AND requested_at < $end
        AND ($api IS NULL OR api_id = $api)
        AND ($stage IS NULL OR stage = $stage)
        AND ($route IS NULL OR route = $route OR resource_path = $route)
        AND ($api_key IS NULL OR api_key_id = $api_key)
),
per_second AS (
    SELECT
        hash(api_id, stage, route_key, http_method, resource_path) AS route_hash,
        epoch_ms(requested_at) // 1000 AS second_epoch,
        count(*) AS arrivals,
        count(*) FILTER (WHERE status = 429) AS throttled_429
    FROM filtered
    GROUP BY route_hash, second_epoch
),
routes AS (
    SELECT DISTINCT hash(api_id, stage, route_key, http_method, resource_path) AS route_hash, api_id, stage, route
    FROM filtered
),
peaks AS (
    SELECT
        route_hash,
        max(arrivals) AS peak_arrivals_per_s,
        arg_min(second_epoch, (-arrivals, second_epoch)) AS first_peak_epoch,
        sum(arrivals) / count(*) AS mean_arrivals_per_active_s,
        max(throttled_429) AS peak_429_per_s,
        sum(arrivals) AS requests
    FROM per_second
    GROUP BY route_hash
)
SELECT
    r.api_id,
    r.stage,
    r.route,
    p.peak_arrivals_per_s,
    make_timestamptz(p.first_peak_epoch * 1000000) AS first_peak_second,
    p.mean_arrivals_per_active_s,
    p.peak_429_per_s,
    p.requests
FROM peaks AS p
JOIN routes AS r USING (route_hash)
ORDER BY peak_arrivals_per_s DESC, api_id, stage, route
