"""Replay: arrivals from the warehouse → the model → `replay_outcomes` and an agreement report.

Outcomes of one named replay live in `replay_outcomes/replay=<name>/part-<nnn>.parquet`. They are
written into `_replay_staging/` first and moved in by rename, replacing an earlier replay of the
same name; readers see the old or the new replay, never half of one (the swap of two directories
leaves a window of one rename in which the name is absent).
"""

from __future__ import annotations

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from numba import njit

from apigw_analytics.errors import ConfigError, WarehouseError
from apigw_analytics.gateway.arrivals import CODED_COLUMNS, ArrivalColumns, read_batches
from apigw_analytics.gateway.config import GatewayConfig
from apigw_analytics.gateway.engine import (
    Simulation,
    needed_columns,
    simulate_columns,
    small_pages,
)
from apigw_analytics.gateway.policy import CACHE_HIT, CACHE_RESULTS, LAYER_NAMES
from apigw_analytics.schema import RecordKind, validate
from apigw_analytics.warehouse.layout import WarehouseLayout

OUTCOME_CLASSES = ("429", "504", "cache hit", "other")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ROWS_PER_PART = 1_000_000
# Arrow memory for the read comes from the system allocator, which keeps freed blocks for the
# next batch; the default (mimalloc) hands them back to the OS and faults them in again, which
# measured several times the decoding time itself on 10M arrivals.
_POOL = pa.system_memory_pool()


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


def read_arrivals(root: Path, columns: list[str], *, cache_control: bool) -> ArrivalColumns:
    """The recorded access requests (throttled ones too), only `columns`, read batch by batch
    into compact arrays; the strings the model codes are read dictionary-encoded, so their
    codes come with the read. Arrivals without a time are left out."""
    table = WarehouseLayout(root).table_dir(RecordKind.ACCESS_REQUESTS.value)
    files = sorted(table.glob("**/*.parquet")) if table.is_dir() else []
    if not files:
        raise WarehouseError(f"{root}: no access requests in the warehouse; run ingest first")
    dictionary = [name for name in columns if name in CODED_COLUMNS]
    file_format = ds.ParquetFileFormat(
        read_options=ds.ParquetReadOptions(dictionary_columns=dictionary)
    )
    dataset = ds.dataset([str(f) for f in files], format=file_format)
    timed = ds.field("requested_at").is_valid()
    batches = dataset.to_batches(columns=columns, filter=timed, memory_pool=_POOL)
    return read_batches(batches, dataset.count_rows(filter=timed), cache_control=cache_control)


def _dictionary_column(
    codes: np.ndarray, values: list[str | None] | tuple[str | None, ...]
) -> pa.Array:
    """A string column as Arrow dictionary: `values[codes]`, None as null. Written as a Parquet
    dictionary column and, the Arrow schema not being stored, read back as plain strings."""
    dictionary = pa.array([v if v is not None else "" for v in values], pa.string())
    indices = pa.array(codes)
    if None in values:
        valid = np.packbits(codes != values.index(None), bitorder="little")
        data = indices.buffers()[1]
        indices = pa.Array.from_buffers(indices.type, len(codes), [pa.py_buffer(valid), data])
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def _route_column(sim: Simulation, values: list[str | None]) -> pa.Array:
    """A per-route string as a column: the route code is the dictionary index when the routes'
    values are distinct, else a small lookup maps each route to its distinct value."""
    if None not in values and len(set(values)) == len(values):
        return _dictionary_column(sim.route, values)
    distinct = list(dict.fromkeys(values))
    position = {value: code for code, value in enumerate(distinct)}
    dtype = np.int8 if len(distinct) < 128 else np.int32
    lookup = np.array([position[v] for v in values], dtype)
    return _dictionary_column(lookup[sim.route], distinct)


