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
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numba import njit

from apigw_analytics.errors import ConfigError, WarehouseError
from apigw_analytics.gateway.arrival_reader import read_parquet
from apigw_analytics.gateway.arrivals import ArrivalColumns
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
# Arrivals per chunk of the model's run, and per part of the outcomes written meanwhile.
_ROWS_PER_PART = 1_000_000
_WRITERS = 2


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
    """The recorded access requests (throttled ones too), only `columns`, read row group by row
    group into compact arrays; the strings the model codes are read dictionary-encoded, so
    their codes come with the read. Arrivals without a time are left out."""
    table = WarehouseLayout(root).table_dir(RecordKind.ACCESS_REQUESTS.value)
    files = sorted(table.glob("**/*.parquet")) if table.is_dir() else []
    if not files:
        raise WarehouseError(f"{root}: no access requests in the warehouse; run ingest first")
    return read_parquet(files, columns, cache_control=cache_control)


class _Outcomes:
    """A simulation's outcomes as REPLAY_OUTCOMES rows in Arrow, any range of rows at a time.

    Strings are dictionary columns indexed by codes the model already has (route, API key, its
    own result codes); per-route strings are looked up once per route. A column is declared
    nullable only when the replay can hold a null in it, alike in every part: Parquet then
    writes no definition levels for the others.
    """

    def __init__(self, sim: Simulation, name: str) -> None:
        self.sim = sim
        n = len(sim.t_ms)
        routes = sim.routes
        resource = routes.select(
            pl.when(pl.col("api_type") == "http")
            .then(pl.coalesce("route_key", "resource_path"))
            .otherwise(pl.col("resource_path"))
        ).to_series()
        self.route_values = {
            "api_id": _route_values(routes["api_id"].to_list()),
            "stage": _route_values(routes["stage"].to_list()),
            "http_method": _route_values(routes["http_method"].to_list()),
            "resource_path": _route_values(resource.to_list()),
        }
        ids = sim.columns.request_ids
        request = ids.get("request_id", pa.chunked_array([pa.nulls(n, pa.string())]))
        extended = ids.get("extended_request_id")
        if extended is not None and extended.null_count < n:
            request = pc.coalesce(extended, request)
        self.request_key = request
        self.api_key = sim.columns.string("api_key_id")
        self.names = [name]
        self.nullable = {
            "request_key": request.null_count > 0,
            **{column: None in values for column, (_, values) in self.route_values.items()},
            "api_key_id": None in self.api_key.values,
            "observed_status": bool((sim.observed_status == 0).any()),
            "predicted_response_type": True,
            "limit_layer": True,
        }
        _check_schema(self.table(0, 0))

    def table(self, start: int, stop: int) -> pa.Table:
        """Rows `start` to `stop`."""
        sim = self.sim
        rows = slice(start, stop)
        route = sim.route[rows]
        observed = sim.observed_status[rows]
        observed_null = observed == 0 if self.nullable["observed_status"] else None
        columns = {
            "replay_name": _dictionary_column(np.zeros(stop - start, np.int8), self.names),
            "request_key": self.request_key.slice(start, stop - start),
            "requested_at": pa.array(sim.t_ms[rows]).view(pa.timestamp("ms", "UTC")),
            **{
                column: _dictionary_column(_route_codes(route, lookup, values), values)
                for column, (lookup, values) in self.route_values.items()
            },
            "api_key_id": _dictionary_column(self.api_key.codes[rows], self.api_key.values),
            "observed_status": pa.array(observed.astype(np.int32), mask=observed_null),
            "predicted_status": pa.array(sim.status[rows].astype(np.int32)),
            "predicted_response_type": _dictionary_column(
                sim.response_type[rows], sim.response_types
            ),
            "limit_layer": _dictionary_column(sim.layer[rows], LAYER_NAMES),
            "cache_result": _dictionary_column(sim.cache_result[rows], CACHE_RESULTS),
            "integration_called": pa.array(sim.integration_called[rows]),
            "predicted_latency_ms": pa.array(sim.latency_ms[rows]),
            "latency_was_drawn": pa.array(sim.drawn[rows]),
            "is_canary": pa.array(sim.canary[rows]),
            "authorizer_called": pa.array(sim.authorizer_called[rows]),
        }
        schema = pa.schema(
            pa.field(name, column.type, nullable=self.nullable.get(name, False))
            for name, column in columns.items()
        )
        return pa.Table.from_arrays(list(columns.values()), schema=schema)


def _check_schema(table: pa.Table) -> None:
    """The outcome table's columns and types are REPLAY_OUTCOMES' (checked once, on no rows)."""
    empty = pl.from_arrow(table)
    assert isinstance(empty, pl.DataFrame)
    validate(empty.with_columns(pl.col(pl.Categorical).cast(pl.String)), RecordKind.REPLAY_OUTCOMES)


def _route_values(values: list[str | None]) -> tuple[np.ndarray | None, list[str | None]]:
    """A per-route string's dictionary: the route code is its index when the routes' values
    are distinct (lookup None), else `lookup[route]` is."""
    if None not in values and len(set(values)) == len(values):
        return None, values
    distinct = list(dict.fromkeys(values))
    position = {value: code for code, value in enumerate(distinct)}
    dtype = np.int8 if len(distinct) < 128 else np.int32
    return np.array([position[v] for v in values], dtype), distinct


