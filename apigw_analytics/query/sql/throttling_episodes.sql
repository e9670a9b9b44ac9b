-- title: Throttling episodes: contiguous windows with 429s
-- grain: one row per episode (api_id, stage, episode_start), in time order
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- param gap_s integer = 60: seconds without a 429 that end an episode
-- An episode is a run of seconds with at least one 429 where consecutive such seconds are at
-- most gap_s apart. peak_arrivals_per_s is the busiest second of the episode (all statuses);
-- top_route and top_api_key had the most 429s in it (ties broken by name).
-- Episodes are found from per-second counts; each second finds its episode through a time
-- bucket, each 429 through its second, so the work grows with the seconds and the 429s, not
-- with their product. Only the 429s are read twice.
WITH per_second AS (
    SELECT
        api_id,
        stage,
        epoch_us(requested_at) // 1000000 AS second_epoch,
        count(*) AS arrivals,
        count(*) FILTER (WHERE status = 429) AS throttled_429
    FROM requests_in($start, $end, $api, $stage, $route, $api_key)
    GROUP BY api_id, stage, second_epoch
),
marked AS (
    SELECT
        *,
        CASE
            WHEN second_epoch - lag(second_epoch) OVER (
                PARTITION BY api_id, stage ORDER BY second_epoch
            ) <= $gap_s THEN 0
            ELSE 1
        END AS starts_episode
    FROM per_second
    WHERE throttled_429 > 0
),
numbered AS (
    SELECT
        *,
        sum(starts_episode) OVER (
            PARTITION BY api_id, stage ORDER BY second_epoch ROWS UNBOUNDED PRECEDING
        ) AS episode
    FROM marked
),
episodes AS (
    SELECT
        api_id,
        stage,
        episode,
        min(second_epoch) AS first_second,
        max(second_epoch) AS last_second,
        sum(throttled_429) AS throttled_429,
        max(throttled_429) AS peak_429_per_s
    FROM numbered
    GROUP BY api_id, stage, episode
),
episode_buckets AS (
    -- Each episode listed once per (gap_s + 1)-second bucket it touches: episodes of a stage are
    -- more than gap_s apart, so a bucket holds parts of two at most and a second finds its
    -- episode by equality on the bucket (a plain range join compares every second with every
    -- episode of its stage).
    SELECT
        *,
        unnest(
            range(
                first_second // (greatest($gap_s, 0) + 1),
                last_second // (greatest($gap_s, 0) + 1) + 1
            )
        ) AS bucket
    FROM episodes
),
traffic AS (
    SELECT
        e.api_id,
        e.stage,
        e.episode,
        sum(p.arrivals) AS requests,
        max(p.arrivals) AS peak_arrivals_per_s
    FROM per_second AS p
    JOIN episode_buckets AS e
        ON p.api_id IS NOT DISTINCT FROM e.api_id
        AND p.stage IS NOT DISTINCT FROM e.stage
        AND p.second_epoch // (greatest($gap_s, 0) + 1) = e.bucket
        AND p.second_epoch BETWEEN e.first_second AND e.last_second
    GROUP BY e.api_id, e.stage, e.episode
),
throttled_requests AS (
    SELECT n.api_id, n.stage, n.episode, t.route, t.api_key_id
    FROM numbered AS n
    JOIN (
        SELECT api_id, stage, route, api_key_id, epoch_us(requested_at) // 1000000 AS second_epoch
        FROM requests_in($start, $end, $api, $stage, $route, $api_key)
        WHERE status = 429
    ) AS t
        ON t.api_id IS NOT DISTINCT FROM n.api_id
        AND t.stage IS NOT DISTINCT FROM n.stage
        AND t.second_epoch = n.second_epoch
),
top_route AS (
    SELECT api_id, stage, episode, route, count(*) AS route_429
    FROM throttled_requests
    GROUP BY api_id, stage, episode, route
    QUALIFY row_number() OVER (
        PARTITION BY api_id, stage, episode ORDER BY count(*) DESC, route NULLS LAST
    ) = 1
),
top_key AS (
    SELECT api_id, stage, episode, api_key_id, count(*) AS api_key_429
    FROM throttled_requests
    GROUP BY api_id, stage, episode, api_key_id
    QUALIFY row_number() OVER (
        PARTITION BY api_id, stage, episode ORDER BY count(*) DESC, api_key_id NULLS LAST
    ) = 1
)
SELECT
    e.api_id,
    e.stage,
    make_timestamptz(e.first_second * 1000000) AS episode_start,
    make_timestamptz((e.last_second + 1) * 1000000) AS episode_end,
    e.last_second + 1 - e.first_second AS duration_s,
    t.requests,
    e.throttled_429,
    e.peak_429_per_s,
    t.peak_arrivals_per_s,
    r.route AS top_route,
    r.route_429 AS top_route_429,
    k.api_key_id AS top_api_key,
    k.api_key_429 AS top_api_key_429
FROM episodes AS e
JOIN traffic AS t USING (api_id, stage, episode)
JOIN top_route AS r USING (api_id, stage, episode)
JOIN top_key AS k USING (api_id, stage, episode)
ORDER BY episode_start, e.api_id, e.stage
