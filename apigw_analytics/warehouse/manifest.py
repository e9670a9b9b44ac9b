"""The manifest: what was ingested, keyed by content hash, so re-ingesting is a no-op.

Stored as JSON lines (one source each) and always replaced whole through a temporary file and
an atomic rename, so a reader never sees half a manifest.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

_HASH_CHUNK_BYTES = 8 * 1024 * 1024


def content_sha256(path: Path) -> str:
    """Hash of a file's bytes: the identity of a source, whatever its name or location."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ManifestEntry:
    """One ingested source file and what came of it."""

    sha256: str
    path: str
    size_bytes: int
    container: str
    formats: list[str]
    records_read: int
    rows_by_kind: dict[str, int] = field(default_factory=dict)
    duplicates_dropped: int = 0
    quarantined: int = 0
    skipped: int = 0
    run_id: str = ""
    ingested_at: str = ""


def read_manifest(path: Path) -> dict[str, ManifestEntry]:
    """Entries by content hash; an absent manifest is an empty warehouse."""
    if not path.exists():
        return {}
    entries: dict[str, ManifestEntry] = {}
    for line in path.read_bytes().splitlines():
        if line.strip():
            entry = ManifestEntry(**orjson.loads(line))
            entries[entry.sha256] = entry
    return entries


def write_manifest(path: Path, entries: dict[str, ManifestEntry]) -> None:
    """Replace the manifest atomically, entries in ingestion order."""
    temporary = path.with_suffix(".jsonl.tmp")
    payload = b"".join(orjson.dumps(asdict(entry)) + b"\n" for entry in entries.values())
    temporary.write_bytes(payload)
    os.replace(temporary, path)
