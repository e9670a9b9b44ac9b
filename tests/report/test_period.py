"""Report periods: bounds, names, and the last complete period before a pinned clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apigw_analytics.errors import ConfigError
from apigw_analytics.report.period import (
    PERIOD_KINDS,
    last_complete_period,
    period_containing,
)


@pytest.mark.parametrize(
    ("kind", "day", "name", "start", "end"),
    [
        ("day", date(2026, 11, 2), "2026-11-02", date(2026, 11, 2), date(2026, 11, 3)),
        ("week", date(2026, 11, 4), "2026-W45", date(2026, 11, 2), date(2026, 11, 9)),
        ("week", date(2027, 1, 1), "2026-W53", date(2026, 12, 28), date(2027, 1, 4)),
        ("month", date(2026, 12, 31), "2026-12", date(2026, 12, 1), date(2027, 1, 1)),
        ("month", date(2028, 2, 29), "2028-02", date(2028, 2, 1), date(2028, 3, 1)),
    ],
)
def test_period_bounds_and_name(kind, day, name, start, end) -> None:
    period = period_containing(kind, day)
    assert period.name == name
    assert period.start == datetime(start.year, start.month, start.day, tzinfo=UTC)
    assert period.end == datetime(end.year, end.month, end.day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "now", "name"),
    [
        ("day", datetime(2026, 11, 24, 0, 0, tzinfo=UTC), "2026-11-23"),
        ("day", datetime(2026, 11, 24, 23, 59, tzinfo=UTC), "2026-11-23"),
        ("week", datetime(2026, 11, 23, 6, 0, tzinfo=UTC), "2026-W47"),
        ("month", datetime(2026, 1, 15, tzinfo=UTC), "2025-12"),
    ],
)
def test_last_complete_period_before_now(kind, now, name) -> None:
    period = last_complete_period(kind, now)
    assert period.name == name
    assert period.end <= now


def test_unknown_period_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown period 'year'"):
        period_containing("year", date(2026, 1, 1))


@given(
    kind=st.sampled_from(PERIOD_KINDS),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
)
def test_periods_hold_their_day_and_tile_time(kind: str, day: date) -> None:
    period = period_containing(kind, day)
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert period.start <= midnight < period.end
    following = period_containing(kind, period.end.date())
    assert following.start == period.end
    assert following.name != period.name
    assert period_containing(kind, (period.end - timedelta(days=1)).date()) == period
