"""The DuckDB connection and its views over the warehouse: the only SQL that knows file paths.

Every question in the catalogue reads these views, never Parquet paths, so the same `.sql`
files run unchanged on another engine once the views are defined there:

    requests            access requests, plus request_key, route and gateway_overhead_ms
    execution_requests  one row per request id from the execution logs
    execution_events    one row per execution-log message
    metric_points       CloudWatch metric points (canonical `metric` names), plus
                        resolved_api_id and api_match: the API id of REST points, which name
                        their API by ApiName, from the ingested API listings (below)
    replay_outcomes     the reference gateway's predicted outcomes
    apis                the account's APIs (id, name, type) from saved `get-rest-apis` and
                        `get-apis` listings
    quarantine          records that could not be parsed, with file, line and reason

and macros the questions share (`SCALAR_MACROS`, `TABLE_MACROS`), so no `.sql` file repeats them:

    requests_in(start, end, api, stage, route, api_key)
                        the requests of a time window, narrowed by the optional filters that
                        every question accepts (a NULL filter keeps everything)
    bucket_start(moment, width_s)
                        the start of the width_s-second bucket holding a moment, the same as
                        DuckDB's `time_bucket` (origin 2000-01-03 UTC) but in integer arithmetic
                        on the epoch, twice as fast as `time_bucket` on TIMESTAMPTZ
    route_name(route_key, http_method, resource_path)
                        the `route` column
    route_head(route_key, http_method, resource_path), route_tail(...), route_from(head, tail)
                        the route split at its first space, without building the name, and
                        joined again: group by head and tail, name the groups afterwards
    throttle_kind(status, error_response_type, error_message)
                        what a 429 was: THROTTLED or QUOTA_EXCEEDED from the gateway response
                        type, else from the error message; 'unknown' when neither says; NULL
                        for other statuses (so the strings are only compared for 429s)

A table that has never been written (no metrics ingested yet) is still a view, empty and typed
from the schema, so questions that join it return rows instead of failing. Columns a file lacks
(written before the column was added to the schema) read as NULL.

Duplicates: the writer drops them at write time, but files copied in by hand can repeat rows.
Scanning for them costs about a second per ten million requests, far too slow to repeat in
every query, so it runs once per set of files (see `dedupe.py`); the views leave out files
that only repeat others and anti-join the few single rows it found. A warehouse without
duplicates is read with no extra work at all.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from apigw_analytics.errors import WarehouseError
from apigw_analytics.query.dedupe import Repeats, find_repeats, sql_literal, table_files
from apigw_analytics.schema import SCHEMAS, RecordKind
from apigw_analytics.warehouse.layout import QUARANTINE_TABLE, WarehouseLayout
from apigw_analytics.warehouse.writer import QUARANTINE_SCHEMA

# In creation order: `metric_points` reads `apis`, so `apis` comes first.
VIEW_NAMES: dict[RecordKind, str] = {
    RecordKind.APIS: "apis",
    RecordKind.ACCESS_REQUESTS: "requests",
    RecordKind.EXECUTION_REQUESTS: "execution_requests",
    RecordKind.EXECUTION_EVENTS: "execution_events",
    RecordKind.METRIC_POINTS: "metric_points",
    RecordKind.REPLAY_OUTCOMES: "replay_outcomes",
}

# Derived columns of the `requests` view, shared by every question that needs them.
REQUEST_DERIVED_COLUMNS = """,
    coalesce(extended_request_id, request_id) AS request_key,
    route_name(route_key, http_method, resource_path) AS route,
    latency_ms - integration_latency_ms AS gateway_overhead_ms"""

# Derived columns of the `metric_points` view: the API id of a point. HTTP and WebSocket points
# carry it (ApiId); REST points carry the ApiName, which gets the id of the one listed REST API
# that CloudWatch calls by that name. A name several listed REST APIs share (AWS allows it) is
# never guessed. `api_match` says which case a point is: 'ApiId', 'listing', 'ambiguous' (the
# name of several listed APIs: no id), 'unlisted' (no listed API has the name, or no listing
# was ingested: no id); NULL for a point with neither dimension.
METRIC_POINTS_RELATION = """
SELECT
    p.*,
    coalesce(p.api_id, CASE WHEN n.listed_apis = 1 THEN n.listed_api_id END) AS resolved_api_id,
    CASE
        WHEN p.api_id IS NOT NULL THEN 'ApiId'
        WHEN p.api_name IS NULL THEN NULL
        WHEN n.listed_apis = 1 THEN 'listing'
        WHEN n.listed_apis > 1 THEN 'ambiguous'
        ELSE 'unlisted'
    END AS api_match
