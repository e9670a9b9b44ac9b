"""Compile a stage's `accessLogSettings.format` (`$context` template) into a parser.

Any template a user configured can be read exactly: the literal text must match as written and
each `$context` variable becomes a capture. A variable's capture is what its values look like
(a status is three digits, a resource path starts with `/`) where that is known, else anything
up to the literal character that follows it. JSON-shaped templates are read as JSON with the
keys mapped to the variables the template names, not guessed from the key names.

The console's CLF, CSV and XML examples are such templates (see access_clf, access_csv,
access_xml); matching is done by polars' regex engine over a whole chunk at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

import polars as pl

from apigw_analytics.errors import FormatError
from apigw_analytics.ingest.access_fields import EXTRA, column_for_variable, finalize_access
from apigw_analytics.ingest.events import EMPTY_QUARANTINE
from apigw_analytics.ingest.registry import ParseContext, ParseResult, Sample
from apigw_analytics.schema import RecordKind

_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")
_REGEX_META = set("\\.+*?()|[]{}^$#&-~")
_NUMBER = r"-?\d+(?:\.\d+)?|-"
_VALUE_PATTERNS: dict[str, str] = {
    "httpMethod": r"[A-Z]+|-",
    "resourcePath": r"/[^ \"]*|-",
    "path": r"/[^ \"]*|-",
    "protocol": r"HTTP/[0-9.]+|-",
    "routeKey": r"\$default|[A-Z]+ /[^ \"]*|\$?[A-Za-z0-9_.-]+|-",
    "requestTime": r"\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}|-",
    "identity.sourceIp": r"[0-9A-Fa-f.:]+|-",
    "status": r"\d{3}|-",
    "requestTimeEpoch": r"\d+|-",
}
_NUMERIC_VARIABLES = {
    "responseLength",
    "responseLatency",
    "integrationLatency",
    "integration.latency",
    "integration.status",
    "integrationStatus",
    "integration.integrationStatus",
    "authorizer.latency",
    "dataProcessed",
}


def _escape(literal: str) -> str:
    """Escape for both Python's and Rust's regex syntax (Rust rejects escaped spaces)."""
    return "".join("\\" + char if char in _REGEX_META else char for char in literal)


def _capture(variable: str, next_literal: str) -> str:
    if variable in _VALUE_PATTERNS:
        return _VALUE_PATTERNS[variable]
    if variable in _NUMERIC_VARIABLES:
        return _NUMBER
    if not next_literal:
        return ".*"
    stop = next_literal[0]
    return "[^" + ("\\" + stop if stop in _REGEX_META else stop) + "]*"


@dataclass(frozen=True)
class CompiledTemplate:
    """A template as a regex (one named group per variable) and the columns of the groups."""

    template: str
    rust_pattern: str
    python_pattern: re.Pattern[str]
    group_columns: dict[str, str]

    def matches(self, line: str) -> bool:
        return bool(self.python_pattern.match(line))


def compile_template(template: str) -> CompiledTemplate:
    """Compile a `$context` template; a template with no variable is a FormatError."""
    template = template.strip().removesuffix("\\n").strip()
    pieces = _VARIABLE.split(template)
    literals, variables = pieces[0::2], pieces[1::2]
    if not variables:
        raise FormatError(f"the access-log template names no $context variable: {template!r}")
    rust = [r"^\s*", _escape(literals[0])]
    python = [r"^\s*", _escape(literals[0])]
    group_columns: dict[str, str] = {}
    for index, variable in enumerate(variables):
        following = literals[index + 1]
        capture = _capture(variable, following)
        column = column_for_variable(variable)
        group = f"g{index}"
        if column and column not in group_columns.values():
            group_columns[group] = column
            rust.append(f"(?<{group}>{capture})")
            python.append(f"(?P<{group}>{capture})")
        else:
            rust.append(f"(?:{capture})")
            python.append(f"(?:{capture})")
        rust.append(_escape(following))
        python.append(_escape(following))
    rust.append(r"\s*$")
    python.append(r"\s*$")
    return CompiledTemplate(template, "".join(rust), re.compile("".join(python)), group_columns)


def json_template_keys(template: str) -> dict[str, str] | None:
    """For a JSON-shaped template, each key → the column of the variable it holds."""
    if not template.strip().startswith("{"):
        return None
    pairs = re.findall(r'"([^"]+)"\s*:\s*"?\$context\.([A-Za-z0-9_.]+)', template)
    return {key: column_for_variable(variable) or EXTRA for key, variable in pairs} or None


class TemplateParser:
    """Parses events against one compiled template; lines that do not match are quarantined."""

    def __init__(
        self, candidates: list[CompiledTemplate], context: ParseContext, *, xml: bool
    ) -> None:
        self._candidates = candidates
        self._compiled = candidates[0]
        self._chosen = len(candidates) == 1
        self._context = context
        self._xml = xml

    def _choose(self, messages: pl.Series) -> None:
        """Among several presets, the one most of the first lines match, once per source."""
        lines = [m for m in messages.head(200) if m.strip()][:50]
        if lines:
            scores = [sum(c.matches(line) for line in lines) for c in self._candidates]
            self._compiled = self._candidates[scores.index(max(scores))]
            self._chosen = True

    def feed(self, events: pl.DataFrame) -> ParseResult:
        blank = events["message"].str.strip_chars().str.len_bytes() == 0
        events = events.filter(~blank)
        if not self._chosen:
            self._choose(events["message"])
        groups = pl.col("message").str.extract_groups(self._compiled.rust_pattern)
        extracted = events.with_columns(groups.alias("_fields"))
        matched = extracted.filter(
            pl.col("_fields").struct.field("g0").is_not_null()
            if "g0" in self._compiled.group_columns
            else pl.col("_fields").is_not_null()
        )
        unmatched = extracted.filter(~pl.col("source_line").is_in(matched["source_line"].implode()))
        fields = [
            pl.col("_fields").struct.field(group).alias(column)
            for group, column in self._compiled.group_columns.items()
        ]
        raw = matched.select(
            "message", "source_line", "event_at", "log_group", "log_stream", *fields
        )
        if self._xml:
            raw = raw.with_columns(
                pl.col(c).map_elements(unescape, return_dtype=pl.String)
                for c in self._compiled.group_columns.values()
            )
        rows, rejected = finalize_access(
            raw, source_file=self._context.source_file, api_type=self._context.api_type
        )
        no_match = unmatched.select(
            "source_line",
            pl.lit("does not match the access-log template").alias("reason"),
            pl.col("message").alias("record"),
        )
        return ParseResult(
            tables={RecordKind.ACCESS_REQUESTS: rows},
            quarantine=pl.concat([no_match, rejected]),
            skipped=int(blank.sum()),
            records_parsed=rows.height,
        )

    def finish(self) -> ParseResult:
        return ParseResult(quarantine=EMPTY_QUARANTINE)


class PresetFormat:
    """A format made of one or more known templates; the best-matching one is used."""

    def __init__(self, name: str, description: str, templates: list[str], *, xml: bool = False):
        self.name = name
        self.description = description
        self._compiled = [compile_template(t) for t in templates]
        self._xml = xml

    def sniff(self, sample: Sample) -> float:
        lines = [m for m in sample.messages if m.strip()][:50]
        if not lines:
            return 0.0
        return 0.9 * max(
            sum(c.matches(line) for line in lines) / len(lines) for c in self._compiled
        )

    def open_parser(self, context: ParseContext) -> TemplateParser:
        return TemplateParser(self._compiled, context, xml=self._xml)


class CustomTemplateFormat:
    """The format given with `--access-format`: exactly the stage's template."""

    name = "access-template"
    description = "access log in the template given with --access-format"

    def __init__(self, template: str) -> None:
        self._json_keys = json_template_keys(template)
        self._compiled = None if self._json_keys else compile_template(template)

    def sniff(self, sample: Sample) -> float:
        return 1.0

    def open_parser(self, context: ParseContext):
        if self._json_keys is not None:
            from apigw_analytics.ingest.formats.access_json import JsonAccessFormat

            return JsonAccessFormat(key_columns=self._json_keys).open_parser(context)
        return TemplateParser([self._compiled], context, xml="<" in self._compiled.template)
