-- title: Errors by gateway response type and status
-- grain: one row per api_id, stage, status, error_response_type and error_message (status >= 400)
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
WITH counted AS MATERIALIZED (
    SELECT api_id, stage, status, error_response_type, error_message, count(*) AS responses
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
    GROUP BY api_id, stage, status, error_response_type, error_message
),
shares AS (
    SELECT *, sum(responses) OVER (PARTITION BY api_id, stage) AS stage_requests
    FROM counted
)
SELECT
    api_id,
    stage,
    status,
    error_response_type,
    error_message,
    responses,
    responses / stage_requests AS share_of_requests,
    responses / sum(responses) OVER (PARTITION BY api_id, stage) AS share_of_errors
FROM shares
WHERE status >= 400
ORDER BY responses DESC, api_id, stage, status, error_response_type NULLS LAST,
    error_message NULLS LAST
