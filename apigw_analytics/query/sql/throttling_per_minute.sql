-- title: Throttling per minute
-- grain: one row per minute_start, api_id and stage with at least one 429
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
WITH filtered AS (
    SELECT
        bucket_start(requested_at, 60) AS minute_start,
        api_id,
        stage,
        status,
        throttle_kind(status, error_response_type, error_message) AS throttle_kind
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
)
SELECT
    minute_start,
    api_id,
    stage,
    count(*) AS requests,
    count(*) FILTER (WHERE status = 429) AS throttled_429,
    count(*) FILTER (WHERE throttle_kind = 'THROTTLED') AS throttled,
    count(*) FILTER (WHERE throttle_kind = 'QUOTA_EXCEEDED') AS quota_exceeded,
    count(*) FILTER (WHERE status = 429) / count(*) AS throttled_share
FROM filtered
GROUP BY minute_start, api_id, stage
HAVING count(*) FILTER (WHERE status = 429) > 0
ORDER BY minute_start, api_id, stage
