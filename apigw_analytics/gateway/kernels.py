"""Compiled (numba) stages of the policy core and the replay loop that chains them.

Every stage is a small `njit` function that takes the current simulated time as an argument
(`now_ms`): that argument is the injected clock, so each stage can be tested alone with times
chosen by the test, and the replay loop feeds it the arrival times. The loop visits the arrivals
once, in time order, with integer-coded keys; nothing in it touches Python objects. The
behaviour these functions implement, and the choices made where AWS is silent, are written down
once in `policy.py`.

Speed rules, measured (an inlined stage that takes arrays costs a reference-count round trip
per array per call, which made the loop 15x slower than the same code written in place):
- the token-bucket and quota stages take and return scalars; the loop loads and stores state;
- the stage cache is two 2-D integer arrays (one row per key, one per stage cache), so a cache
  stage takes two arrays, not ten;
- the loop takes plain arrays, each of one fixed dtype, C-contiguous and writeable (made by
  `arrival_reader.py`, `combinations.py` and `engine.py`), so numba compiles it once and reuses
  the on-disk cache; an input a replay does not use (no cache, no canary, no authorizer) is an
  empty array.
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

# Columns of the cache's per-key rows (`entries`) and per-stage-cache rows (`stores`).
ENTRY_PRESENT, ENTRY_EXPIRY_MS, ENTRY_SIZE_BYTES, ENTRY_STATUS = 0, 1, 2, 3
ENTRY_PREV, ENTRY_NEXT, ENTRY_OWNER = 4, 5, 6
STORE_HEAD, STORE_TAIL, STORE_USED_BYTES, STORE_CAPACITY_BYTES = 0, 1, 2, 3

QUOTA_DAY, QUOTA_WEEK = 0, 1
_MS_PER_DAY = 86_400_000


@njit(cache=True, inline="always")
def refill(tokens, last_ms, rate_per_ms, burst, now_ms):
    """A bucket's (tokens, last refill time) at `now_ms`: refilled lazily by elapsed time."""
    elapsed_ms = now_ms - last_ms
    if elapsed_ms > 0:
        return min(tokens + elapsed_ms * rate_per_ms, burst), now_ms
    return tokens, last_ms


@njit(cache=True, inline="always")
def quota_window(now_ms, period):
    """Calendar window (UTC) holding `now_ms`: days, weeks from Sunday, or months since 1970."""
    day = now_ms // _MS_PER_DAY
    if period == QUOTA_DAY:
        return day
    if period == QUOTA_WEEK:
        return (day + 4) // 7
    # Days → civil year and month (H. Hinnant's `civil_from_days`, proleptic Gregorian).
    z = day + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return (year - 1970) * 12 + month - 1


@njit(cache=True, inline="always")
def quota_open(window, used, first_window, window_now):
    """A quota's (window, used, first window) at `window_now`; a new window starts unused."""
    if window == window_now:
        return window, used, first_window
    return window_now, 0, first_window if first_window >= 0 else window_now


@njit(cache=True, inline="always")
def quota_left(used, limit, offset, window, first_window):
    """Whether a request is left in the open window (the first one is reduced by `offset`)."""
    return used < limit - (offset if window == first_window else 0)


@njit(cache=True, inline="always")
def authorizer_called(expiry_ms, identity, ttl_ms, now_ms):
    """True when the authorizer must run (no live cached result for this identity)."""
    if ttl_ms > 0 and now_ms < expiry_ms[identity]:
        return False
    if ttl_ms > 0:
        expiry_ms[identity] = now_ms + ttl_ms
    return True


@njit(cache=True, inline="always")
def _unlink(entries, stores, key):
    c = entries[key, ENTRY_OWNER]
    prev = entries[key, ENTRY_PREV]
    nxt = entries[key, ENTRY_NEXT]
    if prev >= 0:
        entries[prev, ENTRY_NEXT] = nxt
    else:
        stores[c, STORE_HEAD] = nxt
    if nxt >= 0:
        entries[nxt, ENTRY_PREV] = prev
    else:
        stores[c, STORE_TAIL] = prev
    entries[key, ENTRY_PREV] = -1
    entries[key, ENTRY_NEXT] = -1
    entries[key, ENTRY_PRESENT] = 0
    stores[c, STORE_USED_BYTES] -= entries[key, ENTRY_SIZE_BYTES]


@njit(cache=True, inline="always")
def _link_front(entries, stores, key):
    c = entries[key, ENTRY_OWNER]
    head = stores[c, STORE_HEAD]
    entries[key, ENTRY_PREV] = -1
    entries[key, ENTRY_NEXT] = head
    if head >= 0:
        entries[head, ENTRY_PREV] = key
    stores[c, STORE_HEAD] = key
    if stores[c, STORE_TAIL] < 0:
        stores[c, STORE_TAIL] = key
    entries[key, ENTRY_PRESENT] = 1
    stores[c, STORE_USED_BYTES] += entries[key, ENTRY_SIZE_BYTES]


