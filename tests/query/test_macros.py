"""The macros the questions share: each is checked against its plain definition."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import duckdb
import pytest

from apigw_analytics.query.connection import SCALAR_MACROS

# Route parts as logs give them, and stranger ones: empty, spaced, missing.
PARTS = [None, "", " ", "GET", "GET /x", "/pets", "/a b", "x ", "$default"]


@pytest.fixture(scope="module")
def connection() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(SCALAR_MACROS)
    return connection


def test_route_head_and_tail_split_the_route_name_at_its_first_space(connection) -> None:
    combos = list(itertools.product(PARTS, repeat=3))
    rows = connection.execute(
        "SELECT route_name(k, m, p), route_head(k, m, p), route_tail(k, m, p),"
        " route_from(route_head(k, m, p), route_tail(k, m, p))"
        " FROM (SELECT unnest($k) AS k, unnest($m) AS m, unnest($p) AS p)",
        {"k": [c[0] for c in combos], "m": [c[1] for c in combos], "p": [c[2] for c in combos]},
    ).fetchall()
    for name, head, tail, joined in rows:
        split = name.split(" ", 1) if name is not None else [None]
        assert (head, tail) == (split[0], split[1] if len(split) == 2 else None)
        assert joined == name


@pytest.mark.parametrize("width_s", [1, 7, 60, 900, 3600, 86_400, 604_800, 1_000_000])
def test_bucket_start_is_time_bucket(connection, width_s: int) -> None:
    moments = [
        datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
        datetime(1999, 12, 31, 1, 2, 3, tzinfo=UTC),
        datetime(2024, 5, 1, 13, 14, 15, 999_999, tzinfo=UTC),
        datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC),
    ]
    mismatches = connection.execute(
        "SELECT count(*) FILTER (WHERE bucket_start(m, $w) IS DISTINCT FROM"
        " time_bucket(to_seconds($w), m)) FROM (SELECT unnest($m) AS m)",
        {"w": width_s, "m": moments},
    ).fetchone()
    assert mismatches == (0,)


def test_a_bucket_width_must_be_positive(connection) -> None:
    with pytest.raises(duckdb.Error, match="positive"):
        connection.execute("SELECT bucket_start(TIMESTAMPTZ '2024-01-01 00:00:00+00', 0)")
