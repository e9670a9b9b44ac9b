"""Recorded arrivals → `ArrivalColumns`, batch by batch, from Arrow batches or Parquet files.

Only the columns the model needs are read, straight into one preallocated array per column, so
the decoded Arrow batches are reused rather than kept. Strings become dense integer codes: a
column read dictionary-encoded (as the replay reads the warehouse) already holds them, and one
hash pass per batch codes any other, never comparing strings per request.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numba import njit

from apigw_analytics.gateway.arrivals import (
    CODED_COLUMNS,
    NUMBER_COLUMNS,
    REQUEST_ID_COLUMNS,
    ArrivalColumns,
    Coded,
)

# Row groups decoded ahead of the one being filled, by this many threads (the Parquet decoder
# releases the GIL, so decoding the next groups overlaps filling the current one).
_READ_AHEAD = 4
_DECODERS = 2
# A string column whose statistics give one value is taken from them only when the value is
# shorter than this: writers may truncate longer min/max statistics.
_EXACT_STATISTICS_BYTES = 64
_MS_PER_UNIT = {"s": 1000, "ms": 1, "us": 1, "ns": 1}
_UNITS_PER_MS = {"s": 1, "ms": 1, "us": 1000, "ns": 1_000_000}


def _raw(array: pa.Array, dtype: type) -> np.ndarray:
    """The values buffer of a fixed-width Arrow array as numpy, without a copy (whatever lies
    under a null is left as it is: callers overwrite those slots)."""
    buffer = array.buffers()[1]
    return np.frombuffer(buffer, dtype=dtype)[array.offset : array.offset + len(array)]


_NO_BITMAP = np.zeros(0, np.uint8)


def _validity(array: pa.Array) -> np.ndarray:
    """The validity bitmap of an array (empty when it has no nulls); bit `offset + i` is row i."""
    buffer = array.buffers()[0]
    if buffer is None or array.null_count == 0:
        return _NO_BITMAP
    return np.frombuffer(buffer, dtype=np.uint8)


@njit(cache=True)
def _fill_codes(indices, validity, bit_offset, lookup, out):
    """out[i] = lookup[indices[i]], or -1 where the validity bitmap marks a null."""
    checked = len(validity) > 0
    for i in range(len(out)):
        bit = bit_offset + i
        if checked and not (validity[bit >> 3] >> (bit & 7)) & 1:
            out[i] = -1
        else:
            out[i] = lookup[indices[i]]


@njit(cache=True)
def _fill_values(values, validity, bit_offset, null_value, out):
    """out[i] = values[i], or `null_value` where the validity bitmap marks a null."""
    checked = len(validity) > 0
    for i in range(len(out)):
        bit = bit_offset + i
        if checked and not (validity[bit >> 3] >> (bit & 7)) & 1:
            out[i] = null_value
        else:
            out[i] = values[i]


@njit(cache=True)
def _replace(codes, old, new):
    for i in range(len(codes)):
        if codes[i] == old:
            codes[i] = new


class _StringCodes:
    """Codes of one string column, filled batch by batch through each batch's dictionary.

    A column that holds one value (or only nulls) in every batch so far needs no array: its
    array is made when a second value shows up, so constant columns (one API, one stage, no
    route keys) cost nothing per arrival. The array is of the narrowest integer type that holds
    every code (and the null code after them), widened when more values show up: most coded
    columns have a few dozen values, and each byte per arrival is memory to fill and to read.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.codes: np.ndarray | None = None
        self.constant: int | None = None
        self.values: list[str | None] = []
        self.position: dict[str, int] = {}
        self.has_nulls = False
        self._dictionary: pa.Array | None = None
        self._lookup = np.zeros(1, np.int32)

    def add(self, chunk: pa.Array, start: int) -> None:
        size = len(chunk)
        if pa.types.is_null(chunk.type) or chunk.null_count == size:
            self._uniform(-1, start, size)
            return
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        dictionary = chunk.dictionary
        if self._dictionary is None or not dictionary.equals(self._dictionary):
            self._lookup = np.array([self._code(v) for v in dictionary.to_pylist()], np.int32)
            self._dictionary = dictionary
            if self.codes is not None and len(self.values) > np.iinfo(self.codes.dtype).max:
                self.codes = _widened(self.codes, len(self.values), start)
        if len(dictionary) == 1 and chunk.null_count == 0:
            self._uniform(int(self._lookup[0]), start, size)
            return
        self.has_nulls = self.has_nulls or chunk.null_count > 0
        out = self._array(start)[start : start + size]
        indices = chunk.indices
        raw = _raw(indices, indices.type.to_pandas_dtype())
        _fill_codes(raw, _validity(indices), indices.offset, self._lookup, out)

    def _uniform(self, code: int, start: int, size: int) -> None:
        self.has_nulls = self.has_nulls or code < 0
        if self.codes is None and self.constant in (None, code):
            self.constant = code
        else:
            self._array(start)[start : start + size] = code

    def _array(self, start: int) -> np.ndarray:
        if self.codes is None:
            self.codes = np.empty(self.n, _code_type(len(self.values)))
            self.codes[:start] = -1 if self.constant is None else self.constant
        return self.codes

    def _code(self, value: str) -> int:
        code = self.position.get(value)
        if code is None:
            code = self.position[value] = len(self.values)
            self.values.append(value)
        return code

    def finish(self, count: int) -> Coded:
        """The codes of the first `count` rows; nulls take the code after the last value."""
        if self.codes is None:
            if self.constant is None or self.constant < 0:
                return Coded(np.zeros(count, np.int32), [None])
            return Coded(np.zeros(count, np.int32), [self.values[self.constant]])
        codes = self.codes[:count]
        if self.has_nulls:
            _replace(codes, -1, len(self.values))
            self.values.append(None)
        return Coded(codes, self.values)


