-- title: Throttling by source IP (the top talkers that were throttled)
-- grain: one row per source_ip with at least one 429, the most throttled first
-- param start timestamp = 1970-01-01: window start, inclusive (UTC, ISO 8601)
-- param end timestamp = 9999-12-31: window end, exclusive (UTC, ISO 8601)
-- param api string: API id; every API when omitted
-- param stage string: stage name; every stage when omitted
-- param route string: route ('GET /pets'), resource path or route key; every route when omitted
-- param api_key string: API key id; every key when omitted
-- param top integer = 100: how many source IPs to return
-- source_ip is the immediate client connection: behind a proxy or CDN it is that hop's address.
SELECT
    source_ip,
    count(*) AS requests,
    count(*) FILTER (WHERE status = 429) AS throttled_429,
    count(*) FILTER (WHERE status = 429) / count(*) AS throttled_share,
    count(DISTINCT api_key_id) AS api_keys,
    min(requested_at) FILTER (WHERE status = 429) AS first_429_at,
    max(requested_at) FILTER (WHERE status = 429) AS last_429_at
FROM requests_in($start, $end, $api, $stage, $route, $api_key)
GROUP BY source_ip
HAVING count(*) FILTER (WHERE status = 429) > 0
ORDER BY throttled_429 DESC, source_ip NULLS LAST
LIMIT $top
