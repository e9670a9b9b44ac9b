"""The content hash and line facts a source is identified and checked by (warehouse/manifest.py)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import xxhash

from apigw_analytics.warehouse.manifest import FileDigest, read_manifest


@pytest.mark.parametrize(
    ("content", "lines"),
    [
        (b"", 0),
        (b"one line, no newline", 1),
        (b"a\nb\n", 2),
        (b"a\n\nb", 3),
        # Longer than the hashing buffer, the last line without a newline.
        (b"x" * 700_000 + b"\n" + b"y" * 700_000 + b"\n" + b"tail", 3),
    ],
)
def test_digest_counts_lines_and_hashes_the_bytes(tmp_path: Path, content: bytes, lines: int):
    path = tmp_path / "log"
    path.write_bytes(content)
    facts = FileDigest(path).result()
    assert facts.lines == lines
    assert facts.size_bytes == len(content)
    assert facts.content_hash == "xxh3-128:" + xxhash.xxh3_128(content).hexdigest()


def test_digest_of_a_missing_file_raises_when_asked(tmp_path: Path):
    digest = FileDigest(tmp_path / "absent")
    with pytest.raises(OSError):
        digest.result()


def test_a_manifest_keyed_by_sha256_still_reads(tmp_path: Path):
    """Entries written before the hash was XXH3 keep their data; their key can never equal a
    new hash, so such a file is read again and deduplicated."""
    path = tmp_path / "manifest.jsonl"
    old = {
        "sha256": "ab" * 32,
        "path": "logs/a.log",
        "size_bytes": 3,
        "container": "plain",
        "formats": ["access-json"],
        "records_read": 1,
    }
    path.write_bytes(orjson.dumps(old) + b"\n")
    (entry,) = read_manifest(path).values()
    assert entry.content_hash == "sha256:" + "ab" * 32
    assert entry.path == "logs/a.log"
