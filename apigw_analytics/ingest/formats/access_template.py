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
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

import polars as pl

from apigw_analytics.errors import FormatError
from apigw_analytics.ingest.access_fields import (
    EXTRA,
    column_for_variable,
    finalize_access,
    source_labels,
    sql_name,
    sql_text,
)
from apigw_analytics.ingest.bulk import RAW_LINES, BulkScan, path_literal
from apigw_analytics.ingest.events import EMPTY_QUARANTINE
from apigw_analytics.ingest.registry import ParseContext, ParseResult, Sample
from apigw_analytics.schema import RecordKind

_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")
_WHITESPACE = " \t\n\r\f\v"
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
    """A template as a regex (one named group per variable) and the columns of the groups.

    `literals` and `variables` are the template's pieces (`literals[i]` precedes
    `variables[i]`), `captures` each variable's value pattern and `groups` its group name
    (None when its column is taken by an earlier variable).
    """

    template: str
    rust_pattern: str
    python_pattern: re.Pattern[str]
    group_columns: dict[str, str]
    literals: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()
    captures: tuple[str, ...] = ()
    groups: tuple[str | None, ...] = ()

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
    captures: list[str] = []
    groups: list[str | None] = []
    for index, variable in enumerate(variables):
        following = literals[index + 1]
        capture = _capture(variable, following)
        captures.append(capture)
        column = column_for_variable(variable)
        group = f"g{index}"
        if column and column not in group_columns.values():
            group_columns[group] = column
            groups.append(group)
            rust.append(f"(?<{group}>{capture})")
            python.append(f"(?P<{group}>{capture})")
        else:
            groups.append(None)
            rust.append(f"(?:{capture})")
            python.append(f"(?:{capture})")
        rust.append(_escape(following))
        python.append(_escape(following))
    rust.append(r"\s*$")
    python.append(r"\s*$")
    return CompiledTemplate(
        template,
        "".join(rust),
        re.compile("".join(python)),
        group_columns,
        tuple(literals),
        tuple(variables),
        tuple(captures),
        tuple(groups),
    )


# Values with spaces at fixed places, as the patterns of their space-free parts (a CLF time:
# `20/Jul/2026:01:50:15 +0000`; its `-` for "no value" would make one column less, so that line
# is read by the regex).
_VALUE_PARTS = {"requestTime": (r"\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d", r"[+-]\d{4}")}
_SPACE_FREE_CAPTURES = {pattern for name, pattern in _VALUE_PATTERNS.items() if name != "routeKey"}
_SPACE_FREE_CAPTURES |= {_NUMBER, "[^ ]*", ".*"}  # `.*` comes last: a space adds a column
# Patterns every cell matches (a cell holds no space; the line's length shows no quote was lost).
_ANY_CELL = {"[^ ]*", ".*"}


@dataclass(frozen=True)
class _Atom:
    """One literal character of a template, or one space-free part of a value: `variable` >= 0
    and `pattern` the part's regex (`spaced`: a value that may hold any number of spaces)."""

    char: str = ""
    variable: int = -1
    pattern: str = ""
    spaced: bool = False


def _atoms(compiled: CompiledTemplate) -> list[_Atom]:
    atoms: list[_Atom] = []
    for index, variable in enumerate(compiled.variables):
        atoms.extend(_Atom(char) for char in compiled.literals[index])
        capture = compiled.captures[index]
        parts = _VALUE_PARTS.get(variable, (capture,))
        spaced = variable not in _VALUE_PARTS and capture not in _SPACE_FREE_CAPTURES
        for number, pattern in enumerate(parts):
            if number:
                atoms.append(_Atom(" "))
            atoms.append(_Atom(variable=index, pattern=pattern, spaced=spaced))
    atoms.extend(_Atom(char) for char in compiled.literals[-1])
    return atoms


def _split(atoms: list[_Atom]) -> list[list[_Atom]]:
    """Atoms cut at literal spaces outside quotes."""
    pieces: list[list[_Atom]] = [[]]
    quoted = False
    for atom in atoms:
        quoted ^= atom.char == '"'
        if atom.char == " " and not quoted:
            pieces.append([])
        else:
            pieces[-1].append(atom)
    return pieces


