"""Dense integer codes of combinations of coded columns: the route, the client, the cache key.

Each arrival's combination (say api × stage × method × resource) is coded by a compiled pass
over the columns' codes, never by comparing strings per request, so the model's per-route and
per-client tables are built once per distinct combination, not once per arrival.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from apigw_analytics.gateway.arrivals import Coded

# A table of one slot per possible pair of codes is used up to this size (and up to about the
# number of arrivals, so that filling it costs less than the pass), else a hash pass.
_DENSE_TABLE_MAX = 1 << 22


def pair_codes(a: np.ndarray, radix_a: int, b: np.ndarray, radix_b: int) -> tuple[np.ndarray, ...]:
    """Dense codes of the distinct (a, b) pairs, and each code's a and b."""
    if radix_a * radix_b <= min(_DENSE_TABLE_MAX, 2 * len(a) + 4096):
        common = np.result_type(a.dtype, b.dtype)
        columns = (np.require(a, common, "C"), np.require(b, common, "C"))
        radices = np.array([radix_a, radix_b], np.int64)
        codes, pairs = _dense_combinations(columns, radices, radix_a * radix_b)
    else:
        encoded = pc.dictionary_encode(pa.array(a.astype(np.int64) * radix_b + b))
        codes = np.require(encoded.indices.to_numpy(), np.int32, ["C", "W"])
        pairs = encoded.dictionary.to_numpy()
    return codes, pairs // radix_b, pairs % radix_b


@njit(cache=True, nogil=True)
def _dense_combinations(columns, radices, table_size):
    """Codes of the distinct combinations of `columns` (a tuple of code arrays) in order of
    first appearance, through a table of every combination; and each code's combination as a
    mixed-radix number."""
    n = len(columns[0])
    slot = np.full(table_size, -1, np.int32)
    codes = np.empty(n, np.int32)
    first = np.empty(min(n, table_size), np.int64)
    count = 0
    for i in range(n):
        key = np.int64(0)
        for k in range(len(columns)):
            key = key * radices[k] + columns[k][i]
        code = slot[key]
        if code < 0:
            code = count
            slot[key] = code
            first[count] = key
            count += 1
        codes[i] = code
    return codes, first[:count]


def encode(coded: dict[str, Coded], n: int) -> tuple[np.ndarray, pl.DataFrame]:
    """Dense int32 codes of the distinct combinations of the columns, and those combinations.

    A column with a single value adds nothing to the combination and is skipped; the others are
    combined in one pass when a table of every combination is small, else pair by pair.
    """
    varied = {name: column for name, column in coded.items() if column.radix > 1}
    radices = np.array([column.radix for column in varied.values()], np.int64)
    size = int(np.prod(radices))
    codes = np.zeros(n, np.int32)
    count = 1 if n else 0
    members: dict[str, np.ndarray] = {}
    if len(varied) > 1 and size <= min(_DENSE_TABLE_MAX, 2 * n + 4096):
        common = np.result_type(*(column.codes.dtype for column in varied.values()))
        arrays = tuple(np.require(column.codes, common, "C") for column in varied.values())
        codes, first = _dense_combinations(arrays, radices, size)
        count = len(first)
        for name, radix in reversed(list(zip(varied, radices.tolist(), strict=True))):
            first, members[name] = np.divmod(first, radix)
    else:
        for name, column in varied.items():
            codes, first, second = pair_codes(codes, count, column.codes, column.radix)
            members = {key: value[first] for key, value in members.items()}
            members[name] = second
            count = len(first)
    rows = {
        name: pl.Series(
            name,
            [column.values[k] for k in members.get(name, np.zeros(count, np.int64)).tolist()],
            dtype=pl.String,
        )
        for name, column in coded.items()
    }
    return codes, pl.DataFrame(rows)
