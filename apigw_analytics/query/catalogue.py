"""The catalogue of questions: one `.sql` file each, with a header that declares its parameters.

A question file starts with a header of `--` comments:

    -- title: Overview: traffic, errors and latency
    -- grain: one row per api_id, stage and interval
    -- param start timestamp = 1970-01-01: window start, inclusive (UTC)
    -- param api string: API id; every API when omitted
    -- param period DAY|WEEK|MONTH = DAY: quota period
    -- any other comment line: notes (heuristics, limits), shown by `query --list`

Types are `timestamp`, `string`, `integer`, `float`, or a `A|B|C` choice. A parameter without
a default is optional and binds as NULL. Values are converted here and bound by DuckDB as named
parameters (`$start`); they are never spliced into the SQL text, so a value cannot change a
query's meaning, and the header is the one place a reader learns what a question accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources

import duckdb

from apigw_analytics.errors import QueryError

SQL_PACKAGE = "apigw_analytics.query.sql"
SCALAR_TYPES = ("timestamp", "string", "integer", "float")
_PARAM_LINE = re.compile(r"^param\s+(\w+)\s+(\S+)(?:\s*=\s*(\S+))?\s*:\s*(.+)$")
_PLACEHOLDER = re.compile(r"\$([A-Za-z_]\w*)")
_NOT_CODE = (duckdb.token_type.comment, duckdb.token_type.string_const)


@dataclass(frozen=True)
class Parameter:
    """One declared parameter: its name, type, default (None = optional) and meaning."""

    name: str
    type_name: str
    default: str | None
    description: str

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self.type_name.split("|")) if "|" in self.type_name else ()

    def convert(self, value: object, query_name: str) -> object:
        """The Python value to bind for a user's value (text from the CLI, or a Python object)."""
        if value is None:
            return None
        try:
            return _convert(self, value)
        except (ValueError, TypeError):
            expected = f"one of {', '.join(self.choices)}" if self.choices else self.type_name
            raise QueryError(
                f"query '{query_name}': parameter '{self.name}' expects {expected}, got {value!r}"
            ) from None


def _parse_timestamp(value: object) -> datetime:
    """A UTC datetime without tzinfo (DuckDB compares it with TIMESTAMPTZ columns in UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise TypeError(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _convert(parameter: Parameter, value: object) -> object:
    if parameter.choices:
        text = str(value).strip().upper()
        if text not in parameter.choices:
            raise ValueError(value)
        return text
    if parameter.type_name == "timestamp":
        return _parse_timestamp(value)
    if parameter.type_name == "integer":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise TypeError(value)
        return int(value) if not isinstance(value, str) else int(value.strip())
    if parameter.type_name == "float":
        if isinstance(value, bool):
            raise TypeError(value)
        return float(value)
    if not isinstance(value, str):
        raise TypeError(value)
    return value


@dataclass(frozen=True)
class QuerySpec:
    """One question: its file name (without .sql), header and SQL text."""

    name: str
    title: str
    grain: str
    parameters: tuple[Parameter, ...]
    notes: str
    sql: str

    def parameter(self, name: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        accepted = ", ".join(p.name for p in self.parameters)
        raise QueryError(f"query '{self.name}' has no parameter '{name}'; accepted: {accepted}")

    def bind(self, values: Mapping[str, object] | None = None) -> dict[str, object]:
        """Every declared parameter converted to its type: given values, else defaults."""
        given = dict(values or {})
        for name in given:
            self.parameter(name)
        return {p.name: p.convert(given.get(p.name, p.default), self.name) for p in self.parameters}


def _placeholders(text: str) -> set[str]:
    """Parameter names the SQL uses, ignoring `$` in comments and string literals.

    DuckDB's own tokenizer says where comments and strings are, so a note such as `costs $5`
    or a literal `'$x'` is never taken for a parameter.
    """
    tokens = duckdb.tokenize(text)
    ends = [start for start, _ in tokens[1:]] + [len(text)]
    code = "".join(
        " " * (end - start) if kind in _NOT_CODE else text[start:end]
        for (start, kind), end in zip(tokens, ends, strict=True)
    )
    return set(_PLACEHOLDER.findall(code))


def parse_query(name: str, text: str) -> QuerySpec:
    """Read a question file's header; a file without title, grain or a time window is an error."""
    fields: dict[str, str] = {}
    parameters: list[Parameter] = []
    notes: list[str] = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        comment = line[2:].strip()
        key, _, rest = comment.partition(":")
        if (match := _PARAM_LINE.match(comment)) is not None:
            param_name, type_name, default, description = match.groups()
            if "|" not in type_name and type_name not in SCALAR_TYPES:
                raise QueryError(f"{name}.sql: parameter '{param_name}' has unknown type")
            parameters.append(Parameter(param_name, type_name, default, description.strip()))
        elif key in ("title", "grain") and key not in fields:
            fields[key] = rest.strip()
        else:
            notes.append(comment)
    missing = [key for key in ("title", "grain") if key not in fields]
    declared = {p.name for p in parameters}
    if missing or not {"start", "end"} <= declared:
        raise QueryError(f"{name}.sql: header lacks {missing or 'the start/end parameters'}")
    used = _placeholders(text)
    if used != declared:
        raise QueryError(
            f"{name}.sql: parameters used {sorted(used)} differ from declared {sorted(declared)}"
        )
    return QuerySpec(
        name, fields["title"], fields["grain"], tuple(parameters), "\n".join(notes).strip(), text
    )


@cache
def catalogue() -> dict[str, QuerySpec]:
    """Every question shipped in the package, by name, in name order."""
    files = resources.files(SQL_PACKAGE)
    specs = {}
    for entry in sorted(files.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".sql"):
            name = entry.name.removesuffix(".sql")
            specs[name] = parse_query(name, entry.read_text(encoding="utf-8"))
    return specs


def get_query(name: str) -> QuerySpec:
    """The question called `name` (hyphens accepted for underscores)."""
    specs = catalogue()
    spec = specs.get(name.replace("-", "_"))
    if spec is None:
        raise QueryError(f"unknown query '{name}'; known queries: {', '.join(specs)}")
    return spec
