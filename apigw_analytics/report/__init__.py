"""The scheduled report job: one period's answers as self-contained HTML, Markdown and JSON."""
