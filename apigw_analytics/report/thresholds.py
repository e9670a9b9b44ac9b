"""Thresholds that decide the report job's exit code, checked per API and stage.

A cron job or systemd timer only notices a failed run, so a breached threshold must show in the
exit code (THRESHOLD_EXIT_CODE), not just in the report. Each threshold reads one column of the
`health_summary` question; `min_requests` reads the period's total as well, because a stage
that logged nothing has no row to check (a silent log pipeline is the breach to catch).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from apigw_analytics.errors import ConfigError, chosen

THRESHOLD_EXIT_CODE = 5


@dataclass(frozen=True)
class ThresholdSpec:
    """A limit on one health_summary column: a breach is a value above a maximum (or below a
    minimum)."""

    column: str
    is_maximum: bool
    meaning: str


THRESHOLDS: dict[str, ThresholdSpec] = {
    "max_5xx_rate": ThresholdSpec("server_error_rate", True, "share of requests answered 5xx"),
    "max_4xx_rate": ThresholdSpec("client_error_rate", True, "share of requests answered 4xx"),
    "max_throttle_rate": ThresholdSpec("throttled_rate", True, "share of requests answered 429"),
    "max_p99_latency_ms": ThresholdSpec("latency_p99_ms", True, "p99 of latency_ms"),
    "min_requests": ThresholdSpec("requests", False, "requests in the period"),
}


@dataclass(frozen=True)
class ThresholdCheck:
    """One threshold applied to one row (`where` names the API and stage, or the period)."""

    name: str
    limit: float
    where: str
    value: float | None
    breached: bool


def parse_thresholds(pairs: list[str]) -> dict[str, float]:
    """`NAME=VALUE` pairs into limits; an unknown name or a value that is not a number is a
    ConfigError naming what is accepted."""
    limits: dict[str, float] = {}
    for pair in pairs:
        name, separator, text = pair.partition("=")
        if not separator:
            raise ConfigError(f"--threshold expects NAME=VALUE, got {pair!r}")
        chosen(THRESHOLDS, name.strip(), "threshold")
        try:
            limits[name.strip()] = float(text)
        except ValueError:
            raise ConfigError(f"--threshold {name.strip()}: not a number: {text!r}") from None
    return limits


def check_thresholds(limits: dict[str, float], health: pl.DataFrame) -> list[ThresholdCheck]:
    """Every limit against every API and stage of the period, in a stable order. A NULL value
    (no latency logged, say) cannot breach."""
    checks = []
    for name, limit in sorted(limits.items()):
        spec = THRESHOLDS[name]
        if name == "min_requests":
            total = float(health["requests"].sum()) if health.height else 0.0
            checks.append(ThresholdCheck(name, limit, "all APIs", total, total < limit))
        for row in health.sort("api_id", "stage", nulls_last=True).iter_rows(named=True):
            value = row[spec.column]
            breached = value is not None and (value > limit if spec.is_maximum else value < limit)
            where = f"{row['api_id'] or '(unknown api)'} / {row['stage'] or '(unknown stage)'}"
            checks.append(ThresholdCheck(name, limit, where, value, breached))
    return checks