def _route_codes(
    route: np.ndarray, lookup: np.ndarray | None, values: list[str | None]
) -> np.ndarray:
    """Codes into a per-route string's `values` for the given arrivals' routes."""
    if lookup is None:
        return route
    if len(values) == 1:
        return np.zeros(len(route), np.int8)
    return np.take(lookup, route)


def _dictionary_column(
    codes: np.ndarray, values: list[str | None] | tuple[str | None, ...]
) -> pa.Array:
    """A string column as Arrow dictionary: `values[codes]`, None as null. Written as a Parquet
    dictionary column and, the Arrow schema not being stored, read back as plain strings."""
    dictionary = pa.array([v if v is not None else "" for v in values], pa.string())
    indices = pa.array(codes)
    if None in values:
        # The comparison's bit-packed values are the validity bitmap.
        valid = pc.not_equal(indices, pa.scalar(values.index(None), indices.type))
        buffers = [valid.buffers()[1], indices.buffers()[1]]
        indices = pa.Array.from_buffers(indices.type, len(codes), buffers)
    return pa.DictionaryArray.from_arrays(indices, dictionary, safe=False)  # codes are in range


def replay_dir(root: Path, name: str) -> Path:
    return WarehouseLayout(root).table_dir(RecordKind.REPLAY_OUTCOMES.value) / f"replay={name}"


def _write_part(table: pa.Table, path: Path) -> None:
    """Strings as Parquet dictionary columns, times delta-coded, latencies byte-stream-split,
    LZ4 over the rest: the cheapest encodings that keep the file a fraction of its size in
    memory. The request keys (unique, so no dictionary) are left uncompressed: LZ4 tripled their
    writing time to halve them. The Arrow schema is not stored, so every reader sees plain
    strings, as in other tables."""
    pq.write_table(
        table,
        path,
        compression={
            name: "none" if name == "request_key" else "lz4" for name in table.schema.names
        },
        use_dictionary=[f.name for f in table.schema if pa.types.is_dictionary(f.type)],
        column_encoding={
            "requested_at": "DELTA_BINARY_PACKED",
            "predicted_latency_ms": "BYTE_STREAM_SPLIT",
        },
        write_statistics=False,
        store_schema=False,
    )


class _OutcomeParts:
    """A replay's outcomes written as consecutive parts, each made and written on a writer
    thread (the model and the Parquet writer release the GIL, so a part is written while the
    model runs the next chunk), into a
    staging directory that `commit` moves in place of an earlier replay of the same name."""

    def __init__(self, root: Path, name: str, pool: ThreadPoolExecutor) -> None:
        self.final = replay_dir(root, name)
        self.staging = root / "_replay_staging" / f"{name}-{os.getpid()}"
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True)
        self.name = name
        self.pool = pool
        self.outcomes: _Outcomes | None = None
        self.written: list[Future[None]] = []

    def add(self, sim: Simulation, start: int, stop: int) -> None:
        """Write rows `start` to `stop` of `sim` as the next part."""
        if self.outcomes is None:
            self.outcomes = _Outcomes(sim, self.name)
        path = self.staging / f"part-{len(self.written):05d}.parquet"
        self.written.append(self.pool.submit(self._write, self.outcomes, start, stop, path))

    @staticmethod
    def _write(outcomes: _Outcomes, start: int, stop: int, path: Path) -> None:
        _write_part(outcomes.table(start, stop), path)

    def commit(self, sim: Simulation) -> Path:
        """Wait for every part (one empty part when there were no arrivals), then swap the
        staging directory in."""
        if not self.written:
            self.add(sim, 0, 0)
        for part in self.written:
            part.result()  # raises what the write raised
        self.final.parent.mkdir(parents=True, exist_ok=True)
        retired = self.staging.with_name(self.staging.name + "-old")
        if self.final.exists():
            os.replace(self.final, retired)
        os.replace(self.staging, self.final)
        shutil.rmtree(retired, ignore_errors=True)
        return self.final


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


def run_replay(
    root: Path, config: GatewayConfig, name: str, *, phases: dict[str, float] | None = None
) -> ReplayReport:
    """Replay the warehouse's arrivals under `config`; write outcomes as `name`; report.

    The model runs in chunks of `_ROWS_PER_PART` arrivals; each chunk's outcomes are written
    while the next runs, and the report is tallied while the last are being written. `phases`,
    when given, receives the wall seconds of reading, of modelling (outcomes being written
    alongside) and of finishing the writes (for the benchmark).
    """
    if not _NAME.match(name):
        raise ConfigError(f"--name {name!r}: letters, digits, '.', '_' or '-' (at most 100)")
    columns = list(dict.fromkeys(["request_id", "extended_request_id", *needed_columns(config)]))
    started = time.perf_counter()
    with small_pages(), ThreadPoolExecutor(_WRITERS) as pool:
        arrivals = read_arrivals(root, columns, cache_control="extra" in columns)
        read = time.perf_counter()
        parts = _OutcomeParts(root, name, pool)
        sim = simulate_columns(arrivals, config, chunk_rows=_ROWS_PER_PART, on_chunk=parts.add)
        modelled = time.perf_counter()
        report = report_of(sim, name, parts.final)
        parts.commit(sim)
    if phases is not None:
        finished = time.perf_counter()
        phases.update(read_s=read - started, model_s=modelled - read, finish_s=finished - modelled)
    return report
