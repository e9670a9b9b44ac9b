-- title: Throttling hot spots by API, stage, resource and method
-- grain: one row per api_id, stage, resource_path and http_method with at least one 429
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- THROTTLED and QUOTA_EXCEEDED come from the gateway response type, else from the error message
-- ('Too Many Requests' / 'Limit Exceeded'); 429s with neither are counted as unknown_429.
WITH filtered AS (
    SELECT
        api_id,
        stage,
        coalesce(resource_path, route_key) AS resource_path,
        http_method,
        status,
        throttle_kind(status, error_response_type, error_message) AS throttle_kind
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
)
SELECT
    api_id,
    stage,
    resource_path,
    http_method,
    count(*) AS requests,
    count(*) FILTER (WHERE status = 429) AS throttled_429,
    count(*) FILTER (WHERE throttle_kind = 'THROTTLED') AS throttled,
    count(*) FILTER (WHERE throttle_kind = 'QUOTA_EXCEEDED') AS quota_exceeded,
    count(*) FILTER (WHERE throttle_kind = 'unknown') AS unknown_429,
    count(*) FILTER (WHERE status = 429) / count(*) AS throttled_share
FROM filtered
GROUP BY api_id, stage, resource_path, http_method
HAVING count(*) FILTER (WHERE status = 429) > 0
ORDER BY throttled_429 DESC, api_id, stage, resource_path, http_method
