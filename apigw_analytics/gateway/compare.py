"""What changed between two named replays of the same arrivals (baseline A → what-if B)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from apigw_analytics.errors import WarehouseError
from apigw_analytics.gateway.replay import replay_dir

_COLUMNS = ("request_key", "predicted_status", "cache_result", "integration_called")


@dataclass(frozen=True)
class ReplayComparison:
    """Counts of requests whose predicted outcome differs between replay A and replay B."""

    baseline: str
    what_if: str
    requests: int
    unmatched: int
    status_changed: int
    throttled_avoided: int
    throttled_added: int
    cache_hits_gained: int
    cache_hits_lost: int
    timeouts_avoided: int
    timeouts_added: int
    integration_calls_saved: int

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _read(root: Path, name: str) -> pl.DataFrame:
    directory = replay_dir(root, name)
    files = sorted(directory.glob("*.parquet")) if directory.is_dir() else []
    if not files:
        raise WarehouseError(f"{root}: no replay named {name!r}; run `replay --name {name}`")
    return pl.scan_parquet(files).select(_COLUMNS).collect()


def compare_replays(root: Path, baseline: str, what_if: str) -> ReplayComparison:
    """Join two replays on the request and count 429s, cache hits, 504s and calls that moved."""
    a, b = _read(root, baseline), _read(root, what_if)
    joined = a.join(b, on="request_key", how="inner", suffix="_b")

    def count(expression: pl.Expr) -> int:
        return int(joined.select(expression.sum()).item() or 0)

    def was(column: str, value: object, side: str = "") -> pl.Expr:
        return pl.col(column + side) == value

    hit, hit_b = was("cache_result", "hit"), was("cache_result", "hit", "_b")
    calls = pl.col("integration_called").cast(pl.Int64)
    calls_b = pl.col("integration_called_b").cast(pl.Int64)
    return ReplayComparison(
        baseline=baseline,
        what_if=what_if,
        requests=joined.height,
        unmatched=max(a.height, b.height) - joined.height,
        status_changed=count(pl.col("predicted_status") != pl.col("predicted_status_b")),
        throttled_avoided=count(was("predicted_status", 429) & ~was("predicted_status", 429, "_b")),
        throttled_added=count(~was("predicted_status", 429) & was("predicted_status", 429, "_b")),
        cache_hits_gained=count(~hit & hit_b),
        cache_hits_lost=count(hit & ~hit_b),
        timeouts_avoided=count(was("predicted_status", 504) & ~was("predicted_status", 504, "_b")),
        timeouts_added=count(~was("predicted_status", 504) & was("predicted_status", 504, "_b")),
        integration_calls_saved=count(calls - calls_b),
    )
