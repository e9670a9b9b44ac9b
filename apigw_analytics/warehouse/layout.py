"""Where things live inside a data directory; the only code that builds warehouse paths.

DATA/
  access_requests/date=YYYY-MM-DD/part-<run>-<n>.parquet   (one table per RecordKind)
  quarantine/part-<run>-<n>.parquet                        records that could not be parsed
  manifest.jsonl                                           one line per ingested source
  _staging/<run>/...                                       invisible until committed
  .lock                                                    one writer at a time
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "APIGW_ANALYZE_DATA"
DEFAULT_DATA_DIR = "apigw-data"
QUARANTINE_TABLE = "quarantine"


def resolve_data_dir(flag_value: str | Path | None) -> Path:
    """The data directory: the flag, else $APIGW_ANALYZE_DATA, else ./apigw-data."""
    if flag_value:
        return Path(flag_value)
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


@dataclass(frozen=True)
class WarehouseLayout:
    """Paths inside one data directory."""

    root: Path

    def table_dir(self, table: str) -> Path:
        return self.root / table

    def table_glob(self, table: str) -> str:
        """The glob DuckDB and polars read a table with (hive partitions included)."""
        return str(self.table_dir(table) / "**" / "*.parquet")

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.jsonl"

    @property
    def staging_root(self) -> Path:
        return self.root / "_staging"

    @property
    def lock_path(self) -> Path:
        return self.root / ".lock"

    def staging_dir(self, run_id: str) -> Path:
        return self.staging_root / run_id