def outcomes_table(sim: Simulation, name: str) -> pa.Table:
    """One row per arrival, in the REPLAY_OUTCOMES schema, as Arrow: strings are dictionary
    columns indexed by codes the model already has (route, API key, its own result codes)."""
    n = len(sim.t_ms)
    routes = sim.routes
    resource = routes.select(
        pl.when(pl.col("api_type") == "http")
        .then(pl.coalesce("route_key", "resource_path"))
        .otherwise(pl.col("resource_path"))
    ).to_series()
    ids = sim.columns.request_ids
    request = ids.get("request_id", pa.nulls(n, pa.string()))
    extended = ids.get("extended_request_id")
    request_key = (
        request if extended is None or extended.null_count == n else pc.coalesce(extended, request)
    )
    api_key = sim.columns.string("api_key_id")
    observed = sim.observed_status
    columns = {
        "replay_name": _dictionary_column(np.zeros(n, np.int8), [name]),
        "request_key": request_key,
        "requested_at": pa.array(sim.t_ms).view(pa.timestamp("ms", "UTC")),
        "api_id": _route_column(sim, routes["api_id"].to_list()),
        "stage": _route_column(sim, routes["stage"].to_list()),
        "http_method": _route_column(sim, routes["http_method"].to_list()),
        "resource_path": _route_column(sim, resource.to_list()),
        "api_key_id": _dictionary_column(api_key.codes, api_key.values),
        "observed_status": pa.array(observed.astype(np.int32), mask=observed == 0),
        "predicted_status": pa.array(sim.status.astype(np.int32)),
        "predicted_response_type": _dictionary_column(sim.response_type, sim.response_types),
        "limit_layer": _dictionary_column(sim.layer, LAYER_NAMES),
        "cache_result": _dictionary_column(sim.cache_result, CACHE_RESULTS),
        "integration_called": pa.array(sim.integration_called),
        "predicted_latency_ms": pa.array(sim.latency_ms),
        "latency_was_drawn": pa.array(sim.drawn),
        "is_canary": pa.array(sim.canary),
        "authorizer_called": pa.array(sim.authorizer_called),
    }
    table = pa.table(columns)
    _check_schema(table)
    return table


def _check_schema(table: pa.Table) -> None:
    """The outcome table's columns and types are REPLAY_OUTCOMES' (checked once, on no rows)."""
    empty = pl.from_arrow(table.slice(0, 0))
    assert isinstance(empty, pl.DataFrame)
    validate(empty.with_columns(pl.col(pl.Categorical).cast(pl.String)), RecordKind.REPLAY_OUTCOMES)


def replay_dir(root: Path, name: str) -> Path:
    return WarehouseLayout(root).table_dir(RecordKind.REPLAY_OUTCOMES.value) / f"replay={name}"


def _write_part(table: pa.Table, path: Path) -> None:
    """Strings as Parquet dictionary columns, times delta-coded, latencies byte-stream-split,
    LZ4 over all: the cheapest encodings that keep the file a fraction of its size in memory.
    The Arrow schema is not stored, so every reader sees plain strings, as in other tables."""
    pq.write_table(
        table,
        path,
        compression="lz4",
        use_dictionary=[f.name for f in table.schema if pa.types.is_dictionary(f.type)],
        column_encoding={
            "requested_at": "DELTA_BINARY_PACKED",
            "predicted_latency_ms": "BYTE_STREAM_SPLIT",
        },
        write_statistics=False,
        store_schema=False,
    )