class _NoPlanError(Exception):
    """The template's values cannot be found by splitting at spaces."""


def _cell_pattern(atoms: list[_Atom]) -> str | None:
    """The regex a cell's text matches when the line matches the template (None: any text)."""
    if len(atoms) == 1 and atoms[0].pattern in _ANY_CELL:
        return None
    return "".join(
        f"(?:{atom.pattern})" if atom.variable >= 0 else _escape(atom.char) for atom in atoms
    )


@dataclass
class _CsvPlan:
    """How DuckDB's CSV reader (space-separated, `"` quotes) splits a line of a template.

    `parts` holds each variable's value parts (SQL over the columns `c0`, `c1`, ... and the
    words `w0`, `w1`, ... of quoted columns), `checks` the regexes the columns match exactly
    when the line matches the template's (spaces occur only where the template has them, so
    they fix where each value starts and ends), and `lengths` the line's byte length rebuilt
    from the columns.
    """

    columns: list[str] = field(default_factory=list)
    words: dict[str, str] = field(default_factory=dict)
    parts: dict[int, list[str]] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    lengths: list[str] = field(default_factory=list)

    def value(self, variable: int) -> str:
        """A variable's value: its parts joined by the spaces between them."""
        return " || ' ' || ".join(self.parts[variable])

    def length(self) -> str:
        """The line's byte length: its cells, quotes and separating spaces (an empty cell is
        NULL; adding up without `coalesce` first is faster, and empty cells are rare)."""
        separators = len(self.columns) - 1
        fast = " + ".join(self.lengths)
        slow = " + ".join(f"coalesce({length}, 0)" for length in self.lengths)
        return f"coalesce({fast}, {slow}) + {separators}"

    def _part(self, cell: str, atoms: list[_Atom]) -> None:
        """The value part between a cell's literal prefix and suffix."""
        held = [position for position, atom in enumerate(atoms) if atom.variable >= 0]
        if not held:
            return
        if len(held) > 1 or (atoms[held[0]].spaced and len(atoms) > 1):
            raise _NoPlanError
        prefix, suffix = held[0], len(atoms) - held[0] - 1
        if prefix or suffix:
            cell = f"{cell}[{prefix + 1}:{-suffix - 1}]"
        self.parts.setdefault(atoms[held[0]].variable, []).append(f"coalesce({cell}, '')")

    def column(self, atoms: list[_Atom]) -> None:
        name = f"c{len(self.columns)}"
        self.columns.append(name)
        self.lengths.append(f"strlen({name})")
        quotes = [position for position, atom in enumerate(atoms) if atom.char == '"']
        if quotes:
            if quotes != [0, len(atoms) - 1] or len(atoms) < 2:
                raise _NoPlanError
            self.lengths.append("2")  # the quotes
            atoms = atoms[1:-1]
        if any(atom.spaced for atom in atoms) and len(atoms) > 1:
            raise _NoPlanError  # a value with spaces must fill its column alone
        pattern = _cell_pattern(atoms)
        if pattern is not None:
            self.checks.append(f"regexp_full_match(coalesce({name}, ''), {sql_text(pattern)})")
        words = _split(atoms) if quotes else [atoms]
        if len(words) == 1:
            self._part(name, atoms)
            return
        self.words[name] = f"w{len(self.words)}"
        for number, word in enumerate(words, start=1):
            self._part(f"{self.words[name]}[{number}]", word)


def _csv_plan(compiled: CompiledTemplate) -> _CsvPlan | None:
    """The CSV reading of a template, or None when a value may hold a space that would split
    a column, or a quote sits inside a column."""
    plan = _CsvPlan()
    try:
        for atoms in _split(_atoms(compiled)):
            plan.column(atoms)
    except _NoPlanError:
        return None
    return plan


