"""The warehouse: hive-partitioned Parquet per record kind, a manifest and a quarantine."""
