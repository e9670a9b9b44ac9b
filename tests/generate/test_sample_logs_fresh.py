"""`sample_logs/` is exactly what its README's command generates, byte for byte."""

from __future__ import annotations

from pathlib import Path

from apigw_analytics.generate.output import write_run
from apigw_analytics.generate.run import generate_run
from apigw_analytics.generate.scenarios import scenario_named

SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"
COMMAND = "apigw-analyze generate --scenario incident-day --rps 0.1 --out sample_logs"


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "README.md"
    }


def test_readme_names_the_command() -> None:
    assert COMMAND in (SAMPLE_LOGS / "README.md").read_text()


def test_sample_logs_are_the_generated_incident_day(tmp_path: Path) -> None:
    write_run(generate_run(scenario_named("incident-day"), rps=0.1), tmp_path)
    fresh, committed = _files(tmp_path), _files(SAMPLE_LOGS)
    assert sorted(fresh) == sorted(committed)
    changed = [name for name in fresh if fresh[name] != committed[name]]
    assert not changed, f"regenerate with: {COMMAND}"
