"""Replay: arrivals from the warehouse → the model → `replay_outcomes` and an agreement report.

Outcomes of one named replay live in `replay_outcomes/replay=<name>/part-0.parquet`. They are
written into `_replay_staging/` first and moved in by rename, replacing an earlier replay of the
same name; readers see the old or the new replay, never half of one (the swap of two directories
leaves a window of one rename in which the name is absent).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from apigw_analytics.errors import ConfigError, WarehouseError
from apigw_analytics.gateway.arrivals import ARRIVAL_COLUMNS
from apigw_analytics.gateway.config import GatewayConfig
from apigw_analytics.gateway.engine import Simulation, simulate
from apigw_analytics.gateway.policy import CACHE_HIT, CACHE_RESULTS, LAYER_NAMES
from apigw_analytics.schema import RecordKind, conform
from apigw_analytics.warehouse.layout import WarehouseLayout

OUTCOME_CLASSES = ("429", "504", "cache hit", "other")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class ReplayReport:
    """How well the model reproduced the recording, and what it predicted."""

    name: str
    requests: int
    status_agreement: float
    confusion: np.ndarray
    per_minute_429: pl.DataFrame
    drawn_latencies: int
    limit_layers: dict[str, int]
    cache_results: dict[str, int]
    integration_calls: int
    outcomes_path: Path

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "requests": self.requests,
            "status_agreement": self.status_agreement,
            "confusion": {
                observed: dict(zip(OUTCOME_CLASSES, row.tolist(), strict=True))
                for observed, row in zip(OUTCOME_CLASSES, self.confusion, strict=True)
            },
            "per_minute_429": self.per_minute_429.with_columns(
                pl.col("minute").cast(pl.String)
            ).to_dicts(),
            "drawn_latencies": self.drawn_latencies,
            "limit_layers": self.limit_layers,
            "cache_results": self.cache_results,
            "integration_calls": self.integration_calls,
            "outcomes_path": str(self.outcomes_path),
        }


def read_arrivals(root: Path, *, with_extra: bool = True) -> pl.DataFrame:
    """The recorded access requests, only the columns the model needs (throttled ones too)."""
    table = WarehouseLayout(root).table_dir(RecordKind.ACCESS_REQUESTS.value)
    files = sorted(table.glob("**/*.parquet")) if table.is_dir() else []
    if not files:
        raise WarehouseError(f"{root}: no access requests in the warehouse; run ingest first")
    columns = [*ARRIVAL_COLUMNS, "extra"] if with_extra else list(ARRIVAL_COLUMNS)
    return pl.scan_parquet(files, hive_partitioning=False).select(columns).collect()


def _class_codes(status: np.ndarray, hit: np.ndarray) -> np.ndarray:
    return np.select([status == 429, status == 504, hit], [0, 1, 2], default=3)


def _counts(codes: np.ndarray, names: tuple[str | None, ...]) -> dict[str, int]:
    counts = np.bincount(codes.astype(np.int64), minlength=len(names))
    return {str(name): int(c) for name, c in zip(names, counts, strict=True) if name and c}


def outcomes_frame(sim: Simulation, name: str) -> pl.DataFrame:
    """One row per arrival, in the REPLAY_OUTCOMES schema."""
    a = sim.arrivals
    resource = pl.when(pl.col("api_type") == "http").then(pl.coalesce("route_key", "resource_path"))
    frame = a.select(
        pl.lit(name).alias("replay_name"),
        pl.coalesce("extended_request_id", "request_id").alias("request_key"),
        "requested_at", "api_id", "stage", "http_method",
        resource.otherwise(pl.col("resource_path")).alias("resource_path"),
        "api_key_id",
        pl.col("status").alias("observed_status"),
    )  # fmt: skip
    types = pl.Series(sim.response_types, dtype=pl.String)
    return conform(
        frame.with_columns(
            pl.Series("predicted_status", sim.status, dtype=pl.Int32),
            types.gather(sim.response_type).alias("predicted_response_type"),
            pl.Series(LAYER_NAMES, dtype=pl.String).gather(sim.layer).alias("limit_layer"),
            pl.Series(CACHE_RESULTS).gather(sim.cache_result).alias("cache_result"),
            pl.Series("integration_called", sim.integration_called),
            pl.Series("predicted_latency_ms", sim.latency_ms),
            pl.Series("latency_was_drawn", sim.drawn),
            pl.Series("is_canary", sim.canary),
            pl.Series("authorizer_called", sim.authorizer_called),
        ),
        RecordKind.REPLAY_OUTCOMES,
    )


def replay_dir(root: Path, name: str) -> Path:
    return WarehouseLayout(root).table_dir(RecordKind.REPLAY_OUTCOMES.value) / f"replay={name}"


def write_outcomes(root: Path, name: str, frame: pl.DataFrame) -> Path:
    """Write a replay's outcomes, replacing an earlier replay of the same name."""
    final = replay_dir(root, name)
    staging = root / "_replay_staging" / f"{name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    frame.write_parquet(staging / "part-0.parquet", compression="lz4", statistics=False)
    final.parent.mkdir(parents=True, exist_ok=True)
    retired = staging.with_name(staging.name + "-old")
    if final.exists():
        os.replace(final, retired)
    os.replace(staging, final)
    shutil.rmtree(retired, ignore_errors=True)
    return final


def report_of(sim: Simulation, name: str, path: Path) -> ReplayReport:
    """Agreement of prediction and recording: status, outcome classes, 429s per minute."""
    observed = sim.arrivals["status"].fill_null(0).to_numpy()
    observed_class = _class_codes(observed, sim.observed_hit)
    predicted_class = _class_codes(sim.status, sim.cache_result == CACHE_HIT)
    confusion = np.bincount(observed_class * 4 + predicted_class, minlength=16).reshape(4, 4)
    minute = sim.t_ms // 60_000
    first = int(minute[0]) if len(minute) else 0
    observed_429 = np.bincount(minute - first, weights=observed == 429)
    predicted_429 = np.bincount(minute - first, weights=sim.status == 429)
    busy = np.flatnonzero((observed_429 > 0) | (predicted_429 > 0))
    per_minute = pl.DataFrame(
        {
            "minute": pl.Series((busy + first) * 60_000).cast(pl.Datetime("ms", "UTC")),
            "observed_429": observed_429[busy].astype(np.int64),
            "predicted_429": predicted_429[busy].astype(np.int64),
        }
    )
    requests = len(observed)
    return ReplayReport(
        name=name,
        requests=requests,
        status_agreement=float(np.mean(observed == sim.status)) if requests else 1.0,
        confusion=confusion,
        per_minute_429=per_minute,
        drawn_latencies=int(sim.drawn.sum()),
        limit_layers=_counts(sim.layer, LAYER_NAMES),
        cache_results=_counts(sim.cache_result, CACHE_RESULTS),
        integration_calls=int(sim.integration_called.sum()),
        outcomes_path=path,
    )


def run_replay(root: Path, config: GatewayConfig, name: str) -> ReplayReport:
    """Replay the warehouse's arrivals under `config`; write outcomes as `name`; report."""
    if not _NAME.match(name):
        raise ConfigError(f"--name {name!r}: letters, digits, '.', '_' or '-' (at most 100)")
    caching = any(stage.cache_cluster_enabled for stage in config.stages)
    sim = simulate(read_arrivals(root, with_extra=caching), config)
    path = write_outcomes(root, name, outcomes_frame(sim, name))
    return report_of(sim, name, path)
