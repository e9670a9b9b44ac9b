"""Recorded arrivals → time-sorted arrays of integer codes and inferred inputs for the kernel.

Only the columns the model needs are read. Strings become dense integer codes (one vectorised
pass per column: the distinct values form an Enum, whose physical codes are the codes), so the
memory held is a few bytes per arrival per column. Inputs the recording lacks — the integration
outcome of a request that was throttled or served from the cache — are drawn, seeded, from the
same route's recorded integration calls; `drawn` marks them (see policy.py, step 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

ARRIVAL_COLUMNS = (
    "request_id", "extended_request_id", "api_id", "api_type", "stage", "requested_at",
    "http_method", "resource_path", "route_key", "path", "status", "response_bytes",
    "latency_ms", "integration_latency_ms", "error_response_type", "api_key_id",
    "authorizer_principal_id", "authorizer_latency_ms", "source_ip",
)  # fmt: skip
ROUTE_COLUMNS = ("api_id", "api_type", "stage", "http_method", "resource_path", "route_key")
_MS_PER_DAY = 86_400_000


def encode(
    frame: pl.DataFrame, columns: tuple[str, ...] | list[str]
) -> tuple[np.ndarray, pl.DataFrame]:
    """Dense int32 codes of the distinct combinations of `columns`, and those combinations.

    Integer columns are used as they are (non-negative codes); string columns are coded through
    an Enum of their distinct values. Nulls get their own code.
    """
    combined = np.zeros(frame.height, np.int64)
    radices: list[int] = []
    dictionaries: list[pl.Series | None] = []
    for name in columns:
        series = frame[name]
        if series.dtype.is_integer():
            codes = series.fill_null(-1).to_numpy().astype(np.int64) + 1
            values = None
            radix = int(codes.max(initial=0)) + 1
        else:
            values = series.drop_nulls().unique().sort()
            enum = pl.Enum(values.to_list())
            codes = series.cast(enum).to_physical().fill_null(len(values)).to_numpy()
            codes = codes.astype(np.int64)
            radix = len(values) + 1
        combined = combined * radix + codes
        radices.append(radix)
        dictionaries.append(values)
    if float(np.prod([float(r) for r in radices])) >= 2.0**62:
        raise OverflowError("too many distinct combinations to code in 64 bits")
    uniques = np.unique(pl.Series(combined).unique().to_numpy())
    dense = np.searchsorted(uniques, combined).astype(np.int32)
    decoded: dict[str, object] = {}
    remainder = uniques.copy()
    for name, radix, values in zip(
        reversed(columns), reversed(radices), reversed(dictionaries), strict=True
    ):
        codes = remainder % radix
        remainder //= radix
        if values is None:
            decoded[name] = pl.Series(name, codes - 1).replace(-1, None)
        else:
            decoded[name] = pl.Series(name, [*values.to_list(), None])[codes]
    return dense, pl.DataFrame({name: decoded[name] for name in columns})


def quota_windows(t_ms: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Calendar window index (UTC) of each time: period 0 = day, 1 = week from Sunday, 2 = month."""
    day = t_ms // _MS_PER_DAY
    week = (day + 4) // 7
    month = t_ms.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
    return np.where(period == 0, day, np.where(period == 1, week, month))


@dataclass
class Donors:
    """Recorded integration calls grouped by route, to draw missing integration outcomes from."""

    order: np.ndarray
    route_start: np.ndarray
    route_count: np.ndarray
    stage_order: np.ndarray
    stage_start: np.ndarray
    stage_count: np.ndarray


def _groups(keys: np.ndarray, group_count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    count = np.bincount(keys, minlength=group_count)
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    return order, start, count


def donors(called: np.ndarray, route: np.ndarray, route_stage: np.ndarray) -> Donors:
    """Index the requests that called the integration by route and by stage."""
    donor_rows = np.flatnonzero(called)
    route_count = len(route_stage)
    order, start, count = _groups(route[donor_rows], route_count)
    stage_keys = route_stage[route[donor_rows]]
    stage_order, stage_start, stage_count = _groups(stage_keys, int(route_stage.max(initial=0)) + 1)
    return Donors(
        donor_rows[order], start, count, donor_rows[stage_order], stage_start, stage_count
    )


def draw_donors(
    pool: Donors, needy: np.ndarray, route: np.ndarray, route_stage: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """For each needy row, a recorded integration call of its route (else stage, else any); -1
    when the recording holds no integration call at all."""
    u = rng.random(len(needy))
    r = route[needy]
    chosen = np.full(len(needy), -1, np.int64)
    count = pool.route_count[r]
    by_route = count > 0
    index = pool.route_start[r] + (u * count).astype(np.int64)
    chosen[by_route] = pool.order[index[by_route]]
    s = route_stage[r]
    count = pool.stage_count[s]
    by_stage = ~by_route & (count > 0)
    index = pool.stage_start[s] + (u * count).astype(np.int64)
    chosen[by_stage] = pool.stage_order[index[by_stage]]
    rest = (chosen < 0) & (len(pool.order) > 0)
    if rest.any():
        chosen[rest] = pool.order[(u[rest] * len(pool.order)).astype(np.int64)]
    return chosen


def route_medians(
    values: np.ndarray, valid: np.ndarray, route: np.ndarray, routes: int
) -> np.ndarray:
    """Median of `values` per route over valid rows; 0 for a route with none."""
    frame = pl.DataFrame({"route": route[valid], "value": values[valid]})
    medians = frame.group_by("route").agg(pl.col("value").median())
    result = np.zeros(routes, np.float64)
    result[medians["route"].to_numpy()] = medians["value"].to_numpy()
    return result
