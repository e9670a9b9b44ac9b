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
-- Seconds are grouped by a 64-bit hash of api_id, stage and the route (as its two halves, see
-- route_head): fewer bytes per group than the names; each route is named once afterwards.
WITH keyed AS NOT MATERIALIZED (
    SELECT
        api_id,
        stage,
        route_head(route_key, http_method, resource_path) AS route_head,
        route_tail(route_key, http_method, resource_path) AS route_tail,
        status,
        requested_at
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
),
per_second AS (
    SELECT
        hash(api_id, stage, route_head, route_tail) AS route_hash,
        epoch_us(requested_at) // 1000000 AS second_epoch,
        count(*) AS arrivals,
        count(*) FILTER (WHERE status = 429) AS throttled_429
    FROM keyed
    GROUP BY route_hash, second_epoch
),
routes AS (
    SELECT
        hash(api_id, stage, route_head, route_tail) AS route_hash,
        first(api_id) AS api_id,
        first(stage) AS stage,
        route_from(first(route_head), first(route_tail)) AS route
    FROM keyed
    GROUP BY route_hash
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