@njit(cache=True, inline="always")
def cache_lookup(entries, stores, key, now_ms):
    """A live entry → True and it becomes most recently used; an expired one is dropped."""
    if entries[key, ENTRY_PRESENT] == 0:
        return False
    _unlink(entries, stores, key)
    if now_ms >= entries[key, ENTRY_EXPIRY_MS]:
        return False
    _link_front(entries, stores, key)
    return True


@njit(cache=True, inline="always")
def cache_invalidate(entries, stores, key):
    """Drop one entry (a `Cache-Control: max-age=0` the caller may send)."""
    if entries[key, ENTRY_PRESENT] != 0:
        _unlink(entries, stores, key)


@njit(cache=True, inline="always")
def cache_store(entries, stores, key, size_bytes, status, expires_ms):
    """Store a response, evicting least recently used entries until its bytes fit."""
    c = entries[key, ENTRY_OWNER]
    if entries[key, ENTRY_PRESENT] != 0:
        _unlink(entries, stores, key)
    capacity_bytes = stores[c, STORE_CAPACITY_BYTES]
    if size_bytes > MAX_CACHE_ITEM_BYTES or size_bytes > capacity_bytes:
        return False
    while stores[c, STORE_USED_BYTES] + size_bytes > capacity_bytes and stores[c, STORE_TAIL] >= 0:
        _unlink(entries, stores, stores[c, STORE_TAIL])
    entries[key, ENTRY_SIZE_BYTES] = size_bytes
    entries[key, ENTRY_STATUS] = status
    entries[key, ENTRY_EXPIRY_MS] = expires_ms
    _link_front(entries, stores, key)
    return True


def new_limits(burst: np.ndarray, quotas: int, first_ms: int) -> tuple[np.ndarray, ...]:
    """Start state of the limits: every bucket full as of the first arrival (`tokens`,
    `last_ms`), every quota unused and in no window yet (`day` last seen, none; `used`,
    `window`, `first_window`)."""
    return (
        burst.copy(),
        np.full(len(burst), first_ms, np.int64),
        np.full(quotas, np.iinfo(np.int64).min, np.int64),
        np.zeros(quotas, np.int64),
        np.full(quotas, -1, np.int64),
        np.full(quotas, -1, np.int64),
    )


