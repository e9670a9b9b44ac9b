"""The ingest summary for people: a rich table per source and the totals that reconcile."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from apigw_analytics.ingest.pipeline import IngestSummary


def print_summary(summary: IngestSummary, console: Console | None = None) -> None:
    """Files, formats, rows, quarantine by reason, time range, throughput; errors last."""
    console = console or Console()
    facts = summary.to_dict()
    table = Table(
        "file",
        "container",
        "format",
        "records",
        "rows",
        "dups",
        "quarantined",
        "status",
        title=f"ingest into {summary.data_dir}",
    )
    for source in summary.sources:
        table.add_row(
            source.path,
            source.container or "",
            source.format or "",
            f"{source.records_read:,}",
            f"{sum(source.rows_by_kind.values()):,}",
            f"{source.duplicates_dropped:,}",
            f"{source.quarantined:,}",
            "failed" if source.error and source.status == "failed" else source.status,
        )
    console.print(table)
    rows = ", ".join(f"{kind} {count:,}" for kind, count in facts["rows_by_kind"].items())
    console.print(
        f"{facts['files']} files ({facts['files_ingested']} ingested, "
        f"{facts['files_already_ingested']} already ingested, {facts['files_failed']} failed); "
        f"{facts['records_read']:,} records read = {facts['records_parsed']:,} parsed + "
        f"{facts['quarantined']:,} quarantined + {facts['skipped']:,} skipped"
    )
    console.print(
        f"rows written: {rows or 'none'}; duplicates dropped: {facts['duplicates_dropped']:,}"
    )
    if merged := facts["execution_requests_merged"]:
        console.print(f"execution requests rebuilt from events in several files: {merged:,}")
    if facts["first_at"]:
        console.print(f"time range: {facts['first_at']} .. {facts['last_at']}")
    if facts["records_per_s"]:
        console.print(
            f"throughput: {facts['records_per_s']:,} records/s, "
            f"{facts['mb_per_s']} MB/s in {facts['elapsed_s']} s"
        )
    for reason, count in facts["quarantine_reasons"].items():
        console.print(f"[yellow]quarantined {count:,}: {reason}[/yellow]")
    for source in summary.sources:
        for warning in source.warnings:
            console.print(f"[yellow]warning: {source.path}: {warning}[/yellow]")
        if source.error:
            console.print(f"[red]error: {source.error}[/red]")
