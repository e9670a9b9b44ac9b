"""Running questions: by catalogue name with bound parameters, or free SQL over the views.

The one entry point the CLI, the report job and the dashboard share, so a question answers the
same everywhere. Results are polars DataFrames (DuckDB hands them over as Arrow, without a copy
per row).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import polars as pl

from apigw_analytics.errors import QueryError
from apigw_analytics.query.catalogue import get_query
from apigw_analytics.query.connection import connect
from apigw_analytics.warehouse.layout import resolve_data_dir


def open_connection(
    data_dir: str | Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection with the views of the data directory (flag, else env, else ./apigw-data)."""
    return connect(resolve_data_dir(data_dir))


def run_query(
    name: str,
    parameters: Mapping[str, object] | None = None,
    *,
    data_dir: str | Path | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pl.DataFrame:
    """Answer the catalogue question `name`; unknown names or parameters raise QueryError."""
    spec = get_query(name)
    bound = spec.bind(parameters)
    connection = connection or open_connection(data_dir)
    try:
        return connection.sql(spec.sql, params=bound).pl()
    except duckdb.Error as error:
        raise QueryError(f"query '{spec.name}' failed: {_first_line(error)}") from error


def run_sql(
    sql: str,
    *,
    data_dir: str | Path | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pl.DataFrame:
    """Run a user's SQL over the views (requests, metric_points, ...); errors become one line."""
    connection = connection or open_connection(data_dir)
    try:
        relation = connection.sql(sql)
        return relation.pl() if relation is not None else pl.DataFrame()
    except duckdb.Error as error:
        raise QueryError(f"SQL failed: {_first_line(error)}") from error


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