FROM ({points}) AS p
LEFT JOIN (
    SELECT
        metric_api_name,
        count(DISTINCT api_id) AS listed_apis,
        min(api_id) AS listed_api_id
    FROM apis
    WHERE api_type = 'rest' AND metric_api_name IS NOT NULL
    GROUP BY metric_api_name
) AS n
    ON n.metric_api_name = p.api_name"""

# Macro parameters are named unlike any column, so a parameter never shadows one. A non-positive
# bucket width is refused with the same kind of message `time_bucket` gives. `route_name` is the
# `route` column of the requests view. `route_head` and `route_tail` are that name split at its
# first space, worked out from the parts without building the name: for REST they are just the
# method and the resource path, so grouping by them is grouping by route at half the cost of
# building a string per request; `route_from` joins a group's two halves back into its name.
# Scalar macros come before the views (the requests view uses one); table macros after (DuckDB
# binds them at once).
SCALAR_MACROS = """
CREATE OR REPLACE MACRO route_name(key_part, method_part, path_part) AS
    coalesce(key_part, method_part || ' ' || path_part, path_part);

CREATE OR REPLACE MACRO before_space(text) AS
    CASE WHEN strpos(text, ' ') > 0 THEN left(text, strpos(text, ' ') - 1) ELSE text END;

CREATE OR REPLACE MACRO after_space(text) AS
    CASE WHEN strpos(text, ' ') > 0 THEN substr(text, strpos(text, ' ') + 1) END;

CREATE OR REPLACE MACRO route_head(key_part, method_part, path_part) AS CASE
    WHEN key_part IS NOT NULL THEN before_space(key_part)
    WHEN method_part IS NOT NULL AND path_part IS NOT NULL THEN before_space(method_part)
    ELSE before_space(path_part)
END;

CREATE OR REPLACE MACRO route_tail(key_part, method_part, path_part) AS CASE
    WHEN key_part IS NOT NULL THEN after_space(key_part)
    WHEN method_part IS NOT NULL AND path_part IS NOT NULL THEN
        CASE
            WHEN strpos(method_part, ' ') > 0 THEN after_space(method_part) || ' ' || path_part
            ELSE path_part
        END
    ELSE after_space(path_part)
END;

CREATE OR REPLACE MACRO route_from(head, tail) AS
    CASE WHEN tail IS NULL THEN head ELSE head || ' ' || tail END;

CREATE OR REPLACE MACRO throttle_kind(status_code, response_type, message) AS CASE
    WHEN status_code IS DISTINCT FROM 429 THEN NULL
    WHEN response_type = 'QUOTA_EXCEEDED' OR (response_type IS NULL AND message = 'Limit Exceeded')
        THEN 'QUOTA_EXCEEDED'
    WHEN response_type = 'THROTTLED' OR (response_type IS NULL AND message = 'Too Many Requests')
        THEN 'THROTTLED'
    ELSE 'unknown'
END;

CREATE OR REPLACE MACRO bucket_start_us(moment_us, width_us) AS
    moment_us - ((moment_us - 946857600000000) % width_us + width_us) % width_us;

CREATE OR REPLACE MACRO bucket_start(moment, width_s) AS make_timestamptz(
    bucket_start_us(
        epoch_us(moment),
        CASE
            WHEN width_s > 0 THEN CAST(width_s AS BIGINT) * 1000000
            ELSE error('bucket width must be a positive number of seconds')
        END
    )
);
"""
TABLE_MACROS = """
CREATE OR REPLACE MACRO requests_in(
    window_start, window_end, api_filter, stage_filter, route_filter, api_key_filter
) AS TABLE
SELECT *
FROM requests
WHERE
    requested_at >= window_start AND requested_at < window_end
    AND (api_filter IS NULL OR api_id = api_filter)
    AND (stage_filter IS NULL OR stage = stage_filter)
    AND (route_filter IS NULL OR route = route_filter OR resource_path = route_filter)
    AND (api_key_filter IS NULL OR api_key_id = api_key_filter);
