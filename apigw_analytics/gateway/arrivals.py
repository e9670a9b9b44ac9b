"""Recorded arrivals as the model reads them: compact aligned arrays of integer codes and numbers.

The memory held is a few bytes per arrival per column: strings are dense integer codes into
their distinct values (`Coded`), numbers are arrays of one narrow dtype, and only the columns
the model needs under a configuration are held. How the arrays are filled from Arrow batches
and Parquet files is `arrival_reader.py`; how combinations of coded columns (the route, the
client, the cache key) are coded is `combinations.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
from numba import njit

ARRIVAL_COLUMNS = (
    "request_id", "extended_request_id", "api_id", "api_type", "stage", "requested_at",
    "http_method", "resource_path", "route_key", "path", "status", "response_bytes",
    "latency_ms", "integration_latency_ms", "error_response_type", "api_key_id",
    "authorizer_principal_id", "authorizer_latency_ms", "source_ip",
)  # fmt: skip
ROUTE_COLUMNS = ("api_id", "api_type", "stage", "http_method", "resource_path", "route_key")
# String columns the model codes (they have few distinct values: the reader asks for them
# dictionary-encoded, so their codes come with the read).
CODED_COLUMNS = (
    *ROUTE_COLUMNS, "path", "error_response_type", "api_key_id", "authorizer_principal_id",
    "source_ip",
)  # fmt: skip
# Kept as Arrow strings, for the outcome's request key only.
REQUEST_ID_COLUMNS = ("request_id", "extended_request_id")
# Numeric columns: (dtype held, value of a null; None = NaN).
NUMBER_COLUMNS: dict[str, tuple[type, float | None]] = {
    "status": (np.int16, 0),
    "response_bytes": (np.int64, 0),
    "latency_ms": (np.float64, None),
    "integration_latency_ms": (np.float64, None),
    "authorizer_latency_ms": (np.float64, 0),
}


@dataclass
class Coded:
    """Per-arrival codes into `values` (None among them when the column has nulls)."""

    codes: np.ndarray
    values: list[str | None]

    @property
    def radix(self) -> int:
        return len(self.values)


@dataclass
class ArrivalColumns:
    """The arrivals as the model reads them: one compact array per column, aligned.

    `strings` holds the coded string columns, `numbers` the numeric ones (NUMBER_COLUMNS; one
    that is null throughout is left out), `invalidate` whether the request sent
    `Cache-Control: max-age=0` (in `extra`; empty when none did), and
    `request_ids` the Arrow string columns kept for the outcomes' request key (one that is null
    throughout is left out).
    """

    t_ms: np.ndarray
    strings: dict[str, Coded]
    numbers: dict[str, np.ndarray]
    invalidate: np.ndarray
    request_ids: dict[str, pa.ChunkedArray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t_ms)

    def string(self, name: str) -> Coded:
        """A coded string column; one the arrivals do not have is all null."""
        if name in self.strings:
            return self.strings[name]
        return Coded(np.zeros(len(self), np.int32), [None])

    def number(self, name: str) -> np.ndarray:
        """A numeric column (NUMBER_COLUMNS); one the arrivals do not have is all null."""
        if name in self.numbers:
            return self.numbers[name]
        dtype, null = NUMBER_COLUMNS[name]
        return np.full(len(self), np.nan if null is None else null, dtype)

    def sorted_by_time(self) -> ArrivalColumns:
        """The same arrivals in time order (stable: ties keep their recorded order)."""
        if is_sorted(self.t_ms):
            return self
        order = np.argsort(self.t_ms, kind="stable")
        return ArrivalColumns(
            t_ms=self.t_ms[order],
            strings={k: Coded(c.codes[order], c.values) for k, c in self.strings.items()},
            numbers={k: v[order] for k, v in self.numbers.items()},
            invalidate=self.invalidate[order] if len(self.invalidate) else self.invalidate,
            request_ids={k: v.take(order) for k, v in self.request_ids.items()},
        )

    def to_frame(self) -> pl.DataFrame:
        """The arrivals as a polars frame of the columns held: strings decoded, numbers as the
        model holds them (a missing status is null; latencies are floats, null when missing; a
        missing response size or authorizer latency reads as 0)."""
        columns = {
            name: pl.Series(name, ids.combine_chunks()) for name, ids in self.request_ids.items()
        }
        columns["requested_at"] = pl.Series("requested_at", self.t_ms).cast(
            pl.Datetime("ms", "UTC")
        )
        for name, coded in self.strings.items():
            columns[name] = pl.Series(name, coded.values, dtype=pl.String).gather(coded.codes)
        for name, values in self.numbers.items():
            series = pl.Series(name, values)
            if name == "status":
                series = series.cast(pl.Int32).replace(0, None)
            columns[name] = series.fill_nan(None) if values.dtype.kind == "f" else series
        return pl.DataFrame(columns)


@njit(cache=True)
def is_sorted(t_ms):
    i = 1
    while i < len(t_ms) and t_ms[i] >= t_ms[i - 1]:
        i += 1
    return i >= len(t_ms)
