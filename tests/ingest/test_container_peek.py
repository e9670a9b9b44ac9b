"""Container detection reads ahead without consuming what the chosen container then reads."""

from __future__ import annotations

from pathlib import Path

from apigw_analytics.ingest.containers import open_source


def test_text_of_base64_characters_only_keeps_every_line(tmp_path: Path) -> None:
    path = tmp_path / "words.log"
    path.write_text("hello world\nsecond line here\n")
    source = open_source(path)
    messages = [m for chunk in source.chunks for m in chunk["message"].to_list()]
    assert source.container == "plain"
    assert messages == ["hello world", "second line here"]
