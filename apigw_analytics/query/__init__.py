"""The query layer: DuckDB views over the warehouse and a catalogue of questions in `.sql` files.

`run_query(name, parameters)` and `run_sql(text)` return polars DataFrames. They are imported
lazily so that importing the CLI commands does not load DuckDB or polars.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_query", "run_sql"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from apigw_analytics.query import run

        return getattr(run, name)
    raise AttributeError(f"module 'apigw_analytics.query' has no attribute {name!r}")