def _code_type(codes: int) -> type:
    """The narrowest signed integer type holding codes up to `codes` (the null code)."""
    return next(t for t in (np.int8, np.int16, np.int32) if codes <= np.iinfo(t).max)


def _widened(codes: np.ndarray, most: int, filled: int) -> np.ndarray:
    """`codes` in a type that holds `most`, its first `filled` rows copied."""
    wider = np.empty(len(codes), _code_type(most))
    wider[:filled] = codes[:filled]
    return wider


def _fill_numbers(chunk: pa.Array, out: np.ndarray, null: float | None) -> None:
    null_value = out.dtype.type(np.nan if null is None else null)
    if pa.types.is_null(chunk.type):
        out[:] = null_value
        return
    values = _raw(chunk, chunk.type.to_pandas_dtype())
    validity = _validity(chunk)
    if len(validity):
        _fill_values(values, validity, chunk.offset, null_value, out)
    else:
        out[:] = values


def _fill_times(chunk: pa.Array, out: np.ndarray) -> None:
    unit = chunk.type.unit
    values = _raw(chunk, np.int64)
    if unit == "ms":
        out[:] = values
    else:
        np.floor_divide(values * _MS_PER_UNIT[unit], _UNITS_PER_MS[unit], out=out)


def read_batches(
    batches: Iterable[pa.RecordBatch], n: int, *, cache_control: bool
) -> ArrivalColumns:
    """Collect at most `n` arrivals from Arrow batches into compact arrays (recorded order).

    Every batch must have a non-null `requested_at`. Columns the batches do not have are left
    out (their absence is an error where the model needs them). With `cache_control`, the
    `extra` column is searched for `max-age=0`.
    """
    t_ms = np.empty(n, np.int64)
    strings: dict[str, _StringCodes] = {}
    numbers: dict[str, np.ndarray] = {}
    invalidate = np.zeros(0, np.bool_)
    request_ids: dict[str, list[pa.Array | int]] = {}
    start = 0
    for batch in batches:
        stop = start + batch.num_rows
        if stop > n:
            raise ValueError(f"more than the {n} arrivals announced")
        if stop == start:
            continue
        for name, chunk in zip(batch.schema.names, batch.columns, strict=True):
            if name == "requested_at":
                _fill_times(chunk, t_ms[start:stop])
            elif name in CODED_COLUMNS:
                strings.setdefault(name, _StringCodes(n)).add(chunk, start)
            elif name in NUMBER_COLUMNS and (name in numbers or chunk.null_count < len(chunk)):
                dtype, null = NUMBER_COLUMNS[name]
                if name not in numbers:  # all null so far: held only from the first value on
                    numbers[name] = np.empty(n, dtype)
                    numbers[name][:start] = np.nan if null is None else null
                _fill_numbers(chunk, numbers[name][start:stop], null)
            elif name in REQUEST_ID_COLUMNS:
                # An all-null chunk is kept as its length: its offsets would be memory for nothing.
                null = chunk.null_count == len(chunk)
                request_ids.setdefault(name, []).append(len(chunk) if null else chunk)
            elif name == "extra" and cache_control and chunk.null_count < len(chunk):
                text = chunk.dictionary_decode() if pa.types.is_dictionary(chunk.type) else chunk
                found = pc.fill_null(pc.match_substring(text, "max-age=0"), False)
                if len(invalidate) == 0:
                    invalidate = np.zeros(n, np.bool_)
                invalidate[start:stop] = found.to_numpy(zero_copy_only=False)
        start = stop
    return ArrivalColumns(
        t_ms=t_ms[:start],
        strings={name: codes.finish(start) for name, codes in strings.items()},
        numbers={name: values[:start] for name, values in numbers.items()},
        invalidate=invalidate[:start],
        request_ids={
            name: _strings(chunks)
            for name, chunks in request_ids.items()
            if not all(isinstance(chunk, int) for chunk in chunks)
        },
    )


