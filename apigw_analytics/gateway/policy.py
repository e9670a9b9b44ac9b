"""The reference gateway's policy: what it models, in what order, and every undocumented choice.

This docstring is the one place where the model's behaviour is written down. The code that
implements it is `kernels.py` (compiled stages), `tables.py` (configuration → per-route and
per-client tables), and `arrival_reader.py`, `combinations.py` and `donors.py` (recorded arrivals
→ model inputs).

Order of evaluation for one request (REST; HTTP APIs use the same order without usage plans,
cache or authorizer-result cache from the stage):

1. Canary split. A stage with `canarySettings.percentTraffic` sends each request to the canary
   with that probability (AWS does not document the mechanism). The draw is the request's key
   (extended request id, else request id) hashed with the seed, so a request's assignment does
   not depend on the other arrivals; a request with no id draws from the seeded generator. A
   canary request uses the stage cache only when `useStageCache` is true, sharing the
   production entries (AWS keeps them apart only across different deployments; a recording
   does not say which deployment served a request).
2. Throttling, in AWS's documented order: usage-plan per-method throttle (plan × key × method),
   usage-plan per-key throttle (plan × key, shared by every stage in the plan), quota
   (plan × key × calendar period), method (`methodSettings["/res/METHOD"]`, HTTP `routeSettings`),
   stage (`methodSettings["*/*"]`, HTTP `defaultRouteSettings`), account (10,000 rps / 5,000
   burst unless set). Each limit is a token bucket: capacity = burst, refill = rate tokens/s,
   **the bucket starts full**, one token per request. **A request is admitted only when every
   layer admits it; a rejected request takes no token from any layer** and the layer named in
   `limit_layer` is the first one, in the order above, that had no token. Quotas count admitted
   requests only. Undocumented choices, as settings under `[model]`:
   - `stageThrottleScope = "per_method"` (default): `*/*` is a wildcard method setting, so each
     method without its own setting gets its own bucket with the stage limits; `"shared"` makes
     the stage one bucket over all its methods, applied in addition to method settings.
   - `throttleSlack = 0.0`: AWS calls its limits "targets, not guaranteed ceilings"; a slack of
     0.05 lets every bucket hold and refill 5 % more than configured.
   - Only methods with `apiKeyRequired = true` count toward usage plans. When the configuration
     does not say, a request that carries an API key id in the recording counts (the access log
     fills `$context.identity.apiKeyId` only for key-required methods).
   - Quota periods are calendar UTC periods: DAY from 00:00 UTC, WEEK from Sunday 00:00 UTC,
     MONTH from the 1st. `offset` follows the current API reference: requests subtracted from the
     limit in the first period (here: the first period of the replay). AWS's older SDK docs read
     it as the day a period starts; that reading is not modelled.
   - Bucket refill uses the millisecond arrival times; two arrivals in the same millisecond see
     no refill between them.
3. A request the recording shows rejected before the integration for a reason the model does not
   reproduce from configuration (missing authentication token, authorizer denial, WAF, request
   validation, 413, ...) passes the throttle (it arrived, so it takes tokens) and then keeps its
   recorded status and gateway response type.
4. Authorizer result cache: keyed by authorizer × identity. The identity sources themselves are
   not in access logs, so the recorded principal id stands in for them (then the API key id, then
   the source IP); a live entry means the authorizer is not called and its latency not added.
5. Stage cache (REST): a method is cached when the stage cache cluster is enabled and its
   `cachingEnabled` (own setting, else `*/*`, else true for GET only) and `cacheTtlInSeconds`
   (default 300, 0 = off) allow it. Key = stage × method × resource × path (cache-key parameters
   are not in access logs). Capacity = `cacheClusterSize` GB of response bytes; entries are
   evicted least-recently-used until the new response fits; a response over 1,048,576 bytes is
   never stored; an expired entry is dropped when next looked up (it holds capacity until then).
   Only responses with a status from 200 to `cacheableStatusMax` (default 299) are stored.
   `Cache-Control: max-age=0` (found in the recording's `extra` field) invalidates the entry when
   `requireAuthorizationForCacheControl` is false, or when `callersMayInvalidate = true`;
   otherwise `unauthorizedCacheControlHeaderStrategy` applies: `FAIL_WITH_403` answers 403
   (ACCESS_DENIED), the SUCCEED_* strategies serve normally. A hit answers with the stored status.
6. Integration: the recorded integration outcome (status, latency, gateway response type) when
   the recording called the integration; otherwise one drawn, seeded, from the same route's
   recorded integration calls (then the stage's, then all), and the report counts those draws.
   A latency at or above `timeoutInMillis` (default 29,000 ms REST, 30,000 ms HTTP) becomes 504
   INTEGRATION_TIMEOUT after exactly the timeout. A recorded timeout's true latency is unknown
   (censored), so raising the timeout cannot turn it into a success: it stays 504.
7. Predicted latency = the request's recorded gateway overhead (latency − integration latency;
   the route's median when not recorded) + authorizer latency when called + integration latency
   when called.
"""

from __future__ import annotations

LAYER_NAMES = (None, "usage_plan_method", "usage_plan", "quota", "method", "stage", "account")
LAYER_QUOTA = 3

CACHE_RESULTS = ("not_cached", "hit", "miss")
CACHE_HIT = 1
CACHE_MISS = 2

# Cache-Control: max-age=0 handling, per route.
CC_ALLOW = 0
CC_FAIL_403 = 1
CC_IGNORE = 2

MAX_CACHE_ITEM_BYTES = 1_048_576
REST_DEFAULT_TIMEOUT_MS = 29_000
HTTP_DEFAULT_TIMEOUT_MS = 30_000
DEFAULT_CACHE_TTL_S = 300
DEFAULT_AUTHORIZER_TTL_S = 300

# Gateway response types the model itself produces; recorded types are appended after these.
TYPE_THROTTLED = 1
TYPE_QUOTA_EXCEEDED = 2
TYPE_INTEGRATION_TIMEOUT = 3
TYPE_ACCESS_DENIED = 4
MODEL_RESPONSE_TYPES = (
    None,
    "THROTTLED",
    "QUOTA_EXCEEDED",
    "INTEGRATION_TIMEOUT",
    "ACCESS_DENIED",
)