def write_outcomes(root: Path, name: str, table: pa.Table) -> Path:
    """Write a replay's outcomes, replacing an earlier replay of the same name.

    A large replay is split into consecutive parts written side by side, one thread each (the
    Parquet writer releases the GIL).
    """
    final = replay_dir(root, name)
    staging = root / "_replay_staging" / f"{name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    parts = max(1, min(os.cpu_count() or 1, table.num_rows // _ROWS_PER_PART))
    step = -(-table.num_rows // parts)
    with ThreadPoolExecutor(parts) as pool:
        written = [
            pool.submit(_write_part, table.slice(i * step, step), staging / f"part-{i:03d}.parquet")
            for i in range(parts)
        ]
        for future in written:
            future.result()
    final.parent.mkdir(parents=True, exist_ok=True)
    retired = staging.with_name(staging.name + "-old")
    if final.exists():
        os.replace(final, retired)
    os.replace(staging, final)
    shutil.rmtree(retired, ignore_errors=True)
    return final


@njit(cache=True)
def _tally(observed, observed_hit, status, cache_result, layer, integration, drawn, t_ms):
    """Every count the report needs, in one pass: the confusion matrix of outcome classes
    (429, 504, cache hit, other; observed × predicted), agreeing statuses, 429s per minute
    (observed, predicted) from the first arrival's minute, layers, cache results, calls, draws."""
    confusion = np.zeros((4, 4), np.int64)
    first = t_ms[0] // 60_000 if len(t_ms) else 0
    span = t_ms[-1] // 60_000 - first + 1 if len(t_ms) else 0
    per_minute = np.zeros((span, 2), np.int64)
    layers = np.zeros(len(LAYER_NAMES), np.int64)
    caches = np.zeros(len(CACHE_RESULTS), np.int64)
    agree = 0
    calls = 0
    draws = 0
    for i in range(len(status)):
        o, p = observed[i], status[i]
        row = 0 if o == 429 else 1 if o == 504 else 2 if observed_hit[i] else 3
        col = 0 if p == 429 else 1 if p == 504 else 2 if cache_result[i] == CACHE_HIT else 3
        confusion[row, col] += 1
        agree += o == p
        minute = t_ms[i] // 60_000 - first
        per_minute[minute, 0] += o == 429
        per_minute[minute, 1] += p == 429
        layers[layer[i]] += 1
        caches[cache_result[i]] += 1
        calls += integration[i]
        draws += drawn[i]
    return confusion, agree, first, per_minute, layers, caches, calls, draws


def _counts(counts: np.ndarray, names: tuple[str | None, ...]) -> dict[str, int]:
    return {str(name): int(c) for name, c in zip(names, counts, strict=True) if name and c}


def report_of(sim: Simulation, name: str, path: Path) -> ReplayReport:
    """Agreement of prediction and recording: status, outcome classes, 429s per minute."""
    confusion, agree, first, per_minute, layers, caches, calls, draws = _tally(
        sim.observed_status, sim.observed_hit, sim.status, sim.cache_result, sim.layer,
        sim.integration_called, sim.drawn, sim.t_ms,
    )  # fmt: skip
    busy = np.flatnonzero(per_minute.any(axis=1))
    minutes = pl.DataFrame(
        {
            "minute": pl.Series((busy + first) * 60_000).cast(pl.Datetime("ms", "UTC")),
            "observed_429": per_minute[busy, 0],
            "predicted_429": per_minute[busy, 1],
        }
    )
    requests = len(sim.status)
    return ReplayReport(
        name=name,
        requests=requests,
        status_agreement=agree / requests if requests else 1.0,
        confusion=confusion,
        per_minute_429=minutes,
        drawn_latencies=int(draws),
        limit_layers=_counts(layers, LAYER_NAMES),
        cache_results=_counts(caches, CACHE_RESULTS),
        integration_calls=int(calls),
        outcomes_path=path,
    )


def run_replay(root: Path, config: GatewayConfig, name: str) -> ReplayReport:
    """Replay the warehouse's arrivals under `config`; write outcomes as `name`; report.

    The report is tallied while the outcomes are being written.
    """
    if not _NAME.match(name):
        raise ConfigError(f"--name {name!r}: letters, digits, '.', '_' or '-' (at most 100)")
    columns = list(dict.fromkeys(["request_id", "extended_request_id", *needed_columns(config)]))
    with small_pages():
        arrivals = read_arrivals(root, columns, cache_control="extra" in columns)
        sim = simulate_columns(arrivals, config)
        with ThreadPoolExecutor(1) as pool:
            written = pool.submit(write_outcomes, root, name, outcomes_table(sim, name))
            report = report_of(sim, name, replay_dir(root, name))
            written.result()
    return report
