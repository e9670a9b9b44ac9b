"""Each stage of the policy core alone, driven by an injected clock (explicit `now_ms`)."""

from __future__ import annotations

import math

import numpy as np

from apigw_analytics.gateway.kernels import (
    STORE_USED_BYTES,
    authorizer_called,
    cache_invalidate,
    cache_lookup,
    cache_store,
    new_cache,
    quota_left,
    quota_open,
    quota_window,
    refill,
)


class Clock:
    """A simulated clock the test moves by hand."""

    def __init__(self, now_ms: int = 0) -> None:
        self.now_ms = now_ms

    def advance(self, ms: int) -> int:
        self.now_ms += ms
        return self.now_ms


class Bucket:
    """One token bucket's state, driven through the kernel's `refill` stage."""

    def __init__(self, rate_rps: float, burst: float) -> None:
        self.rate_per_ms, self.burst = rate_rps / 1000.0, burst
        self.tokens, self.last_ms = burst, 0

    def take(self, now_ms: int) -> bool:
        self.tokens, self.last_ms = refill(
            self.tokens, self.last_ms, self.rate_per_ms, self.burst, now_ms
        )
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def test_bucket_starts_full_then_refills_at_rate():
    clock = Clock()
    bucket = Bucket(rate_rps=10.0, burst=3.0)
    assert [bucket.take(clock.now_ms) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(clock.advance(99))
    assert bucket.take(clock.advance(1))
    assert not bucket.take(clock.now_ms)


def test_bucket_never_exceeds_burst_after_idle():
    clock = Clock()
    bucket = Bucket(rate_rps=1000.0, burst=2.0)
    clock.advance(3_600_000)
    assert [bucket.take(clock.now_ms) for _ in range(3)] == [True, True, False]


def test_burst_zero_blocks_everything():
    bucket = Bucket(rate_rps=100.0, burst=0.0)
    assert not any(bucket.take(t) for t in range(0, 10_000, 100))


def test_unlimited_bucket_admits_everything():
    bucket = Bucket(rate_rps=math.inf, burst=math.inf)
    assert all(bucket.take(0) for _ in range(10_000))


def test_quota_resets_each_window_and_offset_reduces_first():
    state = {"window": -1, "used": 0, "first": -1}
    limit, offset = 3, 1

    def take(window_now: int) -> bool:
        window, used, first = quota_open(state["window"], state["used"], state["first"], window_now)
        state.update(window=window, used=used, first=first)
        if quota_left(used, limit, offset, window, first):
            state["used"] += 1
            return True
        return False

    assert [take(100) for _ in range(3)] == [True, True, False]
    assert [take(101) for _ in range(4)] == [True, True, True, False]


def test_quota_windows_are_utc_calendar_periods():
    day_ms = 86_400_000
    instants = np.array(
        ["1970-01-01", "1999-12-31T23:59:59.999", "2000-02-29T12:00", "2024-12-31", "2026-01-04"],
        dtype="datetime64[ms]",
    ).astype(np.int64)
    for now_ms in instants.tolist():
        day = now_ms // day_ms
        assert quota_window(now_ms, 0) == day
        assert quota_window(now_ms, 1) == (day + 4) // 7
        month = np.array(now_ms, "datetime64[ms]").astype("datetime64[M]").astype(np.int64)
        assert quota_window(now_ms, 2) == month
    sunday = int(np.datetime64("2026-01-04", "ms").astype(np.int64))
    assert quota_window(sunday, 1) == quota_window(sunday - 1, 1) + 1


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
    return new_cache(np.zeros(keys, np.int64), np.array([capacity_bytes], np.int64))


def test_cache_hit_until_ttl_then_miss():
    clock = Clock()
    entries, stores = _cache(2, 10_000)
    assert not cache_lookup(entries, stores, 0, clock.now_ms)
    assert cache_store(entries, stores, 0, 100, 200, clock.now_ms + 300_000)
    assert cache_lookup(entries, stores, 0, clock.advance(299_999))
    assert not cache_lookup(entries, stores, 0, clock.advance(1))
    assert stores[0, STORE_USED_BYTES] == 0


def test_cache_evicts_least_recently_used_by_size():
    entries, stores = _cache(4, 1_000)
    for key in (0, 1, 2):
        cache_store(entries, stores, key, 300, 200, 10**9)
    assert cache_lookup(entries, stores, 0, 1)
    cache_store(entries, stores, 3, 500, 200, 10**9)
    assert [cache_lookup(entries, stores, key, 2) for key in range(4)] == [True, False, False, True]
    assert stores[0, STORE_USED_BYTES] == 800


def test_cache_item_over_one_megabyte_is_not_stored():
    entries, stores = _cache(1, 1 << 30)
    assert not cache_store(entries, stores, 0, 1_048_577, 200, 10**9)
    assert cache_store(entries, stores, 0, 1_048_576, 200, 10**9)


def test_cache_invalidate_drops_entry():
    entries, stores = _cache(1, 1_000)
    cache_store(entries, stores, 0, 10, 200, 10**9)
    cache_invalidate(entries, stores, 0)
    assert not cache_lookup(entries, stores, 0, 1)
