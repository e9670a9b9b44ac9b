"""Ingestion: detect each file's container and format, normalise records, write the warehouse."""
