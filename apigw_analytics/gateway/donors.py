"""Inputs the recording lacks, taken from what it holds (see policy.py, steps 6 and 7).

A request the recording shows throttled or served from the cache never reached its integration,
so its integration outcome is drawn, seeded, from the same route's recorded integration calls
(then the stage's, then all): the row drawn is its donor. A gateway overhead the recording does
not give is the route's median overhead.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _find_donors(
    int_latency_ms, route, route_stage, target_level, target_group, target_rank, order
):
    """Row of each wanted integration call: the `target_rank`-th call (0-based, in recorded
    order) of route `target_group` (level 0) or of stage `target_group` (level 1).

    One pass over the arrivals counts calls per route and per stage; the targets, in `order`
    of (level, group, rank), are met in that order, so no per-arrival index is built.
    """
    routes = len(route_stage)
    stages = route_stage.max() + 1 if routes else 0
    next_target = np.full(routes + stages, len(order), np.int64)
    for j in range(len(order) - 1, -1, -1):
        t = order[j]
        slot = target_group[t] if target_level[t] == 0 else routes + target_group[t]
        next_target[slot] = j
    seen = np.zeros(routes + stages, np.int64)
    donor = np.full(len(order), -1, np.int64)
    for i in range(len(int_latency_ms)):
        if np.isnan(int_latency_ms[i]):
            continue
        r = route[i]
        for level in range(2):
            slot = np.int64(r) if level == 0 else routes + np.int64(route_stage[r])
            j = next_target[slot]
            while j < len(order):
                t = order[j]
                group_slot = target_group[t] if target_level[t] == 0 else routes + target_group[t]
                if group_slot != slot or target_rank[t] != seen[slot]:
                    break
                donor[t] = i
                j += 1
            next_target[slot] = j
            seen[slot] += 1
    return donor


def draw_donors(
    int_latency_ms: np.ndarray, route: np.ndarray, route_stage: np.ndarray,
    route_calls: np.ndarray, needy: np.ndarray, rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """For each needy row, a recorded integration call (a row whose integration latency is
    known) of its route, else of its stage, else any taken in route order, drawn uniformly;
    -1 when the recording holds no call at all. `route_calls` counts the calls per route."""
    stage_count = np.bincount(route_stage, weights=route_calls).astype(np.int64)
    u = rng.random(len(needy))
    r = route[needy]
    level = np.zeros(len(needy), np.int64)
    group = r.astype(np.int64)
    count = route_calls[r]
    rank = (u * count).astype(np.int64)
    by_stage = count == 0
    s = route_stage[r]
    count = stage_count[s]
    level[by_stage] = 1
    group[by_stage] = s[by_stage]
    rank[by_stage] = (u * count).astype(np.int64)[by_stage]
    rest = by_stage & (count == 0)
    total = int(route_calls.sum())
    if rest.any() and total:
        # The k-th call in route order: the route whose cumulative count passes k.
        k = (u[rest] * total).astype(np.int64)
        ends = np.cumsum(route_calls)
        target_route = np.searchsorted(ends, k, side="right")
        level[rest], group[rest] = 0, target_route
        rank[rest] = k - (ends[target_route] - route_calls[target_route])
    elif rest.any():
        level[rest] = -1
    found = level >= 0
    donor = np.full(len(needy), -1, np.int64)
    level, group, rank = level[found], group[found], rank[found]
    order = np.lexsort((rank, group, level))
    donor[found] = _find_donors(int_latency_ms, route, route_stage, level, group, rank, order)
    return donor


@njit(cache=True)
def route_medians(values, route, routes):
    """Median of `values` per route over rows where it is known (not NaN); 0 for a route with
    none."""
    count = np.zeros(routes, np.int64)
    for i in range(len(values)):
        if not np.isnan(values[i]):
            count[route[i]] += 1
    start = np.zeros(routes + 1, np.int64)
    for r in range(routes):
        start[r + 1] = start[r] + count[r]
    fill = start[:-1].copy()
    grouped = np.empty(start[routes], np.float64)
    for i in range(len(values)):
        if not np.isnan(values[i]):
            grouped[fill[route[i]]] = values[i]
            fill[route[i]] += 1
    medians = np.zeros(routes, np.float64)
    for r in range(routes):
        if count[r] > 0:
            medians[r] = np.median(grouped[start[r] : start[r + 1]])
    return medians