def template_bulk_scans(path: Path, compiled: CompiledTemplate) -> list[BulkScan]:
    """Whole-file reads of a text template, fastest first.

    CSV: DuckDB's CSV reader splits each line at spaces outside quotes, the fastest way to
    fields. A line is one the template's regex matches when each cell holds its literals and
    each value matches its pattern (spaces occur only in literals, so they fix where values
    start and end); the lines' lengths rebuilt from the cells must add up to the file's bytes,
    so no quote, escape or carriage return was lost on the way. Lines: each line whole, the
    regex's groups extracted in DuckDB; this one reads any file the template fits.
    """
    source = path_literal(path)
    if source is None:
        return []
    pattern = sql_text(compiled.rust_pattern.replace("(?<", "(?P<"))
    present = frozenset(compiled.group_columns.values())
    constants = (
        "NULL::BIGINT AS event_at_ms, NULL::VARCHAR AS log_group, NULL::VARCHAR AS log_stream"
    )
    scans = []
    plan = _csv_plan(compiled)
    if plan is not None:
        types = ", ".join(f"{sql_text(name)}: 'VARCHAR'" for name in plan.columns)
        reader = (
            f"read_csv({source}, columns = {{{types}}}, delim = ' ', quote = '\"', "
            "header = false, auto_detect = false, strict_mode = true, new_line = '\\n')"
        )
        fields = ", ".join(
            f"{plan.value(index)} AS {sql_name(compiled.group_columns[group])}"
            for index, group in enumerate(compiled.groups)
            if group is not None
        )
        first, last = plan.columns[0], plan.columns[-1]
        edges = f"coalesce(ascii({first}) <= 32 OR ascii(right({last}, 1)) <= 32, false)"
        words = "".join(
            f", string_split({column}, ' ') AS {word}" for column, word in plan.words.items()
        )
        relation = (
            f"(SELECT {constants}, {plan.length()} AS _bytes, "
            f"NOT ({' AND '.join(plan.checks) or 'true'}) AS _unmatched, "
            f"{edges} AS _ambiguous, {fields} FROM (SELECT *{words} FROM {reader}))"
        )
        scans.append(BulkScan(relation, present, ("_bytes", "_unmatched", "_ambiguous")))
    names = "[" + ", ".join(sql_text(group) for group in compiled.group_columns) + "]"
    fields = ", ".join(
        f"_re.{sql_name(group)} AS {sql_name(column)}"
        for group, column in compiled.group_columns.items()
    )
    blank = (
        "CASE WHEN line IS NULL THEN true WHEN ascii(line) > 32 THEN false "
        f"ELSE trim(line, {sql_text(_WHITESPACE)}) = '' END"
    )
    lines = (
        f"SELECT line AS message, coalesce(strlen(line), 0) AS _bytes, {blank} AS _blank, "
        f"NOT coalesce(regexp_full_match(line, {pattern}), false) AS _unmatched "
        f"FROM {RAW_LINES.format(path=source)}"
    )
    relation = (
        f"(SELECT {constants}, message, _bytes, _blank, _unmatched, {fields} FROM "
        f"(SELECT *, CASE WHEN NOT _unmatched THEN regexp_extract(message, {pattern}, {names}) "
        f"END AS _re FROM ({lines})))"
    )
    scans.append(BulkScan(relation, present, ("message", "_bytes", "_blank", "_unmatched")))
    return scans


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
            raw,
            source_file=self._context.source_file,
            api_type=self._context.api_type,
            labels=source_labels(self._context.options),
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

    def bulk_scans(self, path: Path, sample: Sample, context: ParseContext) -> list[BulkScan]:
        """Whole-file reads of the preset most of the first lines match (XML: none, its values
        need unescaping)."""
        if self._xml:
            return []
        lines = [m for m in sample.messages if m.strip()][:50]
        scores = [sum(c.matches(line) for line in lines) for c in self._compiled]
        return template_bulk_scans(path, self._compiled[scores.index(max(scores))])


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

    def bulk_scans(self, path: Path, sample: Sample, context: ParseContext) -> list[BulkScan]:
        if self._json_keys is not None:
            from apigw_analytics.ingest.formats.access_json import JsonAccessFormat

            return JsonAccessFormat(key_columns=self._json_keys).bulk_scans(path, sample, context)
        if "<" in self._compiled.template:
            return []
        return template_bulk_scans(path, self._compiled)
