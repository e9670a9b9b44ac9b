-- title: API key usage against a quota, with projected exhaustion
-- grain: one row per api_key_id and quota period window (DAY, WEEK or MONTH), in time order
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- param period DAY|WEEK|MONTH = DAY: the usage plan's quota period
-- param quota_limit integer: requests allowed per period; else the limit stated by the key's quota messages in the execution logs
-- param rate_window_s integer = 3600: the trailing window that gives the current rate
-- Windows are calendar periods in UTC (weeks start on Monday, ISO). Requests answered 429 do
-- not count toward the quota. The current rate is the key's requests in the rate_window_s
-- before its last request of the window (minute resolution); projected_exhaustion_at is when
-- the remaining quota runs out at that rate, NULL when it would not run out in the window.
-- The execution logs are read only when no quota_limit is given.
WITH per_minute AS (
    SELECT
        api_key_id,
        bucket_start(requested_at, 60) AS minute_start,
        date_trunc(lower($period), minute_start) AS period_start,
        count(*) FILTER (WHERE status <> 429) AS counted,
        count(*) FILTER (WHERE status = 429) AS throttled_429
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
    WHERE api_key_id IS NOT NULL
    GROUP BY api_key_id, minute_start
),
stated AS (
    SELECT r.api_key_id, max(e.quota_limit) AS stated_quota_limit
    FROM requests_in($start, $end, $api, $stage, $route, $api_key) AS r
    JOIN execution_requests AS e ON e.request_id = r.request_id
    WHERE
        $quota_limit IS NULL
        AND r.api_key_id IS NOT NULL
        AND e.quota_limit IS NOT NULL
        AND e.quota_period = $period
    GROUP BY r.api_key_id
),
windows AS (
    SELECT
        api_key_id,
        period_start,
        CASE $period
            WHEN 'DAY' THEN period_start + INTERVAL 1 DAY
            WHEN 'WEEK' THEN period_start + INTERVAL 7 DAY
            ELSE period_start + INTERVAL 1 MONTH
        END AS period_end,
        sum(counted) AS requests_counted,
        sum(throttled_429) AS throttled_429,
        max(minute_start) FILTER (WHERE counted > 0) + INTERVAL 60 SECOND AS last_minute_end
    FROM per_minute
    GROUP BY api_key_id, period_start
),
rates AS (
    SELECT
        w.api_key_id,
        w.period_start,
        sum(p.counted) / $rate_window_s AS current_rate_per_s
    FROM windows AS w
    JOIN per_minute AS p
        ON p.api_key_id = w.api_key_id
        AND p.period_start = w.period_start
        AND p.minute_start >= w.last_minute_end - to_seconds($rate_window_s)
    GROUP BY w.api_key_id, w.period_start
),
measured AS (
    SELECT
        w.*,
        coalesce($quota_limit, s.stated_quota_limit) AS quota_limit,
        r.current_rate_per_s
    FROM windows AS w
    LEFT JOIN stated AS s USING (api_key_id)
    LEFT JOIN rates AS r USING (api_key_id, period_start)
),
projected AS (
    SELECT
        *,
        requests_counted / quota_limit AS quota_share,
        CASE
            WHEN requests_counted >= quota_limit THEN last_minute_end
            WHEN current_rate_per_s > 0 THEN last_minute_end
                + to_seconds(ceil((quota_limit - requests_counted) / current_rate_per_s)::BIGINT)
        END AS exhaustion_at
    FROM measured
)
SELECT
    api_key_id,
    period_start,
    period_end,
    requests_counted,
    throttled_429,
    quota_limit,
    quota_share,
    current_rate_per_s,
    CASE WHEN exhaustion_at < period_end THEN exhaustion_at END AS projected_exhaustion_at,
    requests_counted >= quota_limit AS quota_exhausted
FROM projected
ORDER BY period_start, api_key_id