def _strings(chunks: list[pa.Array | int]) -> pa.ChunkedArray:
    """Chunks of a string column, each all-null chunk given by its length."""
    kind = next(chunk.type for chunk in chunks if not isinstance(chunk, int))
    return pa.chunked_array(
        [pa.nulls(chunk, kind) if isinstance(chunk, int) else chunk for chunk in chunks], kind
    )


def read_parquet(files: list[Path], columns: list[str], *, cache_control: bool) -> ArrivalColumns:
    """The arrivals in Parquet `files` (those with a time), only `columns`, in file and row group
    order, collected by `read_batches`.

    Row groups are decoded on `_DECODERS` threads, up to `_READ_AHEAD` ahead of the one being
    collected (the decoder releases the GIL). Only the columns a group's statistics leave open
    are decoded: one null throughout the group, or a coded string column with a single value in
    it, is made from the statistics (ids, route keys and authorizer fields are often null, API
    id, type and stage often constant). A column a file does not have reads as null.
    """
    groups = []
    rows = 0
    for path in files:
        metadata = pq.read_metadata(path)
        rows += metadata.num_rows
        groups.extend((path, metadata, index) for index in range(metadata.num_row_groups))
    with ThreadPoolExecutor(_DECODERS) as pool:
        batches = _decoded(pool, groups, columns)
        return read_batches(batches, rows, cache_control=cache_control)


def _decoded(
    pool: ThreadPoolExecutor, groups: list[tuple[Path, pq.FileMetaData, int]], columns: list[str]
) -> Iterator[pa.RecordBatch]:
    """The batches of each row group in order, decoded ahead on `pool`."""
    pending: deque[Future[list[pa.RecordBatch]]] = deque()
    waiting = iter(groups)
    for path, metadata, index in waiting:
        pending.append(pool.submit(_read_group, path, metadata, index, columns))
        if len(pending) == _READ_AHEAD:
            break
    while pending:
        batches = pending.popleft().result()
        following = next(waiting, None)
        if following is not None:
            pending.append(pool.submit(_read_group, *following, columns))
        yield from batches


def _read_group(
    path: Path, metadata: pq.FileMetaData, index: int, columns: list[str]
) -> list[pa.RecordBatch]:
    """One row group's `columns` (arrivals without a time left out), coded strings read
    dictionary-encoded; the columns its statistics answer are made, not decoded."""
    group = metadata.row_group(index)
    rows = group.num_rows
    chunks = {group.column(j).path_in_schema: group.column(j) for j in range(group.num_columns)}
    known: dict[str, pa.Array] = {}
    for name in columns:
        column = _known_column(chunks.get(name), rows, name in CODED_COLUMNS)
        if column is not None:
            known[name] = column
    if "requested_at" in known:  # no arrival in the group has a time
        return []
    decoded = [name for name in columns if name not in known]
    source = pq.ParquetFile(
        path, metadata=metadata, read_dictionary=[n for n in decoded if n in CODED_COLUMNS]
    )
    table = source.read_row_group(index, columns=decoded, use_threads=False)
    for name, column in known.items():
        table = table.append_column(name, column)
    times = table.column("requested_at")
    if times.null_count:
        table = table.filter(pc.is_valid(times))
    return table.to_batches()


def _known_column(chunk: pq.ColumnChunkMetaData | None, rows: int, coded: bool) -> pa.Array | None:
    """A row group's column made from its chunk's statistics: all null (or absent from the
    file), or, for a coded string column, one (short, so not truncated) value throughout.
    None when the statistics do not say."""
    if chunk is None:
        return pa.nulls(rows)
    stats = chunk.statistics
    if stats is None or not stats.has_null_count:
        return None
    if stats.null_count == rows:
        return pa.nulls(rows)
    if not coded or stats.null_count or not stats.has_min_max:
        return None
    value = stats.min
    exact = getattr(stats, "is_min_value_exact", None) is not False
    short = isinstance(value, str) and len(value.encode()) < _EXACT_STATISTICS_BYTES
    if short and exact and value == stats.max:
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int8)), [value])
    return None
