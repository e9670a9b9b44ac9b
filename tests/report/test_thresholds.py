"""Threshold parsing and checking: what breaches, what cannot, and one-line errors."""

from __future__ import annotations

import polars as pl
import pytest

from apigw_analytics.errors import ConfigError
from apigw_analytics.report.thresholds import check_thresholds, parse_thresholds

HEALTH = pl.DataFrame(
    {
        "api_id": ["b", "a"],
        "stage": ["prod", "prod"],
        "requests": [10, 1000],
        "server_error_rate": [0.5, 0.001],
        "latency_p99_ms": [None, 900.0],
    },
    schema_overrides={"latency_p99_ms": pl.Float64},
)


def test_parse_thresholds() -> None:
    assert parse_thresholds(["max_5xx_rate=0.01", "min_requests=5"]) == {
        "max_5xx_rate": 0.01,
        "min_requests": 5.0,
    }


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("max_5xx_rate", "expects NAME=VALUE"),
        ("nope=1", "unknown threshold 'nope'; known: max_5xx_rate"),
        ("max_5xx_rate=lots", "not a number: 'lots'"),
    ],
)
def test_bad_thresholds_are_config_errors(pair: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_thresholds([pair])


def test_maximum_breaches_per_stage_in_stable_order() -> None:
    checks = check_thresholds({"max_5xx_rate": 0.01}, HEALTH)
    assert [(c.where, c.breached) for c in checks] == [("a / prod", False), ("b / prod", True)]


def test_missing_value_cannot_breach() -> None:
    checks = check_thresholds({"max_p99_latency_ms": 500}, HEALTH)
    assert [(c.where, c.value, c.breached) for c in checks] == [
        ("a / prod", 900.0, True),
        ("b / prod", None, False),
    ]


def test_min_requests_checks_the_total_even_with_no_rows() -> None:
    empty = HEALTH.clear()
    (check,) = check_thresholds({"min_requests": 1}, empty)
    assert (check.where, check.value, check.breached) == ("all APIs", 0.0, True)
    by_stage = check_thresholds({"min_requests": 100}, HEALTH)
    assert [(c.where, c.breached) for c in by_stage] == [
        ("all APIs", False),
        ("a / prod", False),
        ("b / prod", True),
    ]
