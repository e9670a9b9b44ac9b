"""The compiled renderer writes what polars would: CLF and epoch times, numbers, codes, ids,
`-` for every missing value, lines in the order asked for across chunks and threads."""

from __future__ import annotations

import io

import numpy as np
import polars as pl

from apigw_analytics.generate.access_logs import render, template_steps
from apigw_analytics.generate.rendering import NO_NUMBER, Chars, Codes, Flags, Numbers, Rendering
from apigw_analytics.schema import UTC_MS

TEMPLATE = (
    '{"t":"$context.requestTime","ms":"$context.requestTimeEpoch","s":"$context.status",'
    '"m":"$context.httpMethod","id":"$context.requestId","c":"$context.isCanaryRequest",'
    '"u":"$context.identity.user","again":"$context.status"}'
)


def _columns(n: int) -> dict[str, Numbers | Codes | Flags | Chars]:
    rng = np.random.default_rng(5)
    # From 1900 to 2200, and the edges of leap days and years.
    times_ms = rng.integers(-2_208_988_800_000, 7_258_118_400_000, n)
    times_ms[:4] = [0, 951_782_400_000, 951_868_799_999, 4_107_542_399_999]
    status = rng.integers(-5, 1_000_000, n)
    status[rng.random(n) < 0.1] = NO_NUMBER
    status[:3] = [0, -1, 9_223_372_036_854_775_807]
    methods = rng.integers(-1, 3, n).astype(np.int32)
    chars = rng.integers(ord("a"), ord("z") + 1, (n, 5)).astype(np.uint8)
    return {
        "requested_at": Numbers(times_ms),
        "status": Numbers(status),
        "http_method": Codes(methods, ["GET", None, "DELETE"]),
        "request_id": Chars(chars, rng.integers(-1, 6, n).astype(np.int32)),
        "is_canary": Flags(rng.random(n) < 0.5),
    }


def _expected(columns: dict[str, Numbers | Codes | Flags | Chars], rows: np.ndarray) -> list[str]:
    frame = pl.DataFrame(
        [
            columns["requested_at"].to_series("requested_at", UTC_MS),
            columns["status"].to_series("status"),
            columns["http_method"].to_series("http_method"),
            columns["request_id"].to_series("request_id"),
            columns["is_canary"].to_series("is_canary"),
        ]
    )[rows]
    time = pl.col("requested_at")
    text = {
        "t": time.dt.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "ms": time.dt.epoch("ms").cast(pl.String),
        "s": pl.col("status").cast(pl.String),
        "m": pl.col("http_method"),
        "id": pl.col("request_id"),
        "c": pl.col("is_canary").cast(pl.String),
    }
    parts: list[pl.Expr] = []
    for index, (key, value) in enumerate(text.items()):
        parts += [pl.lit(("{" if index == 0 else '",') + f'"{key}":"'), value.fill_null("-")]
    line = pl.concat_str(
        [*parts, pl.lit('","u":"-","again":"'), text["s"].fill_null("-"), pl.lit('"}')]
    )
    return frame.select(line).to_series().to_list()


def test_lines_are_what_polars_formats() -> None:
    columns = _columns(5_000)
    rows = np.random.default_rng(6).permutation(5_000)
    lines = render(TEMPLATE, columns, rows).lines()
    assert lines.to_series().to_list() == _expected(columns, rows)
    assert lines.data[lines.ends - 1].tolist() == [ord("\n")] * len(rows)


def test_chunks_keep_the_order_of_the_rows() -> None:
    columns = _columns(3_000)
    rows = np.arange(3_000)[::-1]
    small = Rendering(template_steps(TEMPLATE), columns, rows, chunk_bytes=4_000)
    assert small.rows_per_chunk < 100
    file = io.BytesIO()
    written = small.write_to(file)
    whole = render(TEMPLATE, columns, rows).lines()
    assert file.getvalue() == whole.data.tobytes()
    assert written == len(whole.data)


def test_no_rows_no_bytes() -> None:
    lines = render(TEMPLATE, _columns(10), np.zeros(0, np.int64)).lines()
    assert len(lines) == 0 and lines.to_series().to_list() == []
