"""Compiled (numba) stages of the policy core and the replay loop that chains them.

Every stage is a small `njit` function over state arrays that takes the current simulated time
as an argument (`now_ms`): that argument is the injected clock, so each stage can be tested alone
with times chosen by the test, and the replay loop feeds it the arrival times. The loop visits
the arrivals once, in time order, with integer-coded keys; nothing in it touches Python objects.
The behaviour these functions implement, and the choices made where AWS is silent, are written
down once in `policy.py`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from apigw_analytics.gateway.policy import (
    CACHE_HIT,
    CACHE_MISS,
    CC_ALLOW,
    CC_FAIL_403,
    LAYER_QUOTA,
    MAX_CACHE_ITEM_BYTES,
    TYPE_ACCESS_DENIED,
    TYPE_INTEGRATION_TIMEOUT,
    TYPE_QUOTA_EXCEEDED,
    TYPE_THROTTLED,
)

# Bucket layers in a profile row, in AWS's order of evaluation; the quota sits between the
# usage-plan buckets and the method bucket (see policy.LAYER_NAMES for the numbering).
_PROFILE_LAYER_CODES = np.array([1, 2, 4, 5, 6], dtype=np.int8)


@njit(cache=True, inline="always")
def bucket_admits(tokens, last_ms, rate_per_ms, burst, bucket, now_ms):
    """Refill `bucket` up to `now_ms` (lazily, by elapsed time) and say whether a token is left."""
    elapsed_ms = now_ms - last_ms[bucket]
    if elapsed_ms > 0:
        tokens[bucket] = min(tokens[bucket] + elapsed_ms * rate_per_ms[bucket], burst[bucket])
        last_ms[bucket] = now_ms
    return tokens[bucket] >= 1.0


@njit(cache=True, inline="always")
def quota_admits(used, window, first_window, limit, offset, quota, window_now):
    """Open a new calendar window when it changed and say whether a request is left in it."""
    if window[quota] != window_now:
        window[quota] = window_now
        used[quota] = 0
        if first_window[quota] < 0:
            first_window[quota] = window_now
    allowed = limit[quota] - (offset[quota] if window_now == first_window[quota] else 0)
    return used[quota] < allowed


@njit(cache=True, inline="always")
def authorizer_called(expiry_ms, identity, ttl_ms, now_ms):
    """True when the authorizer must run (no live cached result for this identity)."""
    if ttl_ms > 0 and now_ms < expiry_ms[identity]:
        return False
    if ttl_ms > 0:
        expiry_ms[identity] = now_ms + ttl_ms
    return True


@njit(cache=True, inline="always")
def _unlink(cache, key):
    present, size, prev, nxt, owner = cache[0], cache[2], cache[4], cache[5], cache[6]
    head, tail, used = cache[7], cache[8], cache[9]
    c = owner[key]
    if prev[key] >= 0:
        nxt[prev[key]] = nxt[key]
    else:
        head[c] = nxt[key]
    if nxt[key] >= 0:
        prev[nxt[key]] = prev[key]
    else:
        tail[c] = prev[key]
    prev[key] = -1
    nxt[key] = -1
    present[key] = False
    used[c] -= size[key]


@njit(cache=True, inline="always")
def _link_front(cache, key):
    present, size, prev, nxt, owner = cache[0], cache[2], cache[4], cache[5], cache[6]
    head, tail, used = cache[7], cache[8], cache[9]
    c = owner[key]
    prev[key] = -1
    nxt[key] = head[c]
    if head[c] >= 0:
        prev[head[c]] = key
    head[c] = key
    if tail[c] < 0:
        tail[c] = key
    present[key] = True
    used[c] += size[key]


@njit(cache=True, inline="always")
def cache_lookup(cache, key, now_ms):
    """A live entry → True and it becomes most recently used; an expired one is dropped."""
    present, expiry_ms = cache[0], cache[1]
    if not present[key]:
        return False
    if now_ms >= expiry_ms[key]:
        _unlink(cache, key)
        return False
    _unlink(cache, key)
    _link_front(cache, key)
    return True


@njit(cache=True, inline="always")
def cache_invalidate(cache, key):
    """Drop one entry (a `Cache-Control: max-age=0` the caller may send)."""
    if cache[0][key]:
        _unlink(cache, key)


@njit(cache=True, inline="always")
def cache_store(cache, capacity_bytes, key, size_bytes, status, expires_ms):
    """Store a response, evicting least recently used entries until its bytes fit."""
    present, expiry_ms, size, stored_status, owner = (
        cache[0],
        cache[1],
        cache[2],
        cache[3],
        cache[6],
    )
    tail, used = cache[8], cache[9]
    c = owner[key]
    if present[key]:
        _unlink(cache, key)
    if size_bytes > MAX_CACHE_ITEM_BYTES or size_bytes > capacity_bytes[c]:
        return False
    while used[c] + size_bytes > capacity_bytes[c] and tail[c] >= 0:
        _unlink(cache, tail[c])
    size[key] = size_bytes
    stored_status[key] = status
    expiry_ms[key] = expires_ms
    _link_front(cache, key)
    return True


def new_cache(owner: np.ndarray, cache_count: int) -> tuple[np.ndarray, ...]:
    """Empty cache state for keys whose owning stage cache is `owner[key]`."""
    key_count = len(owner)
    return (
        np.zeros(key_count, np.bool_),
        np.zeros(key_count, np.int64),
        np.zeros(key_count, np.int64),
        np.zeros(key_count, np.int16),
        np.full(key_count, -1, np.int32),
        np.full(key_count, -1, np.int32),
        owner.astype(np.int32),
        np.full(cache_count, -1, np.int32),
        np.full(cache_count, -1, np.int32),
        np.zeros(cache_count, np.int64),
    )


@njit(cache=True, inline="always")
def _throttle(i, t, profile, quota_window, tables, state):
    """Evaluate every layer; take one token from each only when all admit. → layer that fired."""
    profile_buckets, profile_quota, rate_per_ms, burst, quota_limit, quota_offset = tables
    tokens, last_ms, quota_used, quota_at, quota_first = state
    p = profile[i]
    q = profile_quota[p]
    fired = 0
    for slot in range(5):
        b = profile_buckets[p, slot]
        if (
            slot == 2
            and q >= 0
            and not quota_admits(
                quota_used, quota_at, quota_first, quota_limit, quota_offset, q, quota_window[i]
            )
        ):
            fired = LAYER_QUOTA
            break
        if b >= 0 and not bucket_admits(tokens, last_ms, rate_per_ms, burst, b, t):
            fired = _PROFILE_LAYER_CODES[slot]
            break
    if fired == 0:
        for slot in range(5):
            b = profile_buckets[p, slot]
            if b >= 0:
                tokens[b] -= 1.0
        if q >= 0:
            quota_used[q] += 1
    return fired


@njit(cache=True)
def replay_kernel(arrivals, observed, tables, routes, cache, capacity_bytes, auth_expiry, out):
    """Run every arrival, in time order, through throttle → authorizer → cache → integration."""
    t_ms, profile, quota_window, route, cache_key, auth_key, canary, invalidate = arrivals
    fixed_status, fixed_type, int_status, int_type, int_latency_ms, response_bytes = observed[:6]
    overhead_ms, auth_latency_ms = observed[6], observed[7]
    timeout_ms, cache_ttl_ms, cc_rule, auth_ttl_ms, canary_uses_cache, status_max = routes
    status, rtype, layer, cache_result, integ, auth_called, latency_ms = out
    burst, quota_limit = tables[3], tables[4]
    state = (
        burst.copy(),
        np.full(len(burst), t_ms[0] if len(t_ms) else 0, np.int64),
        np.zeros(len(quota_limit), np.int64),
        np.full(len(quota_limit), -1, np.int64),
        np.full(len(quota_limit), -1, np.int64),
    )
    for i in range(len(t_ms)):
        t = t_ms[i]
        r = route[i]
        lat = overhead_ms[i]
        fired = _throttle(i, t, profile, quota_window, tables, state)
        if fired > 0:
            layer[i] = fired
            status[i] = 429
            rtype[i] = TYPE_QUOTA_EXCEEDED if fired == LAYER_QUOTA else TYPE_THROTTLED
            latency_ms[i] = lat
            continue
        if fixed_status[i] > 0:
            status[i] = fixed_status[i]
            rtype[i] = fixed_type[i]
            latency_ms[i] = lat
            continue
        a = auth_key[i]
        if a >= 0 and authorizer_called(auth_expiry, a, auth_ttl_ms[r], t):
            auth_called[i] = True
            lat += auth_latency_ms[i]
        k = cache_key[i]
        cacheable = k >= 0 and cache_ttl_ms[r] > 0 and (not canary[i] or canary_uses_cache[r])
        if cacheable:
            if invalidate[i] and cc_rule[r] == CC_FAIL_403:
                status[i] = 403
                rtype[i] = TYPE_ACCESS_DENIED
                latency_ms[i] = lat
                continue
            if invalidate[i] and cc_rule[r] == CC_ALLOW:
                cache_invalidate(cache, k)
            if cache_lookup(cache, k, t):
                status[i] = cache[3][k]
                cache_result[i] = CACHE_HIT
                latency_ms[i] = lat
                continue
            cache_result[i] = CACHE_MISS
        integ[i] = True
        called_ms = int_latency_ms[i]
        if called_ms >= timeout_ms[r]:
            called_ms = timeout_ms[r]
            status[i] = 504
            rtype[i] = TYPE_INTEGRATION_TIMEOUT
        else:
            status[i] = int_status[i]
            rtype[i] = int_type[i]
        latency_ms[i] = lat + called_ms
        if cacheable and 200 <= status[i] <= status_max:
            cache_store(cache, capacity_bytes, k, response_bytes[i], status[i], t + cache_ttl_ms[r])


@njit(cache=True)
def single_bucket_kernel(t_ms, rate_per_ms, burst):
    """The bare baseline for the benchmark: one token bucket over the arrival times."""
    tokens = burst
    last = t_ms[0] if len(t_ms) else 0
    admitted = np.zeros(len(t_ms), np.bool_)
    for i in range(len(t_ms)):
        elapsed = t_ms[i] - last
        if elapsed > 0:
            tokens = min(tokens + elapsed * rate_per_ms, burst)
            last = t_ms[i]
        if tokens >= 1.0:
            tokens -= 1.0
            admitted[i] = True
    return admitted
