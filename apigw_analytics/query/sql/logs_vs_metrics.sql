-- title: Logs versus metrics: request, 4xx and 5xx counts side by side
-- grain: one row per api, stage and period_start present in the logs or the metrics
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- param period_s integer = 60: the metric period to compare (CloudWatch publishes per minute)
-- param tolerance integer = 0: largest difference not flagged as a mismatch
-- Metrics: Count (Sum, else SampleCount), 4XXError/4xx and 5XXError/5xx Sum at the stage
-- level; with a route, the detailed (per resource or route) points instead. Logs name the API
-- by id; REST metrics by ApiName, which gets the id of the one REST API of that name in the
-- ingested API listings (`aws apigateway get-rest-apis` output), so its metrics sit beside its
-- logs. A name no listed API has (or no listing ingested), or one that several listed REST
-- APIs share, is not guessed: those metrics keep rows of their own with the name as api_id,
-- and metrics_api_match says which (ApiId | listing | unlisted | ambiguous; NULL on rows
-- without metrics). api_name is the metrics' ApiName, else the listed name of the id. AWS may
-- leave some 413s, excessive 429s and internal 5xx out of both logs and metrics; api_key
-- narrows the logs only.
WITH logged AS (
    SELECT
        api_id,
        stage,
        bucket_start(requested_at, $period_s) AS period_start,
        count(*) AS log_requests,
        count(*) FILTER (WHERE status BETWEEN 400 AND 499) AS log_4xx,
        count(*) FILTER (WHERE status >= 500) AS log_5xx
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
    GROUP BY api_id, stage, period_start
),
measured AS (
    SELECT
        coalesce(resolved_api_id, api_name) AS api_id,
        stage,
        timestamp AS period_start,
        sum(coalesce(sum, sample_count)) FILTER (WHERE metric = 'request_count') AS metric_requests,
        sum(sum) FILTER (WHERE metric = 'client_error_count') AS metric_4xx,
        sum(sum) FILTER (WHERE metric = 'server_error_count') AS metric_5xx,
        min(api_name) AS api_name,
        min(api_match) AS api_match
    FROM metric_points
    WHERE
        timestamp >= $start AND timestamp < $end
        AND ($api IS NULL OR resolved_api_id = $api OR api_name = $api)
        AND ($stage IS NULL OR stage = $stage)
        AND period_s = $period_s
        AND stage IS NOT NULL
        AND metric IN ('request_count', 'client_error_count', 'server_error_count')
        AND (
            ($route IS NULL AND method IS NULL AND resource IS NULL AND route IS NULL)
            OR route = $route
            OR resource = $route
            OR method || ' ' || resource = $route
        )
    GROUP BY ALL
),
listed_names AS (
    SELECT api_id, min(api_name) AS api_name
    FROM apis
    GROUP BY api_id
),
joined AS (
    SELECT
        coalesce(l.api_id, m.api_id) AS api_id,
        coalesce(l.stage, m.stage) AS stage,
        coalesce(l.period_start, m.period_start) AS period_start,
        coalesce(l.log_requests, 0) AS log_requests,
        m.metric_requests,
        coalesce(l.log_4xx, 0) AS log_4xx,
        m.metric_4xx,
        coalesce(l.log_5xx, 0) AS log_5xx,
        m.metric_5xx,
        m.api_name AS metrics_api_name,
        m.api_match AS metrics_api_match
    FROM logged AS l
    FULL OUTER JOIN measured AS m
        ON m.api_id = l.api_id AND m.stage = l.stage AND m.period_start = l.period_start
)
SELECT
    j.api_id,
    j.stage,
    j.period_start,
    log_requests,
    metric_requests,
    log_4xx,
    metric_4xx,
    log_5xx,
    metric_5xx,
    log_requests - coalesce(metric_requests, 0) AS requests_difference,
    log_4xx - coalesce(metric_4xx, 0) AS difference_4xx,
    log_5xx - coalesce(metric_5xx, 0) AS difference_5xx,
    abs(log_requests - coalesce(metric_requests, 0)) > $tolerance
        OR abs(log_4xx - coalesce(metric_4xx, 0)) > $tolerance
        OR abs(log_5xx - coalesce(metric_5xx, 0)) > $tolerance AS mismatch,
    coalesce(j.metrics_api_name, n.api_name) AS api_name,
    j.metrics_api_match
FROM joined AS j
LEFT JOIN listed_names AS n
    ON n.api_id = j.api_id
ORDER BY period_start, api_id, stage
