-- title: 5xx causes: every server error classified
-- grain: one row per api_id, stage, route, status, cause and evidence, the most frequent first
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- cause is the execution log's error class when the request has one (evidence =
-- execution_log), else read from the access-log fields (evidence = access_log):
-- integration_timeout (INTEGRATION_TIMEOUT, 'Endpoint request timed out', a timeout error),
-- lambda_function_timeout ('Task timed out'), lambda_throttled (Lambda service status 429,
-- 'Rate Exceeded'), lambda_function_error ('customer function error'),
-- malformed_proxy_response, authorizer_failure (AUTHORIZER_* types, authorizer status >= 500),
-- configuration_error (API_CONFIGURATION_ERROR, 'configuration error'),
-- backend_5xx_passed_through (the integration's own 5xx returned as is), unknown (a 502 with
-- none of these signals is unknown: a function error and a malformed proxy response look alike).
WITH filtered AS (
    SELECT
        request_id,
        api_id,
        stage,
        route,
        status,
        requested_at,
        error_response_type,
        error_message,
        integration_error,
        integration_status,
        integration_service_status,
        authorizer_status
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
    WHERE
        status >= 500
),
server_errors AS (
    SELECT f.*, e.error_class
    FROM filtered AS f
    LEFT JOIN execution_requests AS e ON e.request_id = f.request_id
),
classified AS (
    SELECT
        *,
        CASE
            WHEN error_class IN (
                'integration_timeout', 'lambda_function_timeout', 'lambda_throttled',
                'lambda_function_error', 'malformed_proxy_response', 'authorizer_failure',
                'configuration_error'
            ) THEN error_class
            WHEN integration_error ILIKE '%Task timed out%' THEN 'lambda_function_timeout'
            WHEN error_response_type = 'INTEGRATION_TIMEOUT'
                OR error_message = 'Endpoint request timed out'
                OR integration_error ILIKE '%timeout error%' THEN 'integration_timeout'
            WHEN integration_service_status = 429
                OR integration_error ILIKE '%Rate Exceeded%' THEN 'lambda_throttled'
            WHEN integration_error ILIKE '%Malformed Lambda proxy response%'
                THEN 'malformed_proxy_response'
            WHEN integration_error ILIKE '%customer function error%' THEN 'lambda_function_error'
            WHEN error_response_type IN ('AUTHORIZER_FAILURE', 'AUTHORIZER_CONFIGURATION_ERROR')
                OR authorizer_status >= 500 THEN 'authorizer_failure'
            WHEN error_response_type = 'API_CONFIGURATION_ERROR'
                OR integration_error ILIKE '%configuration error%' THEN 'configuration_error'
            WHEN integration_status >= 500 AND integration_status = status
                AND error_response_type IS NULL THEN 'backend_5xx_passed_through'
            ELSE 'unknown'
        END AS cause,
        CASE
            WHEN error_class IS NOT NULL AND error_class <> 'none' THEN 'execution_log'
            ELSE 'access_log'
        END AS evidence
    FROM server_errors
)
SELECT
    api_id,
    stage,
    route,
    status,
    cause,
    evidence,
    count(*) AS server_errors_5xx,
    count(*) / sum(count(*)) OVER (PARTITION BY api_id, stage) AS share_of_stage_5xx,
    min(requested_at) AS first_at,
    max(requested_at) AS last_at
FROM classified
GROUP BY api_id, stage, route, status, cause, evidence
ORDER BY server_errors_5xx DESC, api_id, stage, route, status, cause, evidence
