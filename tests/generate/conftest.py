"""Generated runs shared by the generator tests (session-scoped: each is built once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apigw_analytics.generate.output import write_run
from apigw_analytics.generate.run import GeneratedRun, generate_run
from apigw_analytics.generate.scenarios import scenario_named
from apigw_analytics.ingest.pipeline import IngestSummary, ingest_paths

SHORT_S = 1500.0


@pytest.fixture(scope="session")
def runs() -> dict[str, GeneratedRun]:
    """Every component scenario over 25 minutes (their stories happen in that window)."""
    names = ("method-burst", "key-limits", "slow-backend", "cache-ttl", "canary", "authorizer")
    return {name: generate_run(scenario_named(name), duration_s=SHORT_S, rps=8.0) for name in names}


class Ingested:
    """A run written to disk and ingested into its own warehouse."""

    def __init__(self, run: GeneratedRun, root: Path) -> None:
        self.run = run
        self.out = root / "out"
        self.data = root / "warehouse"
        self.written = write_run(run, self.out)
        self.summary: IngestSummary = ingest_paths([self.out], self.data)


@pytest.fixture(scope="session")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    """The incident day from 07:00 to 14:00 (every story), written and ingested."""
    from dataclasses import replace
    from datetime import timedelta

    day = scenario_named("incident-day")
    bursts = tuple(replace(b, start_s=b.start_s - 7 * 3600) for b in day.traffic.bursts)
    window = replace(
        day, start=day.start + timedelta(hours=7), traffic=replace(day.traffic, bursts=bursts)
    )
    run = generate_run(window, duration_s=7 * 3600.0, rps=0.5)
    return Ingested(run, tmp_path_factory.mktemp("incident"))
