"""A report as Markdown (for chat and tickets), self-contained HTML (for a browser, offline)
and JSON (for programs: every row, every digit).

Output depends only on the report's contents, never on when it was rendered, so re-running the
job for a period rewrites identical files (the chart's element id is fixed for that reason).
People read at most `SHOWN_ROWS` rows of a section; the JSON keeps them all.
"""

from __future__ import annotations

import json
from html import escape

import polars as pl

from apigw_analytics.query.render import display_text, to_markdown
from apigw_analytics.report.build import Report, Section
from apigw_analytics.report.thresholds import THRESHOLDS, ThresholdCheck

SHOWN_ROWS = 25
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; font-size: 0.85rem; margin-bottom: 0.5rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.breach { color: #b00020; font-weight: bold; }
.ok { color: #1b5e20; }
.notes { color: #555; font-size: 0.85rem; white-space: pre-wrap; }
"""


def _title(report: Report) -> str:
    return f"API Gateway report {report.period.name}"


def _window(report: Report) -> str:
    period = report.period
    return f"{period.start.isoformat()} to {period.end.isoformat()} (UTC, end exclusive)"


def _verdict(report: Report) -> str:
    if not report.checks:
        return "no thresholds set"
    if report.breached:
        return f"{len(report.breached)} of {len(report.checks)} threshold checks breached"
    return f"all {len(report.checks)} threshold checks hold"


def _check_value(check: ThresholdCheck) -> str:
    return "none" if check.value is None else f"{check.value:.6g}"


def _shown(section: Section) -> tuple[pl.DataFrame, str]:
    """The rows people see, and a line saying how many more the JSON holds."""
    hidden = section.rows.height - SHOWN_ROWS
    more = f"{hidden} more rows in the JSON report." if hidden > 0 else ""
    return section.rows.head(SHOWN_ROWS), more


def to_markdown_report(report: Report) -> str:
    """The report as GitHub-flavoured Markdown."""
    lines = [f"# {_title(report)}", "", _window(report), ""]
    lines += [f"Requests: {report.requests:,}. Thresholds: {_verdict(report)}.", ""]
    if report.checks:
        lines += [
            "## Thresholds",
            "",
            "| check | where | value | limit | result |",
            "|---|---|---|---|---|",
        ]
        for check in report.checks:
            result = "BREACHED" if check.breached else "ok"
            lines.append(
                f"| {check.name} | {check.where} | {_check_value(check)} | {check.limit:g} "
                f"| {result} |"
            )
        lines.append("")
    for section in report.sections:
        shown, more = _shown(section)
        lines += [f"## {section.heading}", "", f"_{section.title}_ (`{section.query}`)", ""]
        lines.append(to_markdown(shown) if shown.height else "No rows in this period.\n")
        if more:
            lines += [more, ""]
    return "\n".join(lines).rstrip() + "\n"


def _html_table(frame: pl.DataFrame) -> str:
    text = display_text(frame)
    numeric = [dtype.is_numeric() for dtype in frame.schema.values()]
    head = "".join(f"<th>{escape(name)}</th>" for name in text.columns)
    body = []
    for row in text.rows():
        cells = "".join(
            f'<td class="number">{escape(cell)}</td>' if is_number else f"<td>{escape(cell)}</td>"
            for cell, is_number in zip(row, numeric, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _traffic_chart(report: Report) -> str:
    """Requests, 4xx and 5xx per interval, all APIs together, with plotly.js inlined so the
    file opens offline."""
    import plotly.graph_objects as go

    series = (
        report.traffic.group_by("interval_start")
        .agg(pl.col("requests", "client_errors_4xx", "server_errors_5xx").sum())
        .sort("interval_start")
    )
    figure = go.Figure()
    for column, label in (
        ("requests", "requests"),
        ("client_errors_4xx", "4xx"),
        ("server_errors_5xx", "5xx"),
    ):
        figure.add_scatter(
            x=series["interval_start"].to_list(), y=series[column].to_list(), name=label
        )
    figure.update_layout(
        title=f"Traffic per {report.period.chart_interval_s // 3600} h (UTC)",
        height=360,
        margin={"l": 40, "r": 20, "t": 40, "b": 40},
    )
    return figure.to_html(full_html=False, include_plotlyjs=True, div_id="traffic")


def to_html_report(report: Report) -> str:
    """The report as one HTML file with everything inlined (styles, chart, plotly.js)."""
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(_title(report))}</title>',
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{escape(_title(report))}</h1><p>{escape(_window(report))}</p>",
        f"<p>Requests: {report.requests:,}. Thresholds: "
        f'<span class="{"breach" if report.breached else "ok"}">{escape(_verdict(report))}</span>'
        ".</p>",
    ]
    if report.traffic.height:
        parts.append(_traffic_chart(report))
    if report.checks:
        rows = "".join(
            f"<tr><td>{escape(c.name)}</td><td>{escape(c.where)}</td>"
            f'<td class="number">{_check_value(c)}</td><td class="number">{c.limit:g}</td>'
            f'<td class="{"breach" if c.breached else "ok"}">'
            f"{'BREACHED' if c.breached else 'ok'}</td></tr>"
            for c in report.checks
        )
        parts.append(
            "<h2>Thresholds</h2><table><thead><tr><th>check</th><th>where</th><th>value</th>"
            f"<th>limit</th><th>result</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    for section in report.sections:
        shown, more = _shown(section)
        parts.append(f"<h2>{escape(section.heading)}</h2>")
        parts.append(f"<p><em>{escape(section.title)}</em> (<code>{section.query}</code>)</p>")
        if section.notes:
            parts.append(f'<p class="notes">{escape(section.notes)}</p>')
        parts.append(_html_table(shown) if shown.height else "<p>No rows in this period.</p>")
        if more:
            parts.append(f"<p>{escape(more)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def to_json_report(report: Report) -> str:
    """The report for programs: period, checks and every section's rows (times as ISO UTC)."""
    document = {
        "period": {
            "kind": report.period.kind,
            "name": report.period.name,
            "start": report.period.start.isoformat(),
            "end": report.period.end.isoformat(),
        },
        "requests": report.requests,
        "thresholds": [
            {
                "name": check.name,
                "meaning": THRESHOLDS[check.name].meaning,
                "where": check.where,
                "value": check.value,
                "limit": check.limit,
                "breached": check.breached,
            }
            for check in report.checks
        ],
        "sections": [
            {
                "query": section.query,
                "heading": section.heading,
                "title": section.title,
                "rows": json.loads(section.rows.write_json()),
            }
            for section in report.sections
        ],
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
