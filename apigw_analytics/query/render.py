"""Writing a result frame as a rich table, CSV, JSON, Markdown or Parquet.

Tables are for people (floats shortened, times without the trailing zeros of microseconds);
the other formats are for programs and keep every digit. Parquet is binary, so it needs a file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from apigw_analytics.errors import QueryError

FORMATS = ("table", "csv", "json", "markdown", "parquet")
TABLE_FLOAT_DIGITS = 4


def display_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as short text: floats rounded, times as ISO UTC, NULLs as empty."""
    columns = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype.is_float():
            column = column.round(TABLE_FLOAT_DIGITS)
        elif isinstance(dtype, pl.Datetime):
            column = column.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        columns.append(column.cast(pl.String).fill_null("").alias(name))
    return frame.select(columns)


def to_markdown(frame: pl.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (pipes in values escaped)."""
    text = display_text(frame)
    escape = [pl.col(name).str.replace_all("|", r"\|", literal=True) for name in text.columns]
    rows = text.select(escape).rows()
    lines = ["| " + " | ".join(text.columns) + " |", "|" + "---|" * len(text.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _natural_width(text: pl.DataFrame) -> int:
    """Characters a table needs to show every cell unfolded (rich: 3 per column for borders
    and padding, plus the closing border)."""
    widest = [
        max(len(name), text.get_column(name).str.len_chars().max() or 0) for name in text.columns
    ]
    return sum(width + 3 for width in widest) + 1


def print_table(frame: pl.DataFrame, title: str | None = None) -> None:
    """A readable rich table on stdout (numbers right-aligned). A terminal folds wide cells to
    its width; piped into a file or a pager, the table keeps its natural width, since rich's
    80-column default would fold every cell of a wide answer into slivers."""
    from rich.console import Console
    from rich.table import Table

    text = display_text(frame)
    table = Table(title=title, show_lines=False, header_style="bold")
    for name, dtype in frame.schema.items():
        table.add_column(name, justify="right" if dtype.is_numeric() else "left", overflow="fold")
    for row in text.rows():
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(_natural_width(text), console.width))
    console.print(table)
    Console(stderr=True).print(f"{frame.height} rows", style="dim")


def render(
    frame: pl.DataFrame, output_format: str, out: Path | None, title: str | None = None
) -> None:
    """Write the frame in the format to `out`, or to stdout when no file is given."""
    if output_format not in FORMATS:
        raise QueryError(f"unknown format '{output_format}'; accepted: {', '.join(FORMATS)}")
    if output_format == "table":
        if out is not None:
            out.write_text(to_markdown(frame), encoding="utf-8")
        else:
            print_table(frame, title)
        return
    if output_format == "parquet":
        if out is None:
            raise QueryError("--format parquet needs --out FILE")
        frame.write_parquet(out)
        return
    if output_format == "csv":
        text = frame.write_csv()
    elif output_format == "json":
        text = frame.write_json() + "\n"
    else:
        text = to_markdown(frame)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
