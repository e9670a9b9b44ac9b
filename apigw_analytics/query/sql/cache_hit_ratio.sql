-- title: Stage cache hit ratio, inferred from access logs beside CacheHit/MissCount metrics
-- grain: one row per api, stage, http_method and resource_path (level = method), plus one per api and stage (level = stage)
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- Inferred from access logs: a cache-eligible request is a REST GET answered 2xx/3xx with no
-- gateway error; it counts as a hit when integration_latency_ms is NULL (no integration call).
-- Only routes that show at least one integration call in the window are inferred: a route that
-- never does is a MOCK integration, an uncached route whose log format lacks integrationLatency
-- (the console presets), or cached with no miss at all, and the logs cannot tell these apart.
-- Its requests are counted in uninferred_requests and its ratio is NULL; the stage row sums the
-- inferred routes only. Other limits: only GET is assumed cacheable (other methods need
-- per-method overrides); Cache-Control: max-age=0 invalidations look like misses.
-- Metrics: CacheHitCount / CacheMissCount Sum; per method and resource only with detailed
-- metrics. A series exported at several periods (a 1-minute stream and hourly statistics of
-- the same stage) is summed at its finest period only, so it is counted once.
-- Logs name the API by id; REST metrics by ApiName, which gets the id of the one REST API of
-- that name in the ingested API listings (`aws apigateway get-rest-apis` output), so its
-- metrics sit beside its logs. A name no listed API has (or no listing ingested), or one that
-- several listed REST APIs share, is not guessed: those metrics keep a row of their own with
-- the name as api_id, and metrics_api_match says which (ApiId | listing | unlisted |
-- ambiguous; NULL on rows without metrics). api_name is the metrics' ApiName, else the listed
-- name of the id. Rows with no match on one side show NULLs there. api_key and route narrow
-- the logs only.
WITH per_route AS (
    SELECT
        api_id,
        stage,
        http_method,
        resource_path,
        count(*) AS eligible_requests,
        count(*) FILTER (WHERE integration_latency_ms IS NOT NULL) AS integration_calls
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
    WHERE
        coalesce(api_type, 'rest') = 'rest'
        AND http_method = 'GET'
        AND status BETWEEN 200 AND 399
        AND error_response_type IS NULL
    GROUP BY ALL
),
inferred AS (
    SELECT
        api_id,
        stage,
        http_method,
        resource_path,
        CASE WHEN grouping(http_method, resource_path) = 0 THEN 'method' ELSE 'stage' END AS level,
        sum(eligible_requests)::BIGINT AS eligible_requests,
        CAST(sum(eligible_requests - integration_calls) FILTER (WHERE integration_calls > 0)
            AS BIGINT) AS inferred_hits,
        sum(integration_calls)::BIGINT AS integration_calls,
        coalesce(sum(eligible_requests) FILTER (WHERE integration_calls = 0), 0)::BIGINT
            AS uninferred_requests
    FROM per_route
    GROUP BY GROUPING SETS ((api_id, stage, http_method, resource_path), (api_id, stage))
),
points AS (
    SELECT
        coalesce(resolved_api_id, api_name) AS api_id,
        api_name,
        api_match,
        stage,
        method AS http_method,
        resource AS resource_path,
        metric,
        sum,
        period_s,
        min(period_s) OVER (
            PARTITION BY coalesce(api_id, api_name), stage, method, resource
        ) AS finest_period_s
    FROM metric_points
    WHERE
        timestamp >= $start AND timestamp < $end
        AND ($api IS NULL OR resolved_api_id = $api OR api_name = $api)
        AND ($stage IS NULL OR stage = $stage)
        AND metric IN ('cache_hit_count', 'cache_miss_count')
        AND stage IS NOT NULL
        AND route IS NULL
),
measured AS (
    SELECT
        api_id,
        stage,
        http_method,
        resource_path,
        CASE WHEN http_method IS NULL AND resource_path IS NULL THEN 'stage' ELSE 'method' END
            AS level,
        sum(coalesce(sum, 0)) FILTER (WHERE metric = 'cache_hit_count') AS metric_hits,
        sum(coalesce(sum, 0)) FILTER (WHERE metric = 'cache_miss_count') AS metric_misses,
        min(api_name) AS api_name,
        min(api_match) AS api_match
    FROM points
    WHERE period_s = finest_period_s
    GROUP BY ALL
),
listed_names AS (
    SELECT api_id, min(api_name) AS api_name
    FROM apis
    GROUP BY api_id
)
SELECT
    coalesce(i.api_id, m.api_id) AS api_id,
    coalesce(i.stage, m.stage) AS stage,
    coalesce(i.level, m.level) AS level,
    coalesce(i.http_method, m.http_method) AS http_method,
    coalesce(i.resource_path, m.resource_path) AS resource_path,
    i.eligible_requests,
    i.inferred_hits,
    i.integration_calls,
    i.uninferred_requests,
    i.inferred_hits / (i.inferred_hits + i.integration_calls)::DOUBLE AS inferred_hit_ratio,
    m.metric_hits,
    m.metric_misses,
    m.metric_hits / nullif(m.metric_hits + m.metric_misses, 0) AS metric_hit_ratio,
    coalesce(m.api_name, n.api_name) AS api_name,
    m.api_match AS metrics_api_match
FROM inferred AS i
FULL OUTER JOIN measured AS m
    ON m.api_id = i.api_id
    AND m.stage = i.stage
    AND m.level = i.level
    AND m.http_method IS NOT DISTINCT FROM i.http_method
    AND m.resource_path IS NOT DISTINCT FROM i.resource_path
LEFT JOIN listed_names AS n
    ON n.api_id = coalesce(i.api_id, m.api_id)
ORDER BY api_id, stage, level DESC, http_method NULLS FIRST, resource_path NULLS FIRST
