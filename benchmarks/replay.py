"""Benchmark: replay N recorded arrivals end to end beside a bare single-bucket kernel.

End to end = read access_requests from a warehouse, run the reference gateway (throttle layers,
usage plans, stage cache, timeouts), write replay_outcomes. The baseline is one numba token bucket
over the same arrival times, in the same process. Prints requests/s of both and their ratio.

    .venv/bin/python benchmarks/replay.py [--arrivals 10000000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from apigw_analytics.gateway.config import load_config
from apigw_analytics.gateway.kernels import single_bucket_kernel
from apigw_analytics.gateway.replay import read_arrivals, run_replay
from apigw_analytics.schema import RecordKind, conform

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
ROUTES = ("/orders", "/orders/{id}", "/items", "/items/{id}", "/users", "/search")
OVERRIDES = [
    'stages.prod.methodSettings."*/*".throttlingRateLimit=2500',
    'stages.prod.methodSettings."*/*".throttlingBurstLimit=1000',
    'stages.prod.methodSettings."/orders/GET".throttlingRateLimit=250',
    'stages.prod.methodSettings."/orders/GET".throttlingBurstLimit=300',
    "stages.prod.cacheClusterEnabled=true",
    "usagePlans.gold.throttle.rateLimit=20",
    "usagePlans.gold.throttle.burstLimit=100",
    'usagePlans.gold.quota={"limit": 5000000, "period": "DAY"}',
    'usagePlans.gold.apiStages=[{"stage": "prod"}]',
    "usagePlans.gold.apiKeys=" + str([f"key{i}" for i in range(100)]).replace("'", '"'),
    'methods."/orders/POST".timeoutInMillis=1000',
]


def write_arrivals(root: Path, count: int, seed: int = 7) -> None:
    """A warehouse with `count` arrivals over one hour (written directly, one partition)."""
    rng = np.random.default_rng(seed)
    t_ms = T0_MS + np.sort(rng.integers(0, 3_600_000, count))
    route = rng.integers(0, len(ROUTES), count)
    method = np.where(rng.random(count) < 0.7, "GET", "POST")
    status = np.where(rng.random(count) < 0.02, 429, 200)
    integration = rng.gamma(2.0, 40.0, count).round()
    frame = pl.DataFrame(
        {
            "request_id": pl.Series(np.arange(count)).cast(pl.String),
            "api_id": "abc123",
            "api_type": "rest",
            "stage": "prod",
            "requested_at": pl.Series(t_ms).cast(pl.Datetime("ms", "UTC")),
            "http_method": method,
            "resource_path": pl.Series(np.array(ROUTES)[route]),
            "path": pl.Series(np.array(ROUTES)[route]),
            "status": status,
            "response_bytes": rng.integers(100, 5000, count),
            "latency_ms": integration + 5,
            "integration_latency_ms": pl.Series(integration),
            "api_key_id": pl.Series(rng.integers(0, 120, count)).cast(pl.String).str.replace(
                r"^", "key"
            ),
        }
    ).with_columns(
        pl.when(pl.col("status") == 429).then(None).otherwise(pl.col("integration_latency_ms"))
        .cast(pl.Int64).alias("integration_latency_ms"),
        pl.when(pl.col("status") == 429).then(pl.lit("THROTTLED")).alias("error_response_type"),
    )  # fmt: skip
    partition = root / RecordKind.ACCESS_REQUESTS.value / "date=2026-01-01"
    partition.mkdir(parents=True)
    conform(frame, RecordKind.ACCESS_REQUESTS).write_parquet(partition / "part-0.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrivals", type=int, default=10_000_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="replay-bench-"))
    try:
        started = time.perf_counter()
        write_arrivals(root, args.arrivals)
        print(f"wrote {args.arrivals:,} arrivals in {time.perf_counter() - started:.1f} s")
        config = load_config(None, OVERRIDES)
        write_arrivals(root / "warmup", 10_000)
        run_replay(root / "warmup", config, "warmup")
        phases: dict[str, float] = {}
        started = time.perf_counter()
        report = run_replay(root, config, "bench", phases=phases)
        end_to_end_s = time.perf_counter() - started
        t_ms = read_arrivals(root, ["requested_at"], cache_control=False).t_ms
        single_bucket_kernel(t_ms[:1000], 2.5, 1000.0)
        started = time.perf_counter()
        single_bucket_kernel(t_ms, 2.5, 1000.0)
        bare_s = time.perf_counter() - started
        rate_e2e, rate_bare = args.arrivals / end_to_end_s, args.arrivals / bare_s
        print(f"end to end: {end_to_end_s:.2f} s = {rate_e2e / 1e6:.2f} M requests/s")
        print(
            f"  read {phases['read_s']:.2f} s, model with outcomes written alongside "
            f"{phases['model_s']:.2f} s, finishing the writes {phases['finish_s']:.2f} s"
        )
        print(f"bare single-bucket kernel: {bare_s:.3f} s = {rate_bare / 1e6:.1f} M requests/s")
        print(f"end to end / bare kernel: {rate_e2e / rate_bare:.3f}")
        print(f"limit layers: {report.limit_layers}; cache: {report.cache_results}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
