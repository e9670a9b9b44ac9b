"""Each stage of the policy core alone, driven by an injected clock (explicit `now_ms`)."""

from __future__ import annotations

import math

import numpy as np

from apigw_analytics.gateway.kernels import (
    authorizer_called,
    bucket_admits,
    cache_invalidate,
    cache_lookup,
    cache_store,
    new_cache,
    quota_admits,
)


class Clock:
    """A simulated clock the test moves by hand."""

    def __init__(self, now_ms: int = 0) -> None:
        self.now_ms = now_ms

    def advance(self, ms: int) -> int:
        self.now_ms += ms
        return self.now_ms


def _bucket(rate_rps: float, burst: float):
    return (
        np.array([burst]),
        np.array([0], np.int64),
        np.array([rate_rps / 1000.0]),
        np.array([burst]),
    )


def _take(state, now_ms: int) -> bool:
    tokens, last_ms, rate, burst = state
    if bucket_admits(tokens, last_ms, rate, burst, 0, now_ms):
        tokens[0] -= 1.0
        return True
    return False


def test_bucket_starts_full_then_refills_at_rate():
    clock = Clock()
    state = _bucket(rate_rps=10.0, burst=3.0)
    assert [_take(state, clock.now_ms) for _ in range(4)] == [True, True, True, False]
    assert not _take(state, clock.advance(99))
    assert _take(state, clock.advance(1))
    assert not _take(state, clock.now_ms)


def test_bucket_never_exceeds_burst_after_idle():
    clock = Clock()
    state = _bucket(rate_rps=1000.0, burst=2.0)
    clock.advance(3_600_000)
    assert [_take(state, clock.now_ms) for _ in range(3)] == [True, True, False]


def test_burst_zero_blocks_everything():
    state = _bucket(rate_rps=100.0, burst=0.0)
    assert not any(_take(state, t) for t in range(0, 10_000, 100))


def test_unlimited_bucket_admits_everything():
    state = _bucket(rate_rps=math.inf, burst=math.inf)
    assert all(_take(state, 0) for _ in range(10_000))


def test_quota_resets_each_window_and_offset_reduces_first():
    used, window, first = np.zeros(1, np.int64), np.full(1, -1, np.int64), np.full(1, -1, np.int64)
    limit, offset = np.array([3], np.int64), np.array([1], np.int64)

    def take(window_now: int) -> bool:
        if quota_admits(used, window, first, limit, offset, 0, window_now):
            used[0] += 1
            return True
        return False

    assert [take(100) for _ in range(3)] == [True, True, False]
    assert [take(101) for _ in range(4)] == [True, True, True, False]


def test_authorizer_cache_ttl():
    clock = Clock(1_000)
    expiry = np.zeros(2, np.int64)
    assert authorizer_called(expiry, 0, 300_000, clock.now_ms)
    assert not authorizer_called(expiry, 0, 300_000, clock.advance(299_999))
    assert authorizer_called(expiry, 1, 300_000, clock.now_ms)
    assert authorizer_called(expiry, 0, 300_000, clock.advance(1))
    assert authorizer_called(expiry, 0, 0, clock.now_ms)
    assert authorizer_called(expiry, 0, 0, clock.now_ms)


def _cache(keys: int, capacity_bytes: int):
    return new_cache(np.zeros(keys, np.int32), 1), np.array([capacity_bytes], np.int64)


def test_cache_hit_until_ttl_then_miss():
    clock = Clock()
    cache, capacity = _cache(2, 10_000)
    assert not cache_lookup(cache, 0, clock.now_ms)
    assert cache_store(cache, capacity, 0, 100, 200, clock.now_ms + 300_000)
    assert cache_lookup(cache, 0, clock.advance(299_999))
    assert not cache_lookup(cache, 0, clock.advance(1))
    assert cache[9][0] == 0


def test_cache_evicts_least_recently_used_by_size():
    cache, capacity = _cache(4, 1_000)
    for key in (0, 1, 2):
        cache_store(cache, capacity, key, 300, 200, 10**9)
    assert cache_lookup(cache, 0, 1)
    cache_store(cache, capacity, 3, 500, 200, 10**9)
    assert [cache_lookup(cache, key, 2) for key in range(4)] == [True, False, False, True]
    assert cache[9][0] == 800


def test_cache_item_over_one_megabyte_is_not_stored():
    cache, capacity = _cache(1, 1 << 30)
    assert not cache_store(cache, capacity, 0, 1_048_577, 200, 10**9)
    assert cache_store(cache, capacity, 0, 1_048_576, 200, 10**9)


def test_cache_invalidate_drops_entry():
    cache, capacity = _cache(1, 1_000)
    cache_store(cache, capacity, 0, 10, 200, 10**9)
    cache_invalidate(cache, 0)
    assert not cache_lookup(cache, 0, 1)
