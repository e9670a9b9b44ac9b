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
WITH per_second AS (
    SELECT
        api_id,
        stage,
        route,
        epoch_ms(requested_at) // 1000 AS second_epoch,
        count(*) AS arrivals,
        count(*) FILTER (WHERE status = 429) AS throttled_429
    FROM requests
    WHERE
        requested_at >= $start AND requested_at < $end
        AND ($api IS NULL OR api_id = $api)
        AND ($stage IS NULL OR stage = $stage)
        AND ($route IS NULL OR route = $route OR resource_path = $route)
        AND ($api_key IS NULL OR api_key_id = $api_key)
    GROUP BY api_id, stage, route, second_epoch
)
SELECT
    api_id,
    stage,
    route,
    max(arrivals) AS peak_arrivals_per_s,
    make_timestamptz(min(second_epoch) FILTER (WHERE arrivals = peak_arrivals) * 1000000)
        AS first_peak_second,
    sum(arrivals) / count(*) AS mean_arrivals_per_active_s,
    max(throttled_429) AS peak_429_per_s,
    sum(arrivals) AS requests
FROM (SELECT *, max(arrivals) OVER (PARTITION BY api_id, stage, route) AS peak_arrivals FROM per_second)
GROUP BY api_id, stage, route
ORDER BY peak_arrivals_per_s DESC, api_id, stage, route
