-- title: Throttle attribution from execution logs: which limit fired
-- grain: one row per api_id, stage, resource_path, http_method, layer and stated limit
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- layer: usage_plan_key_throttle (a key throttle message: plan id, rate, burst),
-- usage_plan_key_quota (a key quota message: plan id, limit, period), no_key_message (a 429 in
-- the execution log with no key message: a method, stage or account limit; a keyless
-- 'Key throttle limit exceeded for RestApi' line states that limit's rate and burst), and
-- no_execution_log (a 429 in the access log whose request has no execution record).
-- A throttled request's execution log stops before it names the resource path, so the path
-- (and method, when the message lacks it) comes from the request's access-log line if stored.
-- api_key matches the masked key in execution logs and the key id in access logs.
WITH executed AS (
    SELECT
        e.api_id,
        e.stage,
        coalesce(e.resource_path, a.resource_path, a.route_key) AS resource_path,
        coalesce(e.http_method, a.http_method) AS http_method,
        e.api_key,
        CASE e.usage_plan_outcome
            WHEN 'key_throttled' THEN 'usage_plan_key_throttle'
            WHEN 'key_quota_exceeded' THEN 'usage_plan_key_quota'
            ELSE 'no_key_message'
        END AS layer,
        e.usage_plan_id,
        e.throttle_rate_limit_rps,
        e.throttle_burst_limit,
        e.quota_limit,
        e.quota_period,
        e.first_event_at AS requested_at
    FROM execution_requests AS e
    LEFT JOIN (
        SELECT request_id, resource_path, route_key, http_method
        FROM requests
        WHERE status = 429 AND request_id IS NOT NULL
    ) AS a ON a.request_id = e.request_id
    WHERE
        e.first_event_at >= $start AND e.first_event_at < $end
        AND (e.status = 429 OR e.usage_plan_outcome IN ('key_throttled', 'key_quota_exceeded'))
        AND ($api IS NULL OR e.api_id = $api)
        AND ($stage IS NULL OR e.stage = $stage)
        AND ($api_key IS NULL OR e.api_key = $api_key)
),
unlogged AS (
    SELECT
        api_id,
        stage,
        coalesce(resource_path, route_key) AS resource_path,
        http_method,
        api_key_id AS api_key,
        'no_execution_log' AS layer,
        NULL AS usage_plan_id,
        NULL AS throttle_rate_limit_rps,
        NULL AS throttle_burst_limit,
        NULL AS quota_limit,
        NULL AS quota_period,
        requested_at
    FROM requests_in($start, $end, $api, $stage, $route, $api_key) AS r
    WHERE
        status = 429
        AND NOT EXISTS (SELECT 1 FROM execution_requests AS e WHERE e.request_id = r.request_id)
),
throttled AS (
    SELECT * FROM executed
    WHERE
        $route IS NULL OR resource_path = $route OR http_method || ' ' || resource_path = $route
    UNION ALL
    SELECT * FROM unlogged
)
SELECT
    api_id,
    stage,
    resource_path,
    http_method,
    layer,
    usage_plan_id,
    throttle_rate_limit_rps,
    throttle_burst_limit,
    quota_limit,
    quota_period,
    count(*) AS throttled_429,
    count(DISTINCT api_key) AS api_keys,
    min(requested_at) AS first_at,
    max(requested_at) AS last_at
FROM throttled
GROUP BY ALL
ORDER BY throttled_429 DESC, api_id, stage, resource_path, http_method, layer, usage_plan_id,
    throttle_rate_limit_rps, throttle_burst_limit, quota_limit, quota_period