"""

_DUCKDB_TYPES: dict[type[pl.DataType], str] = {
    pl.String: "VARCHAR",
    pl.Int64: "BIGINT",
    pl.Int32: "INTEGER",
    pl.Float64: "DOUBLE",
    pl.Boolean: "BOOLEAN",
    pl.Datetime: "TIMESTAMPTZ",
}


def duckdb_type(dtype: pl.DataType) -> str:
    """The DuckDB type a schema column is read as (UTC datetimes become TIMESTAMPTZ)."""
    try:
        return _DUCKDB_TYPES[dtype.base_type()]
    except KeyError:
        raise WarehouseError(f"schema type {dtype} has no DuckDB mapping") from None


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _select_list(columns: list[tuple[str, str]], present: set[str]) -> str:
    """Schema columns in declared order; those no file has yet are typed NULLs."""
    items = []
    for name, sql_type in columns:
        source = _quote(name) if name in present else "NULL"
        items.append(f"CAST({source} AS {sql_type}) AS {_quote(name)}")
    return ",\n    ".join(items)


def _typed_rows(
    connection: duckdb.DuckDBPyConnection,
    columns: list[tuple[str, str]],
    files: list[Path],
    *,
    row_ids: bool,
) -> str:
    """SELECT of every row of the files: typed, in schema order, with NULL for columns no file
    has yet; with `row_ids`, also each row's filename and file_row_number."""
    if not files:
        return f"SELECT {_select_list(columns, set())}\nWHERE false"
    file_list = "[" + ", ".join(sql_literal(str(path)) for path in files) + "]"
    options = ", filename = true, file_row_number = true" if row_ids else ""
    scan = f"read_parquet({file_list}, union_by_name = true{options})"
    present = {row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
    ids = ",\n    filename,\n    file_row_number" if row_ids else ""
    return f"SELECT {_select_list(columns, present)}{ids}\nFROM {scan}"


def _table_relation(
    connection: duckdb.DuckDBPyConnection,
    columns: list[tuple[str, str]],
    files: list[Path],
    drop_rows: Path | None,
) -> str:
    """SELECT of a table's rows: typed, in schema order, without the rows known to be repeats."""
    if drop_rows is None:
        return _typed_rows(connection, columns, files, row_ids=False)
    rows = _typed_rows(connection, columns, files, row_ids=True)
    return (
        f"SELECT * EXCLUDE (filename, file_row_number)\nFROM ({rows}) AS t\n"
        f"WHERE NOT EXISTS (SELECT 1 FROM read_parquet({sql_literal(str(drop_rows))}) AS d"
        " WHERE d.filename = t.filename AND d.file_row_number = t.file_row_number)"
    )


def _schema_columns(kind: RecordKind) -> list[tuple[str, str]]:
    return [(column.name, duckdb_type(column.dtype)) for column in SCHEMAS[kind]]


def create_views(connection: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    """(Re)define every view of the warehouse at `data_dir`, and the shared macros, on it."""
    connection.execute(SCALAR_MACROS)
    layout = WarehouseLayout(data_dir)
    for kind, view in VIEW_NAMES.items():
        files = table_files(layout, kind.value)
        columns = _schema_columns(kind)
        repeats = Repeats()
        if files:
            repeats = find_repeats(
                connection,
                layout,
                kind,
                files,
                lambda columns=columns, files=files: _typed_rows(
                    connection, columns, files, row_ids=True
                ),
            )
        kept = [path for path in files if path not in repeats.whole_files]
        relation = _table_relation(connection, columns, kept, repeats.rows_path)
        if kind is RecordKind.ACCESS_REQUESTS:
            relation = f"SELECT *{REQUEST_DERIVED_COLUMNS}\nFROM ({relation})"
        elif kind is RecordKind.METRIC_POINTS:
            relation = METRIC_POINTS_RELATION.format(points=relation)
        connection.execute(f"CREATE OR REPLACE VIEW {view} AS\n{relation}")
    quarantine_columns = [(name, duckdb_type(dtype)) for name, dtype in QUARANTINE_SCHEMA.items()]
    quarantine_files = table_files(layout, QUARANTINE_TABLE)
    relation = _table_relation(connection, quarantine_columns, quarantine_files, None)
    connection.execute(f"CREATE OR REPLACE VIEW quarantine AS\n{relation}")
    connection.execute(TABLE_MACROS)


def connect(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection in UTC with the warehouse views defined.

    A missing data directory is an error (a typo would otherwise answer every question with
    nothing); an existing one with no tables yet gives empty views.
    """
    if not data_dir.is_dir():
        raise WarehouseError(
            f"{data_dir}: no such data directory (ingest logs first, or pass --data / set "
            "APIGW_ANALYZE_DATA)"
        )
    connection = duckdb.connect(":memory:")
    connection.execute("SET TimeZone = 'UTC'")
    create_views(connection, data_dir.resolve())
    return connection
