"""The manifest: what was ingested, keyed by content hash, so re-ingesting is a no-op.

Stored as JSON lines (one source each) and always replaced whole through a temporary file and
an atomic rename, so a reader never sees half a manifest.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

_HASH_CHUNK_BYTES = 1024 * 1024  # cache-sized: faster to hash than larger reads


@dataclass
class DigestResult:
    """A file's hash and the line facts a whole-file reader checks its row count against."""

    sha256: str
    size_bytes: int
    newlines: int
    ends_with_newline: bool

    @property
    def lines(self) -> int:
        """Lines in the file: newlines, plus a last line without one."""
        return self.newlines + (0 if self.ends_with_newline or not self.size_bytes else 1)


class FileDigest:
    """The hash of a file's bytes, the identity of a source whatever its name or location.

    Hashes in a background thread (hashlib releases the GIL), so that reading and
    parsing the same file overlap with hashing it; `result()` waits for it."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._result: DigestResult | None = None
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        digest = hashlib.sha256()
        newlines = size = 0
        last = b""
        try:
            with self._path.open("rb") as handle:
                while chunk := handle.read(_HASH_CHUNK_BYTES):
                    digest.update(chunk)
                    newlines += chunk.count(b"\n")
                    size += len(chunk)
                    last = chunk[-1:]
        except OSError as error:
            self._error = error
            return
        self._result = DigestResult(digest.hexdigest(), size, newlines, last == b"\n")

    def result(self) -> DigestResult:
        """The digest; an OSError reading the file is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


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
