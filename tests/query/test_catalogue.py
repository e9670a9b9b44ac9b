"""The catalogue's headers and parameter binding: what is accepted and the one-line refusals."""

from __future__ import annotations

from datetime import datetime

import pytest

from apigw_analytics.errors import QueryError
from apigw_analytics.query.catalogue import catalogue, get_query, parse_query

COMMON = {"start", "end", "api", "stage", "route", "api_key"}


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_every_query_has_a_header_and_the_common_filters(name: str) -> None:
    spec = catalogue()[name]
    assert spec.title and spec.grain
    assert {p.name for p in spec.parameters} >= COMMON
    assert "ORDER BY" in spec.sql.upper()


def test_a_file_without_a_header_is_refused() -> None:
    with pytest.raises(QueryError, match="lacks"):
        parse_query("bare", "SELECT 1 FROM requests WHERE requested_at >= $start")


def test_a_file_whose_placeholders_differ_from_its_header_is_refused() -> None:
    text = (
        "-- title: t\n-- grain: g\n-- param start timestamp = 2024-01-01: s\n"
        "-- param end timestamp = 2025-01-01: e\nSELECT $start, $end, $stage"
    )
    with pytest.raises(QueryError, match="differ"):
        parse_query("odd", text)


def test_a_dollar_in_a_comment_or_a_string_is_not_a_parameter() -> None:
    text = (
        "-- title: t\n-- grain: g\n-- param start timestamp = 2024-01-01: s\n"
        "-- param end timestamp = 2025-01-01: e\n-- a key costs $5 a month\n"
        "SELECT '$price' AS label, $start, $end -- until $later\n/* $block */"
    )
    assert {p.name for p in parse_query("priced", text).parameters} == {"start", "end"}


def test_values_are_converted_to_their_declared_types() -> None:
    bound = get_query("api-key-usage").bind(
        {"start": "2024-05-01T02:00:00+02:00", "period": "week", "quota_limit": "500"}
    )
    assert bound["start"] == datetime(2024, 5, 1, 0, 0)
    assert bound["end"] == datetime(9999, 12, 31)
    assert bound["period"] == "WEEK"
    assert bound["quota_limit"] == 500
    assert bound["api"] is None


@pytest.mark.parametrize(
    ("name", "values", "message"),
    [
        ("nope", {}, "unknown query 'nope'; known queries: api_key_usage"),
        ("overview", {"colour": "red"}, "has no parameter 'colour'; accepted: start, end"),
        ("overview", {"start": "yesterday"}, "'start' expects timestamp"),
        ("overview", {"interval_s": "1.5"}, "'interval_s' expects integer"),
        ("api_key_usage", {"period": "YEAR"}, "expects one of DAY, WEEK, MONTH"),
        ("near_timeout_routes", {"warn_share": "most"}, "'warn_share' expects float"),
    ],
)
def test_bad_names_and_values_give_one_clear_line(name, values, message) -> None:
    with pytest.raises(QueryError, match=message) as raised:
        get_query(name).bind(values)
    assert "\n" not in str(raised.value)
