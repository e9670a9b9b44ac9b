"""Progress for long ingests: a rich bar over bytes on a terminal, nothing otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)


class _FileProgress:
    def __init__(self, progress: Progress | None, task: int | None) -> None:
        self._progress = progress
        self._task = task

    def finish_file(self, path: Path) -> None:
        if self._progress is not None and self._task is not None:
            try:
                size = path.stat().st_size
            except OSError:
                size = 0
            self._progress.update(self._task, advance=size, description=path.name)


@contextmanager
def ingest_progress(files: list[Path], *, enabled: bool) -> Iterator[_FileProgress]:
    """A progress bar on stderr when enabled and stderr is a terminal."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield _FileProgress(None, None)
        return
    total = sum(path.stat().st_size for path in files if path.is_file())
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield _FileProgress(progress, progress.add_task("ingest", total=total))