def new_cache(owner: np.ndarray, capacity_bytes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Empty cache state: `entries` for keys whose stage cache is `owner[key]`, and `stores`
    for the stage caches of `capacity_bytes` each."""
    entries = np.zeros((len(owner), 7), np.int64)
    entries[:, ENTRY_PREV] = -1
    entries[:, ENTRY_NEXT] = -1
    entries[:, ENTRY_OWNER] = owner
    stores = np.zeros((len(capacity_bytes), 4), np.int64)
    stores[:, STORE_HEAD] = -1
    stores[:, STORE_TAIL] = -1
    stores[:, STORE_CAPACITY_BYTES] = capacity_bytes
    return entries, stores


@njit(cache=True, inline="always")
def overhead_ms(latency_ms, integration_ms, auth_ms):
    """Gateway overhead of an arrival: its latency less the integration's and the authorizer's
    (policy.py, step 7); NaN when the latency was not recorded."""
    return latency_ms - integration_ms - auth_ms


# Bucket layers in a profile row, in AWS's order of evaluation; the quota sits between the
# usage-plan buckets and the method bucket (see policy.LAYER_NAMES for the numbering).
_PROFILE_LAYER_CODES = (1, 2, 4, 5, 6)


@njit(cache=True, nogil=True)
def replay_kernel(
    # the arrivals run now: rows start to stop (a replay may run in consecutive chunks)
    start, stop,
    # one value per arrival, time-sorted; an optional input is an empty array when unused
    t_ms, profile, route, status, recorded_type, int_latency_ms, latency_ms,
    # the rows that take a drawn integration outcome (ascending), and the recorded status,
    # response type, integration latency and response size (only with a cache) each draws
    drawn_rows, drawn_status, drawn_type, drawn_ms, drawn_bytes,
    cache_key, canary, invalidate, response_bytes, auth_key, auth_latency_ms,
    # settings by route
    route_cacheable, overhead_median_ms, timeout_ms, cache_ttl_ms, cc_rule, auth_ttl_ms,
    canary_uses_cache, status_max,
    # limits: buckets and quotas by profile
    profile_buckets, profile_quota, rate_per_ms, burst, quota_limit, quota_offset, quota_period,
    # state, carried from chunk to chunk: buckets (`new_limits`), quotas, stage caches
    # (`new_cache`), authorizer result cache
    tokens, last_ms, quota_day, quota_used, quota_at, quota_first, entries, stores,
    auth_expiry_ms,
    # outcomes, one per arrival
    out_status, out_type, layer, cache_result, integ, auth_called, out_latency_ms,
    observed_hit, drawn,
):  # fmt: skip
    """Run every arrival, in time order, through throttle → authorizer → cache → integration.

    First what the recording says (policy.py, steps 3 and 6): whether the integration was
    called, whether the response was a cache hit, and the integration outcome the model uses —
    the recorded one, a drawn one for a 429 or a cache hit, an infinite latency for a 504
    without one. Then the throttle: every layer is evaluated first; only when all admit does
    each take a token (and the quota count one request); otherwise the first layer without a
    token is the one that fired (policy.py, step 2).
    """
    caching = len(cache_key) > 0
    j = np.searchsorted(drawn_rows, start)
    for i in range(start, stop):
        t = t_ms[i]
        r = route[i]
        s = status[i]
        recorded_ms = int_latency_ms[i]
        called = not np.isnan(recorded_ms)
        hit = 0 < s < 400 and not called and route_cacheable[r]
        d = -1
        if j < len(drawn_rows) and drawn_rows[j] == i:
            d = j
            j += 1
            drawn[i] = True
        observed_hit[i] = hit
        i_status, i_type, i_ms, size_bytes = s, recorded_type[i], recorded_ms, np.int64(-1)
        fixed = False
        if s == 429 or hit:
            if d >= 0:
                i_status, i_type, i_ms = drawn_status[d], drawn_type[d], drawn_ms[d]
                if s == 429 and caching:
                    size_bytes = drawn_bytes[d]
            else:
                i_status, i_ms = (200 if s == 429 else s), 0.0
        elif not called and s == 504:
            i_ms = np.inf
        elif not called:
            fixed = s > 0
        auth_ms = auth_latency_ms[i] if len(auth_latency_ms) else 0.0
        lat = overhead_ms(latency_ms[i], i_ms if called else 0.0, auth_ms)
        if np.isnan(lat):
            lat = overhead_median_ms[r]
        elif lat < 0.0:
            lat = 0.0

        p = profile[i]
        q = profile_quota[p]
        # The quota's window is opened here, outside the loop over layers, so that the compiler
        # does not compute calendar windows for every arrival ahead of the loop.
        quota_spent = False
        if q >= 0:
            day = t // _MS_PER_DAY
            if day != quota_day[q]:  # windows start at midnight: only then can one end
                quota_day[q] = day
                quota_at[q], quota_used[q], quota_first[q] = quota_open(
                    quota_at[q], quota_used[q], quota_first[q], quota_window(t, quota_period[q])
                )
            quota_spent = not quota_left(
                quota_used[q], quota_limit[q], quota_offset[q], quota_at[q], quota_first[q]
            )
        fired = 0
        for slot in range(5):
            if slot == 2 and quota_spent:
                fired = LAYER_QUOTA
                break
            b = profile_buckets[p, slot]
            if b >= 0:
                tokens[b], last_ms[b] = refill(tokens[b], last_ms[b], rate_per_ms[b], burst[b], t)
                if tokens[b] < 1.0:
                    fired = _PROFILE_LAYER_CODES[slot]
                    break
        if fired > 0:
            layer[i] = fired
            out_status[i] = 429
            out_type[i] = TYPE_QUOTA_EXCEEDED if fired == LAYER_QUOTA else TYPE_THROTTLED
            out_latency_ms[i] = lat
            continue
        for slot in range(5):
            b = profile_buckets[p, slot]
            if b >= 0:
                tokens[b] -= 1.0
        if q >= 0:
            quota_used[q] += 1
        if fixed:
            out_status[i] = s
            out_type[i] = recorded_type[i]
            out_latency_ms[i] = lat
            continue
        a = auth_key[i] if len(auth_key) else -1
        if a >= 0 and authorizer_called(auth_expiry_ms, a, auth_ttl_ms[r], t):
            auth_called[i] = True
            lat += auth_latency_ms[i]
        k = cache_key[i] if caching else -1
        cacheable = k >= 0 and cache_ttl_ms[r] > 0
        if cacheable and len(canary) and canary[i]:
            cacheable = canary_uses_cache[r]
        if cacheable:
            if len(invalidate) and invalidate[i]:
                if cc_rule[r] == CC_FAIL_403:
                    out_status[i] = 403
                    out_type[i] = TYPE_ACCESS_DENIED
                    out_latency_ms[i] = lat
                    continue
                if cc_rule[r] == CC_ALLOW:
                    cache_invalidate(entries, stores, k)
            if cache_lookup(entries, stores, k, t):
                out_status[i] = entries[k, ENTRY_STATUS]
                cache_result[i] = CACHE_HIT
                out_latency_ms[i] = lat
                continue
            cache_result[i] = CACHE_MISS
        integ[i] = True
        if i_ms >= timeout_ms[r]:
            i_ms = timeout_ms[r]
            out_status[i] = 504
            out_type[i] = TYPE_INTEGRATION_TIMEOUT
        else:
            out_status[i] = i_status
            out_type[i] = i_type
        out_latency_ms[i] = lat + i_ms
        if cacheable and 200 <= out_status[i] <= status_max:
            expires_ms = t + cache_ttl_ms[r]
            if size_bytes < 0:
                size_bytes = response_bytes[i]
            cache_store(entries, stores, k, size_bytes, out_status[i], expires_ms)


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
